"""Tests of deeplinear.papers.bassetti2024.experiments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deeplinear.numerics import prior_samplers, seeding
from deeplinear.papers.bassetti2024 import experiments, theory


def _gens(seed: int):
    rng = np.random.default_rng(seed)
    return rng, seeding.torch_generator(rng)


@pytest.mark.parametrize(("width", "depth", "dim"), [(6, 3, 2), (12, 2, 3), (5, 5, 1)])
def test_wishart_sampler_agrees_with_real_networks(width, depth, dim):
    """Two-sample KS tests at a fixed seed, four statistics per setting; each p > 0.001
    (12 tests: a false alarm at a random seed would have probability about 1%)."""
    rng, gen = _gens(width * 100 + depth)
    X = rng.standard_normal((4, 2))
    lam = 1.3
    brute = prior_samplers.brute_force_outputs(X, [width] * depth, dim, [lam] * (depth + 1), 8000, gen).numpy()
    exact, _ = prior_samplers.wishart_outputs(X, [width] * depth, dim, lam ** (depth + 1), 8000, rng, gen)
    for name, stat in experiments.TWO_SAMPLE_STATISTICS.items():
        p = stats.ks_2samp(stat(brute), stat(exact.numpy())).pvalue
        assert p > 1e-3, (name, p)


def test_brute_force_second_moments_are_lambda_star_k():
    """E f f^T = lambda* K exactly; 20000 draws, 4 standard errors per entry."""
    rng, gen = _gens(1)
    X = rng.standard_normal((3, 2))
    K = X.T @ X / 3
    f = prior_samplers.brute_force_outputs(X, [7, 5], 2, [0.8, 1.5, 1.1], 20000, gen).numpy()
    prod = f[:, 0, :, None] * f[:, 0, None, :]
    se = prod.std(axis=0) / np.sqrt(len(f))
    assert np.all(np.abs(prod.mean(axis=0) - 0.8 * 1.5 * 1.1 * K) <= 4 * se)


def test_bartlett_factor_is_wishart():
    """E V V^T = I for Wishart_D(N, I/N); Var of a diagonal entry is 2/N. 4 SE on 40000 draws."""
    rng, gen = _gens(2)
    V = prior_samplers.bartlett_factors(40000, 3, 5, rng, gen).numpy()
    Q = V @ np.swapaxes(V, 1, 2)
    se = Q.std(axis=0) / np.sqrt(len(Q))
    assert np.all(np.abs(Q.mean(axis=0) - np.eye(3)) <= 4 * se)
    assert np.allclose(np.triu(V[0], 1), 0)
    with pytest.raises(ValueError, match="N >= D"):
        prior_samplers.bartlett_factors(10, 3, 2, rng, gen)


def test_exact_sampler_matches_closed_forms():
    """Finite-N closed forms of R (E R_11^2, E R_12^2, E R_11 R_22) and of log R_11, log det R:
    200000 draws at N = 10, L = 6, D = 2; 4 batch-means standard errors."""
    rng, gen = _gens(3)
    widths = [10] * 6
    _, R = prior_samplers.wishart_outputs(np.eye(2), widths, 2, 1.0, 200000, rng, gen)
    measured = experiments.matrix_statistics(R.numpy())
    predicted = theory.cross_moments(widths)
    for name in ("r11_sq", "r12_sq", "r11_r22"):
        assert abs(measured[name] - predicted[name]) <= 4 * measured[f"{name}_se"], name
    for name, (mean, var) in (
        ("log_r11", theory.log_r11_moments(widths)),
        ("log_det", theory.log_det_moments(widths, 2)),
    ):
        assert abs(measured[f"{name}_mean"] - mean) <= 4 * measured[f"{name}_mean_se"], name
        assert abs(measured[f"{name}_var"] - var) <= 4 * measured[f"{name}_var_se"], name


def test_kurtosis_and_cross_covariance_of_outputs():
    rng, gen = _gens(4)
    widths = [8] * 4
    X = rng.standard_normal((3, 1))
    f, _ = prior_samplers.wishart_outputs(X, widths, 2, 1.0, 200000, rng, gen)
    s = experiments.output_statistics(f.numpy(), 1.0, X.T @ X / 3)
    th = theory.cross_moments(widths)
    assert abs(s["kurtosis"] - th["kurtosis"]) <= 4 * theory.kurtosis_standard_error(widths, 200000)
    assert abs(s["cov_sq"] - th["cov_sq"]) <= 4 * s["cov_sq_se"] and th["cov_sq"] > 0
    assert abs(s["f1f2"]) <= 4 * s["f1f2_se"]  # uncorrelated ...
    assert s["cond_f2sq"][-1] > s["cond_f2sq"][0]  # ... but dependent


def test_config_check_names_the_key():
    section = {"widths": [1, 8], "outputs": 2, "n_samples": 1000}
    with pytest.raises(ValueError, match=r"bassetti2024\.proportional\.widths"):
        experiments.proportional_cases(section)
