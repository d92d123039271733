"""Min et al. (2021): invariants, the min-norm solution, the imbalance spectrum and both rate bounds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from deeplinear import data, engine
from deeplinear.papers import min2021 as M


def _setup(rng, n=5, D=20, h=30, m=2, init_std=0.5):
    X = data.matrix_with_singular_values(n, D, np.linspace(1.0, 0.5, n), rng)
    Y = rng.standard_normal((n, m))
    U = init_std * rng.standard_normal((D, h))
    V = init_std * rng.standard_normal((m, h))
    phi1, phi2 = data.row_space_basis(X)
    reg = engine.Regression(torch.tensor(X)[None], torch.tensor(Y)[None])
    return SimpleNamespace(X=X, Y=Y, U=U, V=V, phi1=torch.tensor(phi1), phi2=torch.tensor(phi2), reg=reg)


def _train(U, V, reg, lr, time, target=None):
    steps = round(time / lr)
    res = engine.train([torch.tensor(U.T)[None], torch.tensor(V)[None]], reg, lr, steps, target_loss=target)
    return res.weights[0][0].T, res.weights[1][0], res


def test_u2_is_frozen(rng):
    p = _setup(rng)
    U_end, _, _ = _train(p.U, p.V, p.reg, 1e-2, 5.0)
    U2_0 = p.phi2.T @ torch.tensor(p.U)
    drift = torch.linalg.matrix_norm(p.phi2.T @ U_end - U2_0) / torch.linalg.matrix_norm(U2_0)
    assert drift <= 1e-12  # claim M1's tolerance: rounding only


def test_imbalance_drift_is_first_order_in_eta(rng):
    """GD changes Lambda by eta^2 (A^T A - B^T B) per step, so the drift at fixed time is O(eta):
    drift(eta) = a eta + O(eta^2) and the ratio drift(eta)/drift(eta/2) = 2 + O(eta). With
    eta = 4e-3 the O(eta) correction is below 5% here; we allow 0.1."""
    p = _setup(rng)
    U1_0 = p.phi1.T @ torch.tensor(p.U)
    lam0 = M.imbalance_matrix(U1_0, torch.tensor(p.V))
    drifts = []
    for lr in (4e-3, 2e-3):
        U_end, V_end, _ = _train(p.U, p.V, p.reg, lr, 2.0)
        drifts.append(torch.linalg.matrix_norm(M.imbalance_matrix(p.phi1.T @ U_end, V_end) - lam0).item())
    assert drifts[0] / torch.linalg.matrix_norm(lam0).item() < 1e-2  # conserved up to O(eta)
    assert abs(drifts[0] / drifts[1] - 2.0) < 0.1


def test_min_norm_solution_is_exact(rng):
    X = rng.standard_normal((6, 15))
    Y = rng.standard_normal((6, 2))
    theta = data.min_norm_solution(X, Y)
    np.testing.assert_allclose(X @ theta, Y, atol=1e-12)  # interpolates (n < D, full row rank)
    _, phi2 = data.row_space_basis(X)
    np.testing.assert_allclose(phi2.T @ theta, 0.0, atol=1e-12)  # lies in the row space of X
    other = theta + phi2 @ rng.standard_normal((phi2.shape[1], 2))  # any other interpolant
    np.testing.assert_allclose(X @ other, Y, atol=1e-12)
    assert np.linalg.norm(other) > np.linalg.norm(theta)


def test_prop1_error_formula_at_convergence(rng):
    """At zero loss, U V^T - Theta_hat = Phi_2 U_2(0) V(inf)^T exactly (Prop. 1)."""
    p = _setup(rng, init_std=0.3)
    U_end, V_end, res = _train(p.U, p.V, p.reg, 1e-2, 200.0, target=1e-26)
    assert res.status[0] == engine.STATUS_CODES[engine.STATUS_CONVERGED]
    theta_hat = torch.tensor(data.min_norm_solution(p.X, p.Y))
    predicted = p.phi2 @ (p.phi2.T @ torch.tensor(p.U)) @ V_end.T
    torch.testing.assert_close(U_end @ V_end.T - theta_hat, predicted, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("r", "m", "h"), [(5, 2, 30), (5, 2, 7), (4, 3, 5), (1, 1, 1)])
def test_imbalance_spectrum_matches_dense_eigenvalues(rng, r, m, h):
    U1 = torch.tensor(rng.standard_normal((3, r, h)))
    V = torch.tensor(rng.standard_normal((3, m, h)))
    dense = torch.linalg.eigvalsh(M.imbalance_matrix(U1, V)).flip(-1)
    torch.testing.assert_close(M.imbalance_spectrum(U1, V), dense, rtol=0, atol=1e-10)


def test_gram_norms_match_dense(rng):
    U1_0, V_0 = (torch.tensor(rng.standard_normal((2, k, 40))) for k in (6, 2))
    U1 = U1_0 + 1e-3 * torch.tensor(rng.standard_normal(U1_0.shape))
    V = V_0 + 1e-3 * torch.tensor(rng.standard_normal(V_0.shape))
    lam0 = M.imbalance_matrix(U1_0, V_0)
    torch.testing.assert_close(M.imbalance_norm(U1_0, V_0), torch.linalg.matrix_norm(lam0))
    dense = torch.linalg.matrix_norm(M.imbalance_matrix(U1, V) - lam0)
    torch.testing.assert_close(M.imbalance_drift_norm(U1, V, U1_0, V_0), dense, rtol=1e-7, atol=0)


def _rate_and_bounds(rng):
    n, D, m = rng.integers(1, 6), rng.integers(7, 12), rng.integers(1, 4)
    h = rng.integers(max(n, m), 15)
    s = np.exp(rng.normal(size=n))
    X = data.matrix_with_singular_values(n, D, s, rng)
    Y = rng.normal(size=(n, m))
    U = rng.normal(size=(D, h)) * np.exp(rng.normal())
    V = rng.normal(size=(m, h)) * np.exp(rng.normal())
    phi1, _ = data.row_space_basis(X)
    reg = engine.Regression(torch.tensor(X)[None], torch.tensor(Y)[None])
    loss, grads, _ = engine.loss_and_gradients([torch.tensor(U.T)[None], torch.tensor(V)[None]], reg)
    theta = data.min_norm_solution(X, Y)
    excess = loss.item() - 0.5 * np.sum((X @ theta - Y) ** 2)
    rate = sum(g.square().sum() for g in grads).item() / excess
    U1, Vt = torch.tensor(phi1.T @ U)[None], torch.tensor(V)[None]
    eigs = M.imbalance_spectrum(U1, Vt)
    svals = torch.linalg.svdvals(U1 @ Vt.transpose(-1, -2))
    lam_r = s.min() ** 2
    return rate, M.v2_rate_bound(eigs, svals, lam_r, n, m).item(), 2 * lam_r * M.rate_constant(eigs, n, m).item()


def test_both_rate_bounds_hold_pointwise(rng):
    """-dL/dt / (L - L*) = ||grad L||^2 / (L - L*) under gradient flow; the v2 bound and the
    Theorem 1 rate 2 lambda_r(Sigma_x) c bound it from below at any point (relative slack 1e-9
    for rounding)."""
    for _ in range(200):
        rate, v2, thm1 = _rate_and_bounds(rng)
        assert rate >= v2 * (1 - 1e-9)
        assert v2 >= thm1 * (1 - 1e-9)  # the v2 bound refines Theorem 1


def test_v2_bound_is_tight_for_scalars():
    """n = D = h = m = 1: the rate is exactly 2(u^2 + v^2) and so is the bound."""
    u, v = 0.7, -1.3
    eigs = torch.tensor([[u**2 - v**2]])
    bound = M.v2_rate_bound(eigs, torch.tensor([[abs(u * v)]]), 1.0, 1, 1)
    torch.testing.assert_close(bound, torch.tensor([2 * (u**2 + v**2)]))


def test_theorem1_bound_holds_along_a_gd_run(rng):
    p = _setup(rng, init_std=1.0)
    lr, time = 1e-3, 3.0
    _, _, res = _train(p.U, p.V, p.reg, lr, time)
    theta = data.min_norm_solution(p.X, p.Y)
    excess = res.metrics["loss"][:, 0] - 0.5 * np.sum((p.X @ theta - p.Y) ** 2)
    eigs = M.imbalance_spectrum(p.phi1.T @ torch.tensor(p.U)[None], torch.tensor(p.V)[None])
    c = M.rate_constant(eigs, 5, 2)
    lam_r = 0.5**2
    bound = M.theorem1_bound(torch.tensor([excess[0]]), c, lam_r, torch.tensor(res.steps * lr))[0].numpy()
    assert c.item() > 0
    assert np.all(excess <= bound * 1.01)


def test_balanced_init_is_balanced_with_the_same_product(rng):
    p = {"input_dim": 12, "width": 9, "output_dim": 2, "inits": [[0.4, 0.3], [1.0, 0.1]], "balanced_like": 1}
    U, V = M._imbalance_inits(p, rng)
    np.testing.assert_allclose(U[-1].T @ U[-1], V[-1].T @ V[-1], atol=1e-12)
    np.testing.assert_allclose(U[-1] @ V[-1].T, U[1] @ V[1].T, atol=1e-12)
    np.testing.assert_allclose(U[0] / 0.4, U[1] / 1.0)  # one Gaussian draw, rescaled per pair


def test_init_error_norm_matches_its_expectation(rng):
    """E||U_2(0) V(0)^T||^2 = (D - r) m h^{1 - 4 alpha} for N(0, h^{-2 alpha}) entries; 4000
    draws, checked within 4 standard errors of the Monte Carlo mean."""
    D, r, m, h, alpha = 10, 3, 2, 16, 0.375
    draws = 4000
    U2 = rng.standard_normal((draws, D - r, h)) * h**-alpha
    V = rng.standard_normal((draws, m, h)) * h**-alpha
    sq = np.sum((U2 @ np.swapaxes(V, 1, 2)) ** 2, axis=(1, 2))
    expected = M.init_error_norm_expected(D, r, m, np.array([h]), alpha)[0] ** 2
    assert abs(sq.mean() - expected) <= 4 * sq.std(ddof=1) / np.sqrt(draws)


def test_config_cross_checks_name_the_key():
    section = {"n_samples": 10, "input_dim": 5, "output_dim": 1, "widths": [8]}
    with pytest.raises(ValueError, match=r"min2021\.implicit_bias\.input_dim"):
        M.implicit_bias_cases(section)
