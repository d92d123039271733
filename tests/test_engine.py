"""The batched GD engine: hand-derived gradients, masking, divergence, batching invariance."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from deeplinear.numerics import engine, run_status


def _problem(rng, n_members=3, n=7, d=5, k=2, widths=(4, 6), data_scale=None):
    dims = [d, *widths, k]
    weights = [
        torch.tensor(rng.standard_normal((n_members, dims[i + 1], dims[i])) / np.sqrt(dims[i]))
        for i in range(len(dims) - 1)
    ]
    X = torch.tensor(rng.standard_normal((n_members, n, d)))
    if data_scale is not None:
        X = X * torch.tensor(data_scale).view(-1, 1, 1)
    Y = torch.tensor(rng.standard_normal((n_members, n, k)))
    return weights, engine.Regression(X, Y)


@pytest.mark.parametrize("widths", [(), (4,), (6, 3), (5, 8, 2)])
@pytest.mark.parametrize(("scale", "weight"), [(1.0, 1.0), (0.37, 1 / 7)])
def test_gradients_match_autograd(rng, widths, scale, weight):
    weights, data = _problem(rng, widths=widths)
    data.weight = weight
    loss, grads, _ = engine.loss_and_gradients(weights, data, scale)
    leaves = [w.clone().requires_grad_(True) for w in weights]
    beta = engine.end_to_end(leaves, scale)
    auto_loss = engine.loss_from_residual(engine.residual(beta, data), weight)
    auto = torch.autograd.grad(auto_loss.sum(), leaves)
    torch.testing.assert_close(loss, auto_loss.detach(), rtol=1e-13, atol=0)
    for g, a in zip(grads, auto, strict=True):
        torch.testing.assert_close(g, a, rtol=1e-12, atol=1e-14)


def test_gradients_from_g_equal_loss_and_gradients(rng):
    weights, data = _problem(rng, widths=(4, 6))
    _, grads, beta = engine.loss_and_gradients(weights, data)
    G = data.weight * (engine.residual(beta, data).transpose(-1, -2) @ data.X)
    for a, b in zip(engine.gradients(weights, G), grads, strict=True):
        torch.testing.assert_close(a, b)


def test_factored_norm_equals_dense_norm(rng):
    left = torch.tensor(rng.standard_normal((3, 9, 2)))
    right = torch.tensor(rng.standard_normal((3, 2, 5)))
    torch.testing.assert_close(engine.factored_norm_sq(left, right), (left @ right).square().sum(dim=(-2, -1)))
    torch.testing.assert_close(engine.factored_norm_sq(None, right), right.square().sum(dim=(-2, -1)))


def test_one_step_is_plain_gradient_descent(rng):
    weights, data = _problem(rng, widths=(4, 6))
    lrs = [0.01, 0.02, 0.03]
    _, grads, _ = engine.loss_and_gradients(weights, data)
    result = engine.train(weights, data, lrs, steps=1)
    for w0, g, lr, w1 in zip(weights, grads, lrs, result.weights, strict=True):
        torch.testing.assert_close(w1, w0 - lr * g, rtol=1e-13, atol=1e-15)
    assert result.steps.tolist() == [0, 1]


def test_members_stop_at_their_own_target(rng):
    # per-member targets: member 0 can reach 1e-6 (n < d, so zero loss is attainable); a
    # negative target is unreachable, so members 1 and 2 run to the step cap
    weights, data = _problem(rng, n_members=3, n=3, d=5, widths=(8,))
    target = 1e-6
    result = engine.train(
        weights, data, 0.05, steps=3000, target_loss=torch.tensor([target, -1.0, -1.0]), check_every=16
    )
    assert result.status[0] == run_status.CONVERGED
    assert result.status[1] == run_status.CAPPED
    stop = result.stop_step[0]
    assert 0 < stop < 3000
    loss = result.metrics["loss"][:, 0]
    logged_after = result.steps >= stop
    # frozen after the stop: every later logged loss equals the loss at the stop, which is <= target
    assert np.all(loss[logged_after] == loss[logged_after][0])
    assert loss[logged_after][0] <= target
    assert result.stop_step[1] == 3000


def test_logged_loss_after_every_member_stopped_is_the_loss_at_the_stop(rng):
    """All members stop between two logged steps (the loop then ends early): every later logged
    loss is the loss of the stopped weights, not the last value logged before the stop."""
    weights, data = _problem(rng, n_members=2, n=3, d=5, widths=(8,))
    log_steps = np.array([0, 5, 3000])
    result = engine.train(weights, data, 0.05, steps=3000, target_loss=1e-6, log_steps=log_steps, check_every=16)
    assert (result.status == run_status.CONVERGED).all()
    assert np.all(result.stop_step > 5)
    stopped = [w.clone() for w in result.weights]
    res = engine.residual(engine.end_to_end(stopped), data)
    np.testing.assert_array_equal(result.metrics["loss"][-1], engine.loss_from_residual(res).numpy())
    assert result.steps.tolist() == [0, 5, 3000]


def test_divergence_is_flagged_not_raised(rng):
    weights, data = _problem(rng, n_members=2, n=6, d=4, widths=(5,), data_scale=[1.0, 30.0])
    result = engine.train(weights, data, 0.05, steps=400)
    assert result.status.tolist() == [
        run_status.CAPPED,
        run_status.DIVERGED,
    ]
    assert result.stop_step[1] < 400
    assert np.all(np.isfinite(result.metrics["loss"][:, 0]))
    # the healthy member is unaffected by its diverging neighbour
    alone = engine.train([w[:1] for w in weights], engine.Regression(data.X[:1], data.Y[:1]), 0.05, steps=400)
    np.testing.assert_allclose(alone.metrics["loss"][:, 0], result.metrics["loss"][:, 0], rtol=1e-12)


def test_batching_does_not_change_a_member(rng):
    weights, data = _problem(rng, n_members=4)
    batched = engine.train(weights, data, 0.02, steps=200)
    for i in (0, 3):
        alone = engine.train(
            [w[i : i + 1] for w in weights], engine.Regression(data.X[i : i + 1], data.Y[i : i + 1]), 0.02, steps=200
        )
        torch.testing.assert_close(alone.weights[0][0], batched.weights[0][i], rtol=1e-12, atol=1e-14)


def test_member_step_factors_equal_separate_runs(rng):
    """One batch with per-member step factors (1, 0.5, 3) follows each member's own run at
    lr * factor; a member stopping at its target keeps its weights while the others go on."""
    weights, data = _problem(rng, n_members=3, n=3, d=5, widths=(6,))
    factors = [1.0, 0.5, 3.0]
    target = torch.tensor([1e-5, -1.0, -1.0])
    batched = engine.train(weights, data, 0.02, steps=600, member_lr_factor=torch.tensor(factors), target_loss=target)
    for i, factor in enumerate(factors):
        alone = engine.train(
            [w[i : i + 1] for w in weights],
            engine.Regression(data.X[i : i + 1], data.Y[i : i + 1]),
            0.02 * factor,
            steps=600,
            target_loss=target[i : i + 1],
        )
        assert alone.stop_step[0] == batched.stop_step[i]
        for w_alone, w_batched in zip(alone.weights, batched.weights, strict=True):
            torch.testing.assert_close(w_alone[0], w_batched[i], rtol=1e-12, atol=1e-14)
    assert batched.status[0] == run_status.CONVERGED


def test_prefix_products_end_in_the_end_to_end_matrix_bit_for_bit(rng):
    weights, _ = _problem(rng, widths=(4, 6, 3))
    assert torch.equal(engine.prefix_products(weights)[-1], engine.end_to_end(weights))


def test_grad_norm_metric_equals_dense_gradient_norm(rng):
    weights, data = _problem(rng, widths=(3, 4))
    result = engine.train(weights, data, 0.01, steps=0)
    _, grads, _ = engine.loss_and_gradients(weights, data)
    dense = sum(g.square().sum(dim=(-2, -1)) for g in grads).numpy()
    np.testing.assert_allclose(result.metrics["grad_norm_sq"][0], dense, rtol=1e-12)


@pytest.mark.parametrize(("total", "count"), [(0, 5), (1, 2), (10, 50), (20000, 40)])
def test_log_spaced_steps(total, count):
    steps = engine.log_spaced_steps(total, count)
    assert steps[0] == 0 and steps[-1] == total
    assert np.all(np.diff(steps) > 0)
    assert len(steps) <= max(count, 1) + 1


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked on GPU machines only"
)
def test_cuda_matches_cpu_in_float64(rng):
    weights, data = _problem(rng)
    cpu = engine.train(weights, data, 0.02, steps=300)
    cuda_data = engine.Regression(data.X.cuda(), data.Y.cuda())
    gpu = engine.train([w.cuda() for w in weights], cuda_data, 0.02, steps=300)
    # float64 on both; only the reduction order differs
    np.testing.assert_allclose(gpu.metrics["loss"], cpu.metrics["loss"], rtol=1e-10)


def test_set_deterministic_enables_the_flag_without_importing_inductor():
    """The jobs' start-up: the eager-mode determinism flag is on, and torch._inductor.config (about
    a second to import, only used by torch.compile) is not loaded. In a fresh interpreter."""
    code = (
        "import sys, torch; from deeplinear.numerics.devices import set_deterministic; set_deterministic(); "
        "print(torch.are_deterministic_algorithms_enabled(), 'torch._inductor.config' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_shared_problems_give_the_per_member_results():
    """Members grouped on shared data (members_per_problem = G) train exactly as with the data
    copied to every member: the same losses and weights to rounding."""
    rng = np.random.default_rng(7)
    P, G, n, d, k, h = 3, 4, 6, 5, 2, 7
    X = torch.as_tensor(rng.standard_normal((P, n, d)))
    Y = torch.as_tensor(rng.standard_normal((P, n, k)))
    W1 = torch.as_tensor(rng.standard_normal((P * G, h, d)) * 0.3)
    W2 = torch.as_tensor(rng.standard_normal((P * G, k, h)) * 0.3)
    copied = engine.Regression(X.repeat_interleave(G, 0), Y.repeat_interleave(G, 0))
    shared = engine.Regression(X, Y, members_per_problem=G)
    a = engine.train([W1.clone(), W2.clone()], copied, 1e-2, 50, log_steps=np.array([0, 25, 50]))
    b = engine.train([W1.clone(), W2.clone()], shared, 1e-2, 50, log_steps=np.array([0, 25, 50]))
    np.testing.assert_allclose(b.metrics["loss"], a.metrics["loss"], rtol=1e-12)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        torch.testing.assert_close(wb, wa, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="members_per_problem"):
        engine.Regression(X, Y, members_per_problem=0)
