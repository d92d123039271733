"""Tests of deeplinear.papers.min2021.experiments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplinear.numerics import engine, run_status, synthetic_data
from deeplinear.papers.min2021 import experiments, theory

from .common import setup_problem, train


def _rate_and_bounds(rng):
    n, D, m = rng.integers(1, 6), rng.integers(7, 12), rng.integers(1, 4)
    h = rng.integers(max(n, m), 15)
    s = np.exp(rng.normal(size=n))
    X = synthetic_data.matrix_with_singular_values(n, D, s, rng)
    Y = rng.normal(size=(n, m))
    U = rng.normal(size=(D, h)) * np.exp(rng.normal())
    V = rng.normal(size=(m, h)) * np.exp(rng.normal())
    phi1, _ = synthetic_data.row_space_basis(X)
    reg = engine.Regression(torch.tensor(X)[None], torch.tensor(Y)[None])
    loss, grads, _ = engine.loss_and_gradients([torch.tensor(U.T)[None], torch.tensor(V)[None]], reg)
    theta = synthetic_data.min_norm_solution(X, Y)
    excess = loss.item() - 0.5 * np.sum((X @ theta - Y) ** 2)
    rate = sum(g.square().sum() for g in grads).item() / excess
    U1, Vt = torch.tensor(phi1.T @ U)[None], torch.tensor(V)[None]
    eigs = theory.imbalance_spectrum(U1, Vt)
    svals = torch.linalg.svdvals(U1 @ Vt.transpose(-1, -2))
    lam_r = s.min() ** 2
    return (
        rate,
        theory.v2_rate_bound(eigs, svals, lam_r, n, m).item(),
        2 * lam_r * theory.rate_constant(eigs, n, m).item(),
    )


def test_u2_is_frozen(rng):
    p = setup_problem(rng)
    U_end, _, _ = train(p.U, p.V, p.reg, 1e-2, 5.0)
    U2_0 = p.phi2.T @ torch.tensor(p.U)
    drift = torch.linalg.matrix_norm(p.phi2.T @ U_end - U2_0) / torch.linalg.matrix_norm(U2_0)
    assert drift <= 1e-12  # claim M1's tolerance: rounding only


def test_min_norm_solution_is_exact(rng):
    X = rng.standard_normal((6, 15))
    Y = rng.standard_normal((6, 2))
    theta = synthetic_data.min_norm_solution(X, Y)
    np.testing.assert_allclose(X @ theta, Y, atol=1e-12)  # interpolates (n < D, full row rank)
    _, phi2 = synthetic_data.row_space_basis(X)
    np.testing.assert_allclose(phi2.T @ theta, 0.0, atol=1e-12)  # lies in the row space of X
    other = theta + phi2 @ rng.standard_normal((phi2.shape[1], 2))  # any other interpolant
    np.testing.assert_allclose(X @ other, Y, atol=1e-12)
    assert np.linalg.norm(other) > np.linalg.norm(theta)


def test_prop1_error_formula_at_convergence(rng):
    """At zero loss, U V^T - Theta_hat = Phi_2 U_2(0) V(inf)^T exactly (Prop. 1)."""
    p = setup_problem(rng, init_std=0.3)
    U_end, V_end, res = train(p.U, p.V, p.reg, 1e-2, 200.0, target=1e-26)
    assert res.status[0] == run_status.CONVERGED
    theta_hat = torch.tensor(synthetic_data.min_norm_solution(p.X, p.Y))
    predicted = p.phi2 @ (p.phi2.T @ torch.tensor(p.U)) @ V_end.T
    torch.testing.assert_close(U_end @ V_end.T - theta_hat, predicted, rtol=0, atol=1e-10)


def test_both_rate_bounds_hold_pointwise(rng):
    """-dL/dt / (L - L*) = ||grad L||^2 / (L - L*) under gradient flow; the v2 bound and the
    Theorem 1 rate 2 lambda_r(Sigma_x) c bound it from below at any point (relative slack 1e-9
    for rounding)."""
    for _ in range(200):
        rate, v2, thm1 = _rate_and_bounds(rng)
        assert rate >= v2 * (1 - 1e-9)
        assert v2 >= thm1 * (1 - 1e-9)  # the v2 bound refines Theorem 1


def test_balanced_init_is_balanced_with_the_same_product(rng):
    p = {"input_dim": 12, "width": 9, "output_dim": 2, "inits": [[0.4, 0.3], [1.0, 0.1]], "balanced_like": 1}
    U, V = experiments._imbalance_inits(p, rng)
    np.testing.assert_allclose(U[-1].T @ U[-1], V[-1].T @ V[-1], atol=1e-12)
    np.testing.assert_allclose(U[-1] @ V[-1].T, U[1] @ V[1].T, atol=1e-12)
    np.testing.assert_allclose(U[0] / 0.4, U[1] / 1.0)  # one Gaussian draw, rescaled per pair


def test_config_cross_checks_name_the_key():
    section = {"n_samples": 10, "input_dim": 5, "output_dim": 1, "widths": [8]}
    with pytest.raises(ValueError, match=r"min2021\.implicit_bias\.input_dim"):
        experiments.implicit_bias_cases(section)


def test_distance_is_the_initial_error_plus_the_part_training_adds(rng):
    """Prop. 1 split in two: U V^T - Theta_hat = Phi_2 U_2(0) V(0)^T + Phi_2 U_2(0) (V(inf) - V(0))^T
    at zero loss; the second term is what the datasets record as dynamics_error_norm (M4d)."""
    p = setup_problem(rng, init_std=0.3)
    U_end, V_end, res = train(p.U, p.V, p.reg, 1e-2, 200.0, target=1e-26)
    assert res.status[0] == run_status.CONVERGED
    theta_hat = torch.tensor(synthetic_data.min_norm_solution(p.X, p.Y))
    U2_0, V0 = p.phi2.T @ torch.tensor(p.U), torch.tensor(p.V)
    initial, trained = p.phi2 @ U2_0 @ V0.T, p.phi2 @ U2_0 @ (V_end - V0).T
    torch.testing.assert_close(U_end @ V_end.T - theta_hat, initial + trained, rtol=0, atol=1e-10)
    assert torch.linalg.matrix_norm(trained) > 1e-3 * torch.linalg.matrix_norm(initial)  # training moved V


def _two_layer_dataset(problems, U, V, **kwargs):
    """run_two_layer on two seeds, three members each, 30 GD steps with 6 logged."""
    from deeplinear.numerics.seeding import Streams
    from deeplinear.paper_api import JobContext
    from deeplinear.papers.min2021.two_layer_gd import MemberLayout, Schedule, run_two_layer

    ctx = JobContext("min2021", "imbalance", "test", {}, torch.device("cpu"), Streams(0, "min2021"))
    schedule = Schedule(0.05, 30, engine.log_spaced_steps(30, 6))
    layout = MemberLayout(3, ("seed", "init"), {"seed": [0, 1], "init": [0, 1, 2]}, {"lr": [0.05]})
    return run_two_layer(ctx, problems, U, V, schedule, layout, **kwargs)


def test_hidden_span_reduction_reproduces_the_full_width_run(rng):
    """GD of width h = 40 and of its exact width-(r + m) reduction (r = 4, m = 2): every recorded
    value agrees to rounding, the u2 drifts (rounding noise of size ~1e-16 in both) excepted."""
    from deeplinear.papers.min2021.two_layer_gd import SeedProblems, hidden_span_reduction

    n, D, m, h = 4, 9, 2, 40
    Xs = [synthetic_data.matrix_with_singular_values(n, D, np.linspace(1.0, 0.6, n), rng) for _ in range(2)]
    problems = SeedProblems(
        Xs,
        [rng.standard_normal((n, m)) for _ in Xs],
        *zip(*(synthetic_data.row_space_basis(X) for X in Xs), strict=True),
    )
    U, V = 0.3 * rng.standard_normal((6, D, h)), 0.3 * rng.standard_normal((6, m, h))
    full = _two_layer_dataset(problems, U, V)
    U_red, V_red, span = hidden_span_reduction(U, V, problems.phi1, problems.phi2, 3)
    assert U_red.shape == (6, D, n + m) and span.width == h
    phi1, phi2 = (np.repeat(np.stack(b), 3, axis=0) for b in (problems.phi1, problems.phi2))
    u2, u2_red = np.swapaxes(phi2, 1, 2) @ U, np.swapaxes(phi2, 1, 2) @ U_red
    np.testing.assert_allclose(span.u2_outside_sq + (u2_red**2).sum(axis=(1, 2)), (u2**2).sum(axis=(1, 2)))
    spectrum = lambda U_, V_, width=None: theory.imbalance_spectrum(  # noqa: E731
        torch.tensor(np.swapaxes(phi1, 1, 2) @ U_), torch.tensor(V_), width
    )
    np.testing.assert_allclose(spectrum(U_red, V_red, h), spectrum(U, V), atol=1e-12)
    reduced = _two_layer_dataset(problems, U_red, V_red, span=span)
    assert float(full["excess_loss"].isel(log_point=-1).max()) < 0.5 * float(
        full["excess_loss"].isel(log_point=0).min()
    )
    for name in full.data_vars:
        if name in ("u2_drift", "u2_final_drift"):
            assert float(reduced[name].max()) < 1e-13
            continue
        np.testing.assert_allclose(reduced[name].values, full[name].values, rtol=1e-9, atol=1e-12, err_msg=name)
