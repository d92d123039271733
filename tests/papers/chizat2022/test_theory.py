"""Tests of deeplinear.papers.chizat2022.theory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplinear.numerics import engine
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.chizat2022 import about, experiments, theory

PARAMS = {"n_samples": 3, "input_dim": 5, "output_dim": 2, "condition_number": 3.0, "lr": 0.25, "base_seed": 7}


@pytest.fixture(scope="module")
def problem() -> theory.Problem:
    return experiments.make_problem(PARAMS, Streams(PARAMS["base_seed"], about.KEY))


def test_limit_operator_follows_the_path_rule():
    basis = theory.PathBasis(d=2, k=1, R=4)
    lam = theory.limit_operator(basis)
    h0, h1 = basis.h0, basis.h1
    assert len(h0) + len(h1) == (2 + 1) * 5  # every (root, r) path once
    col = lam[:, h0.index((0, 2))]  # Lambda e(in_0, 2) = e(in_0, 3) + e(in_0, 1)
    assert {h1[i] for i in np.flatnonzero(col)} == {(0, 3), (0, 1)}
    col = lam[:, h0.index((2, 1))]  # output root: Lambda e(out, 1) = e(out, 2) + e(out, 0)
    assert {h1[i] for i in np.flatnonzero(col)} == {(2, 2), (2, 0)}
    col = lam[:, h0.index((0, 0))]  # r = 0: no step back
    assert {h1[i] for i in np.flatnonzero(col)} == {(0, 1)}
    # the transpose follows the same rule from H_1 to H_0 (it is the adjoint)
    row = lam[h1.index((0, 1)), :]
    assert {h0[i] for i in np.flatnonzero(row)} == {(0, 0), (0, 2)}


def test_limit_starts_at_zero_and_first_step_is_three_eta_c(problem):
    beta = theory.limit_trajectory(problem, 0.25, 5)
    assert np.abs(beta[0]).max() == 0.0
    assert np.allclose(beta[1], 3 * 0.25 * problem.C, rtol=1e-13, atol=1e-15)


def test_truncation_beyond_t_plus_2_is_exact(problem):
    steps = 40
    short, long = theory.limit_trajectory(problem, 0.25, steps, 3), theory.limit_trajectory(problem, 0.25, steps, 10)
    assert np.abs(short - long).max() <= 1e-12
    with pytest.raises(ValueError, match="R >= T"):
        theory.limit_trajectory(problem, 0.25, steps, 1)
    # a very short truncation is an approximation, and a visible one
    rough = theory.truncated_limit_trajectory(problem, 0.25, steps, 1)
    assert np.abs(rough - long).max() > 1e-6


def test_limit_stays_in_row_space_and_converges_to_min_norm(problem):
    beta = theory.limit_trajectory(problem, 0.25, 150)
    null = beta - beta @ problem.row_projector
    assert np.abs(null).max() <= 1e-10
    dist = np.linalg.norm(beta - problem.beta_star, axis=(1, 2))
    assert dist[-1] < 1e-8 * dist[0]


def test_limit_dimension_grows_with_steps_not_width():
    U, M, V = theory.limit_initial_weights(3, 2, 20)
    assert M.shape == (V.shape[1], U.shape[0])
    assert U.shape[0] + M.shape[0] == (3 + 2) * 21


def test_finite_width_gd_is_the_papers_update(problem):
    """One engine step on [U, M, V] equals the explicit simultaneous updates of PAPERS.md P1."""
    rng = np.random.default_rng(0)
    U, M, V = theory.finite_initial_weights(5, 2, 16, rng)
    eta = 0.1
    beta = V @ M @ U
    G = beta @ problem.sigma - problem.C
    expected = (U - eta * M.T @ V.T @ G, M - eta * V.T @ G @ U.T, V - eta * G @ U.T @ M.T)
    ws = [torch.as_tensor(w).unsqueeze(0) for w in (U, M, V)]
    out = engine.train(ws, problem.regression(torch.device("cpu")), eta, 1).weights
    for got, want in zip(out, expected, strict=True):
        assert np.allclose(got[0].numpy(), want, atol=1e-14)


def test_init_predictor_norm_is_exact():
    """E m ||beta(0)||^2 / (d k) = 1 for every m (derived: each entry has variance 1/m).
    2000 draws at m = 24; tolerance 4 standard errors."""
    rng = np.random.default_rng(1)
    d, k, m = 3, 2, 24
    vals = []
    for _ in range(2000):
        U, M, V = theory.finite_initial_weights(d, k, m, rng)
        vals.append(m * np.sum((V @ M @ U) ** 2) / (d * k))
    vals = np.asarray(vals)
    assert abs(vals.mean() - 1) <= 4 * vals.std(ddof=1) / np.sqrt(vals.size)


def test_words_follow_the_recursion_and_are_nearly_orthonormal():
    rng = np.random.default_rng(2)
    d, k, m, draws = 2, 1, 400, 200
    inits = [theory.finite_initial_weights(d, k, m, rng) for _ in range(draws)]
    U, M, V = (torch.as_tensor(np.stack(w)) for w in zip(*inits, strict=True))
    W0, W1 = theory.words(U, M, V, 3)
    basis = theory.PathBasis(d, k, 3)
    # explicit recursion for in_0 in member 0: w1 = M u, w2 = M^T w1 - u, w3 = M w2 - w1
    u, M0 = U[0, :, 0], M[0]
    w1 = M0 @ u
    w2 = M0.T @ w1 - u
    w3 = M0 @ w2 - w1
    assert torch.allclose(W1[0, :, basis.h1.index((0, 1))], w1)
    assert torch.allclose(W0[0, :, basis.h0.index((0, 2))], w2)
    assert torch.allclose(W1[0, :, basis.h1.index((0, 3))], w3)
    # E[W^T W] = I up to O(1/m) (e.g. E||w(in, 2)||^2 = 1 + 1/m exactly): 4 SE + 3/m
    for W in (W0, W1):
        gram = (W.transpose(-1, -2) @ W).numpy()
        mean, se = gram.mean(0), gram.std(0, ddof=1) / np.sqrt(draws)
        assert np.all(np.abs(mean - np.eye(mean.shape[0])) <= 4 * se + 3 / m)
    dev_max, dev_rms = theory.word_gram_deviation(U, M, V, 3)
    assert torch.all(dev_rms <= dev_max) and float(dev_max.mean()) < 0.5


def test_finite_width_approaches_the_limit_at_rate_m_to_minus_half(problem):
    """Monte Carlo against the exact limit: the seed-mean sup_t distance falls by about 2 when
    m grows 4x. 12 seeds per width; the tolerance [1.5, 2.7] is about 3 SE of the ratio."""
    steps, lr = 30, 0.25
    limit = theory.limit_trajectory(problem, lr, steps)
    sup = {}
    for m in (64, 256):
        inits = [theory.finite_initial_weights(5, 2, m, np.random.default_rng(100 * m + s)) for s in range(12)]
        ws = [torch.as_tensor(np.stack(w)) for w in zip(*inits, strict=True)]
        res = engine.train(
            ws,
            problem.regression(torch.device("cpu")),
            lr,
            steps,
            log_steps=np.arange(steps + 1),
            metrics_fn=lambda w, beta: {"beta": beta},
        )
        sup[m] = np.linalg.norm(res.metrics["beta"] - limit[:, None], axis=(-2, -1)).max(0)
    ratio = sup[64].mean() / sup[256].mean()
    assert 1.5 <= ratio <= 2.7, ratio


def test_c3_is_a_z_family_that_detects_a_few_percent_of_bias():
    """C3 passes on draws with mean exactly 1 (the identity) and fails on a 5 % bias, which the old
    +-15 % band let through: 12 widths x 256 seeds and a spread of about 0.41, as at the default
    scale (pooled SE about 0.0075, so 5 % is about 6.7 SE against Holm's 3.4)."""
    import xarray as xr

    from deeplinear.papers.chizat2022.claims import c3

    rng = np.random.default_rng(5)
    widths = [int(10 ** (2 + k / 2)) for k in range(12)]
    draws = rng.chisquare(12, size=(len(widths), 256)) / 12  # mean 1, standard deviation 0.41
    for factor, passes in ((1.0, True), (1.05, False)):
        ds = xr.Dataset({"init_norm_ratio": (("width", "seed"), factor * draws)}, coords={"width": widths})
        outcome = c3.compute({"finite_width": ds})
        assert outcome.passed is passes, (factor, outcome)
