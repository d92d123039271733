"""Calibration of the statistical claim families under a known null.

For each family of Bassetti et al., Sirignano-Spiliopoulos and Min et al., replicates are drawn
from the exact law (closed-form samplers), the claim's statistic is computed exactly as the
claim computes it, and its null behaviour is checked against the nominal one: z-statistics have
mean 0 and standard deviation 1, and the family-wise false-alarm rate of the Holm test is at most
the nominal 0.01, each within its Monte Carlo error (3 standard errors, stated per test).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from deeplinear import claims
from deeplinear.numerics import seeding
from deeplinear.papers.bassetti2024 import experiments as bassetti_experiments
from deeplinear.papers.bassetti2024 import theory as bassetti_theory
from deeplinear.papers.sirignano2022 import analysis as sirignano_analysis
from deeplinear.papers.sirignano2022 import theory as sirignano_theory


def _check_standard_normal(z: np.ndarray) -> None:
    """Mean within 3 SE of 0 (SE 1/sqrt(R)); standard deviation within 3 SE of 1 (SE ~ 1/sqrt(2R))."""
    z = np.asarray(z, dtype=float).ravel()
    r = z.size
    assert abs(z.mean()) <= 3 / math.sqrt(r), z.mean()
    assert abs(z.std(ddof=1) - 1) <= 3 / math.sqrt(2 * r), z.std(ddof=1)


def _exact_outputs(rng, widths, n):
    """``n`` draws of one standardised output of the deep linear prior, from the exact law
    f | R ~ N(0, R_11), R_11 = prod_l chi^2_{N_l} / N_l (D = P = 1, lambda* = K = 1)."""
    r11 = np.prod([rng.chisquare(w, size=n) / w for w in widths], axis=0)
    return (np.sqrt(r11) * rng.standard_normal(n))[:, None, None]


def test_bassetti_kurtosis_z_is_calibrated():
    """B2: z = (kurtosis - 3 prod(1 + 2/N)) / exact-law SE, 400 replicates of 20,000 draws at N = 16,
    a = 1/4. (In heavier-tailed cells the exact-law SE is conservative: the z spread falls below 1.)"""
    rng = np.random.default_rng(101)
    widths, n = [16] * 4, 20_000
    se = bassetti_theory.kurtosis_standard_error(widths, n)
    predicted = bassetti_theory.cross_moments(widths)["kurtosis"]
    z = [
        (bassetti_experiments.output_statistics(_exact_outputs(rng, widths, n), 1.0, np.eye(1))["kurtosis"] - predicted)
        / se
        for _ in range(400)
    ]
    _check_standard_normal(z)


@pytest.mark.parametrize("n_layers", [2, 8, 16])
def test_bassetti_kurtosis_z_has_no_bias_in_heavy_tailed_cells(n_layers):
    """B2 over the grid's cells, not only the mildest: N = 16 with L = 2, 8, 16 layers (a = 1/8 to 1,
    the default grid's heaviest tails at N = 16 and beyond). 300 replicates of 20,000 draws: the mean
    z is 0 within 3 SE (SE = sd / sqrt(300)), and the second-order bias of the ratio estimator
    mean(z^4)/mean(z^2)^2, ``(3 mu_4 (mu_4 - 1) - 2 (mu_6 - mu_4)) / n`` with the exact moments, is
    below 0.05 SE. The law of z is right-skewed in these cells (median about -0.2): more than half
    of the cells of one run land below 0 without any bias."""
    rng = np.random.default_rng(104 + n_layers)
    widths, n = [16] * n_layers, 20_000
    se = bassetti_theory.kurtosis_standard_error(widths, n)
    predicted = bassetti_theory.cross_moments(widths)["kurtosis"]
    m4, m6 = (bassetti_theory.standardised_output_moment(widths, j) for j in (2, 3))
    assert abs((3 * m4 * (m4 - 1) - 2 * (m6 - m4)) / n) < 0.05 * se
    z = np.array(
        [
            (
                bassetti_experiments.output_statistics(_exact_outputs(rng, widths, n), 1.0, np.eye(1))["kurtosis"]
                - predicted
            )
            / se
            for _ in range(300)
        ]
    )
    assert abs(z.mean()) <= 3 * z.std(ddof=1) / math.sqrt(z.size), z.mean()


def test_bassetti_second_moment_z_is_calibrated():
    """B1: z = (E f^2 - lambda* K) / batch-means SE at N = 16, a = 1/4; 400 replicates."""
    rng = np.random.default_rng(102)
    widths = [16] * 4
    z = []
    for _ in range(400):
        out = bassetti_experiments.output_statistics(_exact_outputs(rng, widths, 20_000), 1.0, np.eye(1))
        z.append((out["m2"].item() - 1.0) / out["m2_se"].item())
    _check_standard_normal(z)


def test_two_sample_ks_family_has_the_nominal_false_alarm_rate():
    """B7 and M7 (and C10): Holm over a family of two-sample KS tests of samples from one law.
    1,000 families of 24 tests; the family-wise rate is at most 0.01 (Holm is conservative for
    the discrete KS p-values): rate <= 0.01 + 3 SE, SE = sqrt(0.01 * 0.99 / 1000)."""
    rng = np.random.default_rng(103)
    alarms = 0
    for _ in range(1000):
        p = [stats.ks_2samp(rng.standard_normal(200), rng.standard_normal(200)).pvalue for _ in range(24)]
        alarms += not claims.p_family(p).passed
    assert alarms / 1000 <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 1000)


@pytest.mark.parametrize("seeds", [200])
def test_sirignano_law_z_family_under_the_gaussian_law(seeds):
    """S4: h_t drawn from the random ODE's Gaussian law itself (the null), 300 replicates of the
    claim's z-scores of the seed mean and the seed covariance. The mean z-scores are standard normal;
    the Holm family (which also contains the covariance z-scores, whose sample SE is estimated) keeps
    its family-wise false-alarm rate at most 0.01 + 3 SE (SE = sqrt(0.01 * 0.99 / 300))."""
    rng = np.random.default_rng(104)
    M, times = 3, np.array([0.5, 1.0, 2.0])
    B = rng.standard_normal((M, M))
    A = B @ B.T / M + 0.5 * np.eye(M)
    C = rng.standard_normal((M, M))
    sigma_g = C @ C.T / M + 0.2 * np.eye(M)
    y = rng.uniform(-1, 1, M)
    mean, cov = sirignano_theory.ode_law(A, y, sigma_g, times)
    chol = np.linalg.cholesky(cov)
    alarms, z_means = 0, []
    for _ in range(300):
        h = mean[:, None, :] + np.einsum("tij,tsj->tsi", chol, rng.standard_normal((len(times), seeds, M)))
        z_mean, z_cov = sirignano_analysis.law_z_from_samples(h, mean, cov)
        z_means.append(z_mean.ravel())
        alarms += not claims.z_family(np.concatenate([z_mean.ravel(), z_cov.ravel()])).passed
    _check_standard_normal(np.concatenate(z_means))
    assert alarms / 300 <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 300)


def test_bassetti_log_moment_z_is_calibrated():
    """B4/B5: z of the mean and the variance of log R_11 (batch-means SE) against the exact digamma
    and trigamma sums, 400 replicates of 20,000 exact draws at N = 16, a = 1/4 (D = 1, so log det R
    = log R_11)."""
    rng = np.random.default_rng(105)
    widths = [16] * 4
    mean, var = bassetti_theory.log_r11_moments(widths)
    z_mean, z_var = [], []
    for _ in range(400):
        r11 = np.prod([rng.chisquare(w, size=20_000) / w for w in widths], axis=0)
        out = bassetti_experiments.matrix_statistics(r11[:, None, None])
        z_mean.append((out["log_r11_mean"] - mean) / out["log_r11_mean_se"])
        z_var.append((out["log_r11_var"] - var) / out["log_r11_var_se"])
    _check_standard_normal(z_mean)
    _check_standard_normal(z_var)


def test_bassetti_cross_moment_z_is_calibrated():
    """B3: z of E R_12^2, E R_11 R_22 (batch-means SE) against (s - d)/3 and (s + 2d)/3, with R
    drawn by the exact Bartlett sampler at N = 8, L = 2 (D = 2); 300 replicates of 10,000 draws."""
    from deeplinear.numerics import prior_samplers

    rng = np.random.default_rng(106)
    widths = [8, 8]
    th = bassetti_theory.cross_moments(widths)
    z = {"r12_sq": [], "r11_r22": []}
    for _ in range(300):
        _, R = prior_samplers.wishart_outputs(np.eye(2), widths, 2, 1.0, 10_000, rng, seeding.torch_generator(rng))
        out = bassetti_experiments.matrix_statistics(R.numpy())
        for name in z:
            z[name].append((out[name] - th[name]) / out[f"{name}_se"])
    for values in z.values():
        _check_standard_normal(values)


def test_sirignano_init_covariance_z_family_under_the_gaussian_null():
    """S1: the covariance z-scores of g_0 on the training set with sample SEs, computed on draws
    from N(0, Sigma_G) itself; 300 replicates of 20,000 draws; the Holm family's false-alarm rate is
    at most 0.01 + 3 SE (SE = sqrt(0.01 * 0.99 / 300)) and the z-scores are standard normal."""
    rng = np.random.default_rng(107)
    C = rng.standard_normal((4, 4))
    sigma = C @ C.T / 4 + 0.3 * np.eye(4)
    chol = np.linalg.cholesky(sigma)
    alarms, zs = 0, []
    for _ in range(300):
        g = rng.standard_normal((20_000, 4)) @ chol.T
        prods = g[:, :, None] * g[:, None, :]
        z = (prods.mean(0) - sigma) / (prods.std(0, ddof=1) / np.sqrt(len(g)))
        zs.append(z[np.triu_indices(4)])
        alarms += not claims.z_family(z).passed
    _check_standard_normal(np.concatenate(zs))
    assert alarms / 300 <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 300)


def test_sirignano_init_kurtosis_z_is_calibrated():
    """S1[kurtosis]: z = (sample excess kurtosis - exact 1/N law) / delta-method SE for g_0 at N = 1
    (the most non-Gaussian width), computed by the job's own function on exact draws of the network
    at initialisation; 300 replicates of 20,000 networks."""
    from deeplinear.papers.sirignano2022 import experiments as sirignano_experiments

    rng = np.random.default_rng(108)
    X = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8]])
    predicted = sirignano_theory.init_excess_kurtosis(X, 1, "tanh")
    z = []
    for _ in range(300):
        c, w = rng.uniform(-1, 1, (20_000, 1)), rng.standard_normal((20_000, 3))
        out = c * np.tanh(w @ X.T)  # g_0(x_j) = C tanh(W . x_j) at N = 1
        k, se = sirignano_experiments.excess_kurtosis_with_se(out)
        z.append((k - predicted) / se)
    _check_standard_normal(np.asarray(z)[:, 0])
    _check_standard_normal(np.asarray(z)[:, 1])
