"""The deep reduction: the engine's GD on the same draws, the lazy sampler in law, and the rank
tolerance's effect on the error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from deeplinear.numerics import engine, synthetic_data
from deeplinear.numerics.krylov_deep import DenseOracle, EigenProblem, LazySampler, run_reduced
from deeplinear.numerics.stats import holm_rejections
from deeplinear.papers.duhu2019.experiments import init_weights
from deeplinear.papers.duhu2019.theory import output_scale, theorem_lr

D_IN, RANK = 8, 4


def _problem(seed: int = 0):
    g = np.random.default_rng(seed)
    X = synthetic_data.matrix_with_singular_values(16, D_IN, np.sqrt(synthetic_data.geometric_spectrum(RANK, 4.0)), g)
    Y = X @ synthetic_data.gaussian_matrix(1, D_IN, 1 / np.sqrt(D_IN), g).T
    return X, Y, EigenProblem.from_data(X, Y, RANK)


def _initial_matrices(weights, problem, width):
    """``Ŵ_i(0)``: the first layer on the input eigenbasis, the others divided by sqrt(m)."""
    return [weights[0] @ problem.basis] + [w / math.sqrt(width) for w in weights[1:]]


@pytest.mark.parametrize("depth", [4, 8])
def test_same_realisation_equals_the_engine(depth):
    """On the same Gaussian draws the reduced GD follows the engine's brute force (m = 256):
    the loss at every step to 1e-10 relative to loss(0), and the final map to 1e-10."""
    X, Y, problem = _problem()
    m, T = 256, 150
    weights = init_weights(depth, m, D_IN, 1, np.random.default_rng(depth))
    lr = theorem_lr(depth, 1, problem.lam[0])
    steps = np.arange(T + 1)
    ours = run_reduced(problem, depth, m, lr, T, DenseOracle(_initial_matrices(weights, problem, m)), log_steps=steps)
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    ref = engine.train(
        [torch.as_tensor(w)[None] for w in weights], reg, lr, T, scale=output_scale(m, depth, 1), log_steps=steps
    )
    ref_loss = ref.metrics["loss"][:, 0]
    assert np.max(np.abs(ours.loss - ref_loss)) <= 1e-10 * ref_loss[0]
    beta = output_scale(m, depth, 1) * engine.end_to_end(ref.weights)[0].numpy() @ problem.basis
    assert np.max(np.abs(ours.beta - beta)) <= 1e-10 * np.max(np.abs(beta))
    assert max(ours.sizes[1:-1]) < m  # the reduction is smaller than the network


def test_lazy_sampler_agrees_in_law_with_brute_force():
    """KS two-sample tests of the loss at t = 1, 3, 10, 30 and of the final map's first entry,
    lazy sampler vs dense Gaussian draws at m = 8, L = 3 (spaces fill up), 300 runs each; Holm at
    family-wise 0.01 must reject none (a false alarm has probability <= 0.01 at a fixed seed)."""
    _, _, problem = _problem()
    depth, m, T = 3, 8, 30
    lr = theorem_lr(depth, 1, problem.lam[0])
    steps = np.array([1, 3, 10, 30])

    def dense(g):
        weights = init_weights(depth, m, D_IN, 1, g)
        return run_reduced(
            problem, depth, m, lr, T, DenseOracle(_initial_matrices(weights, problem, m)), log_steps=steps
        )

    def lazy(g):
        return run_reduced(problem, depth, m, lr, T, LazySampler(g), log_steps=steps)

    n = 300
    a = [dense(np.random.default_rng([1, s])) for s in range(n)]
    b = [lazy(np.random.default_rng([2, s])) for s in range(n)]
    p = [sps.ks_2samp([r.loss[j] for r in a], [r.loss[j] for r in b]).pvalue for j in range(steps.size)]
    p.append(sps.ks_2samp([r.beta[0, 0] for r in a], [r.beta[0, 0] for r in b]).pvalue)
    assert not holm_rejections(p, 0.01).any(), p


def test_lazy_sampler_cost_is_flat_in_width_and_its_runs_converge():
    """At m = 10^3 and 10^7 a depth-8 run converges to 1e-12 of its initial loss with hidden
    bases far smaller than m, and no wider basis at the larger m."""
    _, _, problem = _problem()
    lr = theorem_lr(8, 1, problem.lam[0])
    sizes = {}
    for m in (10**3, 10**7):
        run = run_reduced(problem, 8, m, lr, 2000, LazySampler(np.random.default_rng(5)), target=1e-12, hits=(1e-6,))
        assert run.status == "converged" and 0 < run.hit_step[0] < run.stop_step
        sizes[m] = max(run.sizes[1:-1])
    assert sizes[10**7] <= sizes[10**3] < 200


def test_rank_tolerance_bounds_the_error():
    """A looser rank tolerance keeps fewer directions; the final map's error stays within
    100 x the tolerance (relative), and the basis shrinks as the tolerance grows."""
    _, _, problem = _problem()
    depth, m, T = 4, 256, 150
    weights = init_weights(depth, m, D_IN, 1, np.random.default_rng(1))
    lr = theorem_lr(depth, 1, problem.lam[0])
    A = _initial_matrices(weights, problem, m)
    exact = run_reduced(problem, depth, m, lr, T, DenseOracle(A), rank_tol=1e-14)
    sizes = []
    for tol in (1e-4, 1e-7, 1e-10):
        run = run_reduced(problem, depth, m, lr, T, DenseOracle(A), rank_tol=tol)
        err = np.max(np.abs(run.beta - exact.beta)) / np.max(np.abs(exact.beta))
        assert err <= 100 * tol, (tol, err)
        sizes.append(sum(run.sizes))
    assert sizes[0] < sizes[1] < sizes[2]
