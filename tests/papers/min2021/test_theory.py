"""Tests of deeplinear.papers.min2021.theory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplinear.numerics import synthetic_data
from deeplinear.papers.min2021 import theory

from .common import setup_problem, train


def test_imbalance_drift_is_first_order_in_eta(rng):
    """GD changes Lambda by eta^2 (A^T A - B^T B) per step, so the drift at fixed time is O(eta):
    drift(eta) = a eta + O(eta^2) and the ratio drift(eta)/drift(eta/2) = 2 + O(eta). With
    eta = 4e-3 the O(eta) correction is below 5% here; we allow 0.1."""
    p = setup_problem(rng)
    U1_0 = p.phi1.T @ torch.tensor(p.U)
    lam0 = theory.imbalance_matrix(U1_0, torch.tensor(p.V))
    drifts = []
    for lr in (4e-3, 2e-3):
        U_end, V_end, _ = train(p.U, p.V, p.reg, lr, 2.0)
        drifts.append(torch.linalg.matrix_norm(theory.imbalance_matrix(p.phi1.T @ U_end, V_end) - lam0).item())
    assert drifts[0] / torch.linalg.matrix_norm(lam0).item() < 1e-2  # conserved up to O(eta)
    assert abs(drifts[0] / drifts[1] - 2.0) < 0.1


@pytest.mark.parametrize(("r", "m", "h"), [(5, 2, 30), (5, 2, 7), (4, 3, 5), (1, 1, 1)])
def test_imbalance_spectrum_matches_dense_eigenvalues(rng, r, m, h):
    U1 = torch.tensor(rng.standard_normal((3, r, h)))
    V = torch.tensor(rng.standard_normal((3, m, h)))
    dense = torch.linalg.eigvalsh(theory.imbalance_matrix(U1, V)).flip(-1)
    torch.testing.assert_close(theory.imbalance_spectrum(U1, V), dense, rtol=0, atol=1e-10)


def test_gram_norms_match_dense(rng):
    U1_0, V_0 = (torch.tensor(rng.standard_normal((2, k, 40))) for k in (6, 2))
    U1 = U1_0 + 1e-3 * torch.tensor(rng.standard_normal(U1_0.shape))
    V = V_0 + 1e-3 * torch.tensor(rng.standard_normal(V_0.shape))
    lam0 = theory.imbalance_matrix(U1_0, V_0)
    torch.testing.assert_close(theory.imbalance_norm(U1_0, V_0), torch.linalg.matrix_norm(lam0))
    dense = torch.linalg.matrix_norm(theory.imbalance_matrix(U1, V) - lam0)
    torch.testing.assert_close(theory.imbalance_drift_norm(U1, V, U1_0, V_0), dense, rtol=1e-7, atol=0)


def test_v2_bound_is_tight_for_scalars():
    """n = D = h = m = 1: the rate is exactly 2(u^2 + v^2) and so is the bound."""
    u, v = 0.7, -1.3
    eigs = torch.tensor([[u**2 - v**2]])
    bound = theory.v2_rate_bound(eigs, torch.tensor([[abs(u * v)]]), 1.0, 1, 1)
    torch.testing.assert_close(bound, torch.tensor([2 * (u**2 + v**2)]))


def test_theorem1_bound_holds_along_a_gd_run(rng):
    p = setup_problem(rng, init_std=1.0)
    lr, time = 1e-3, 3.0
    _, _, res = train(p.U, p.V, p.reg, lr, time)
    theta = synthetic_data.min_norm_solution(p.X, p.Y)
    excess = res.metrics["loss"][:, 0] - 0.5 * np.sum((p.X @ theta - p.Y) ** 2)
    eigs = theory.imbalance_spectrum(p.phi1.T @ torch.tensor(p.U)[None], torch.tensor(p.V)[None])
    c = theory.rate_constant(eigs, 5, 2)
    lam_r = 0.5**2
    bound = theory.theorem1_bound(torch.tensor([excess[0]]), c, lam_r, torch.tensor(res.steps * lr))[0].numpy()
    assert c.item() > 0
    assert np.all(excess <= bound * 1.01)


def test_init_error_norm_matches_its_expectation(rng):
    """E||U_2(0) V(0)^T||^2 = (D - r) m h^{1 - 4 alpha} for N(0, h^{-2 alpha}) entries; 4000
    draws, checked within 4 standard errors of the Monte Carlo mean."""
    D, r, m, h, alpha = 10, 3, 2, 16, 0.375
    draws = 4000
    U2 = rng.standard_normal((draws, D - r, h)) * h**-alpha
    V = rng.standard_normal((draws, m, h)) * h**-alpha
    sq = np.sum((U2 @ np.swapaxes(V, 1, 2)) ** 2, axis=(1, 2))
    expected = theory.init_error_norm_expected(D, r, m, np.array([h]), alpha)[0] ** 2
    assert abs(sq.mean() - expected) <= 4 * sq.std(ddof=1) / np.sqrt(draws)
