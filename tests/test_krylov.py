"""The exact Krylov reduction and its sampler: same realisation as brute force, the same law as
explicit Golub-Kahan on real Gaussian matrices, m = inf equal to the limit operator, nested
depths and exact structural zeros."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from deeplinear import claims
from deeplinear.numerics import engine, krylov
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.chizat2022 import experiments, theory

CPU, F64 = torch.device("cpu"), torch.float64
PARAMS = {"n_samples": 4, "input_dim": 6, "output_dim": 2, "condition_number": 4.0, "lr": 0.25, "base_seed": 1}


@pytest.fixture(scope="module")
def problem():
    return experiments.make_problem(PARAMS, Streams(1, "chizat2022"))


def _brute_path(U0, A, V0, data, steps):
    result = engine.train(
        [torch.tensor(w)[None] for w in (U0, A, V0)],
        data,
        PARAMS["lr"],
        steps,
        log_steps=np.arange(steps + 1),
        metrics_fn=lambda ws, beta: {"beta": beta},
    )
    return result.metrics["beta"][:, 0]


@pytest.mark.parametrize("m", [256, 1024])
def test_same_realisation_reduction_reproduces_brute_force(problem, m):
    """GD on (a, B, b) from the block Golub-Kahan bases of the actual draws equals GD on the
    width-m network, T = 100 (the 'old values' and dof mistakes break this at once)."""
    steps = 100
    U0, A, V0 = theory.finite_initial_weights(6, 2, m, np.random.default_rng(m))
    a, B, b, Q, _ = krylov.golub_kahan_reduction(U0, A, V0, math.ceil(steps / 2))
    assert np.abs(Q.T @ Q - np.eye(Q.shape[1])).max() < 1e-12
    reduced = krylov.reduced_beta_path(
        krylov.ReducedState(a[None], B[None], b[None], (), ()), problem.regression(CPU), PARAMS["lr"], steps, CPU, F64
    )[0]
    brute = _brute_path(U0, A, V0, problem.regression(CPU), steps)
    assert np.abs(reduced - brute).max() <= 1e-10 * np.abs(brute).max()


def test_infinite_width_is_the_limit_operator(problem):
    steps = 40
    state = krylov.sample_reduced(math.inf, 6, 2, math.ceil(steps / 2) + 1, None)
    path = krylov.reduced_beta_path(state, problem.regression(CPU), PARAMS["lr"], steps, CPU, F64)[0]
    limit = theory.limit_trajectory(problem, PARAMS["lr"], steps, 3)
    assert np.abs(path - limit).max() <= 1e-12
    assert np.array_equal(state.B[0] != 0, state.B[0] == 1)  # every factor is an identity


def test_draws_are_nested_and_structural_zeros_are_exact():
    m, d, k = 10**6, 3, 2
    shallow = krylov.sample_reduced(m, d, k, 2, [np.random.default_rng(s) for s in range(4)])
    deep = krylov.sample_reduced(m, d, k, 3, [np.random.default_rng(s) for s in range(4)])
    nq, np_ = shallow.a.shape[1], shallow.B.shape[1]
    assert np.array_equal(deep.a[:, :nq], shallow.a) and not deep.a[:, nq:].any()
    assert np.array_equal(deep.B[:, :np_, :nq], shallow.B)
    assert np.array_equal(deep.b[:, :, :np_], shallow.b)
    # B is block upper-bidiagonal: zero outside the blocks (P_j, Q_j) and (P_{j-1}, Q_j)
    qo, po = np.cumsum((0, *deep.q_sizes)), np.cumsum((0, *deep.p_sizes))
    allowed = np.zeros(deep.B.shape[1:], dtype=bool)
    for j in range(len(deep.q_sizes)):
        allowed[po[j] : po[j + 1], qo[j] : qo[j + 1]] = True
        if j:
            allowed[po[j - 1] : po[j], qo[j] : qo[j + 1]] = True
    assert not deep.B[:, ~allowed].any()
    assert not deep.a[:, deep.q_sizes[0] :].any() and not deep.b[:, :, deep.p_sizes[0] :].any()


@pytest.mark.parametrize("m", [9, 20, 33])
def test_small_widths_fill_the_space_with_the_explicit_layout(m):
    """Below the Krylov dimension the blocks shrink to the remaining degrees of freedom: the
    sampler's deterministic layout equals that of the explicit construction."""
    state = krylov.sample_reduced(m, 6, 2, 30, [np.random.default_rng(0)])
    U0, A, V0 = theory.finite_initial_weights(6, 2, m, np.random.default_rng(1))
    a, B, b, *_ = krylov.golub_kahan_reduction(U0, A, V0, 30)
    assert state.a.shape[1:] == a.shape and state.B.shape[1:] == B.shape and state.b.shape[1:] == b.shape
    assert sum(state.q_sizes) <= m and sum(state.p_sizes) <= m


def test_sampler_has_the_law_of_explicit_golub_kahan():
    """2,000 exact draws against 2,000 explicit reductions of real Gaussian matrices at m = 13
    (d = 2, k = 1, two levels): a two-sample KS test for every entry that is not a structural
    zero, Holm-Bonferroni at family-wise level 0.01 (the claims vocabulary's p_family)."""
    m, d, k, depth, n = 13, 2, 1, 2, 2000
    rng = np.random.default_rng(2024)
    sampled = krylov.sample_reduced(m, d, k, depth, [np.random.default_rng(10_000 + s) for s in range(n)])
    explicit = []
    for _ in range(n):
        U0, A, V0 = theory.finite_initial_weights(d, k, m, rng)
        a, B, b, *_ = krylov.golub_kahan_reduction(U0, A, V0, depth)
        explicit.append(np.concatenate([a.ravel(), B.ravel(), b.ravel()]))
    explicit = np.array(explicit)
    flat = np.concatenate([sampled.a.reshape(n, -1), sampled.B.reshape(n, -1), sampled.b.reshape(n, -1)], axis=1)
    assert flat.shape == explicit.shape
    free = (flat != 0).any(axis=0)  # structural zeros of the sampler (explicit QR leaves ~1e-16 there)
    assert np.abs(explicit[:, ~free]).max() < 1e-10
    p_values = [stats.ks_2samp(flat[:, i], explicit[:, i]).pvalue for i in np.flatnonzero(free)]
    outcome = claims.p_family(p_values)
    assert len(p_values) > 30 and outcome.passed, outcome


def test_bartlett_diagonal_has_the_chi_square_law():
    """E R_ii^2 = (nu - i + 1)/m exactly; 20,000 draws, tolerance 4 standard errors."""
    rng = np.random.default_rng(5)
    m, nu, w = 50, 30, 4
    draws = np.array([krylov.bartlett(nu, w, m, rng) for _ in range(20000)])
    sq = draws[:, np.arange(w), np.arange(w)] ** 2
    expected = (nu - np.arange(w)) / m
    se = np.sqrt(2 * (nu - np.arange(w))) / m / np.sqrt(len(draws))
    assert np.all(np.abs(sq.mean(0) - expected) <= 4 * se)
    assert np.all(np.tril(draws[0], -1) == 0)


def _two_layer_explicit(U, V, phi1, phi2):
    """The two-layer reduction of actual weights: [U1; V]^T = W S, alpha = S[:, :r]^T, nu = S[:, r:]^T,
    G2 = U2 W (U1 = Phi1^T U, U2 = Phi2^T U)."""
    U1, U2 = phi1.T @ U, phi2.T @ U
    W, S = np.linalg.qr(np.vstack([U1, V]).T)
    signs = np.where(np.diag(S) < 0, -1.0, 1.0)
    W, S = W * signs, S * signs[:, None]
    r = U1.shape[0]
    return S[:, :r].T, S[:, r:].T, U2 @ W


def test_two_layer_reduction_reproduces_brute_force_at_h_400():
    """Min et al.'s implicit-bias run: GD in r + m_out hidden coordinates gives the same U V^T as
    GD on the width-400 network, to rounding (relative 1e-10)."""
    from deeplinear.numerics import synthetic_data

    rng = np.random.default_rng(7)
    n, D, m, h, sigma = 25, 100, 1, 400, 400**-0.375
    X = synthetic_data.gaussian_matrix(n, D, 1 / np.sqrt(D), rng)
    Y = X @ synthetic_data.gaussian_matrix(D, m, 1 / np.sqrt(D), rng)
    U, V = sigma * rng.standard_normal((D, h)), sigma * rng.standard_normal((m, h))
    phi1, phi2 = synthetic_data.row_space_basis(X)
    alpha, nu, G2 = _two_layer_explicit(U, V, phi1, phi2)
    lr, steps = 5e-3, 400
    brute = engine.train(
        [torch.tensor(U.T)[None], torch.tensor(V)[None]],
        engine.Regression(torch.tensor(X)[None], torch.tensor(Y)[None]),
        lr,
        steps,
    )
    reduced = engine.train(
        [torch.tensor(alpha.T)[None], torch.tensor(nu)[None]],
        engine.Regression(torch.tensor(X @ phi1)[None], torch.tensor(Y)[None]),
        lr,
        steps,
    )
    U_end, V_end = brute.weights[0][0].numpy().T, brute.weights[1][0].numpy()
    a_end, nu_end = reduced.weights[0][0].numpy().T, reduced.weights[1][0].numpy()
    product = phi1 @ a_end @ nu_end.T + phi2 @ G2 @ nu_end.T
    assert np.abs(product - U_end @ V_end.T).max() <= 1e-10 * np.abs(U_end @ V_end.T).max()


def test_two_layer_sampler_has_the_law_of_the_explicit_reduction():
    """1,500 sampled initial states against 1,500 reductions of real Gaussian weights (h = 12, r = 3,
    m_out = 1, D = 6): KS per entry of (alpha, nu, G2), Holm at family-wise level 0.01."""
    rng = np.random.default_rng(11)
    h, r, m, D, n = 12, 3, 1, 6, 1500
    phi = np.linalg.qr(rng.standard_normal((D, D)))[0]
    phi1, phi2 = phi[:, :r], phi[:, r:]
    sampled = np.array(
        [np.concatenate([x.ravel() for x in krylov.sample_two_layer(h, r, m, D - r, 0.7, rng)]) for _ in range(n)]
    )
    explicit = np.array(
        [
            np.concatenate(
                [
                    x.ravel()
                    for x in _two_layer_explicit(*(0.7 * rng.standard_normal(s) for s in ((D, h), (m, h))), phi1, phi2)
                ]
            )
            for _ in range(n)
        ]
    )
    free = (sampled != 0).any(axis=0)
    assert np.abs(explicit[:, ~free]).max() < 1e-10
    outcome = claims.p_family([stats.ks_2samp(sampled[:, i], explicit[:, i]).pvalue for i in np.flatnonzero(free)])
    assert outcome.passed, outcome
