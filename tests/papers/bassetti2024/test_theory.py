"""Tests of deeplinear.papers.bassetti2024.theory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from deeplinear.numerics import seeding
from deeplinear.papers.bassetti2024 import theory


def test_log_moments_reduce_and_approach_their_limits():
    widths = [50] * 25
    assert theory.log_det_moments(widths, 1) == pytest.approx(theory.log_r11_moments(widths))
    a, N = 0.5, 4000
    mean, var = theory.log_det_moments([N] * round(a * N), 3)
    lim_mean, lim_var = theory.limit_log_det_moments(a, 3)
    assert mean == pytest.approx(lim_mean, rel=2e-3) and var == pytest.approx(lim_var, rel=2e-3)
    assert 3 * theory.s_product([N] * round(a * N)) == pytest.approx(theory.kurtosis_limit(a), rel=1e-3)


@pytest.mark.parametrize("a", [0.0, 0.25, 1.0])
def test_limit_law_is_a_normalised_density_with_kurtosis_3e2a(a):
    total = integrate.quad(lambda x: theory.limit_pdf(np.array(x), a), -np.inf, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    m2 = integrate.quad(lambda x: x**2 * theory.limit_pdf(np.array(x), a), -np.inf, np.inf)[0]
    m4 = integrate.quad(lambda x: x**4 * theory.limit_pdf(np.array(x), a), -np.inf, np.inf)[0]
    assert m2 == pytest.approx(1.0, rel=1e-6)  # E R = e^{-a + a} = 1
    assert m4 / m2**2 == pytest.approx(theory.kurtosis_limit(a), rel=1e-6)
    x = np.array([-1.3, 0.2, 2.5])
    h = 1e-5
    np.testing.assert_allclose(
        (theory.limit_cdf(x + h, a) - theory.limit_cdf(x - h, a)) / (2 * h), theory.limit_pdf(x, a), rtol=1e-6
    )


def test_conditional_second_moment_is_the_mixture_prediction():
    """R = I gives 1 in every bin; under the exact sampler the Rao-Blackwellised prediction agrees
    with the raw bin averages of z_2^2 within 4 standard errors of the raw averages."""
    from deeplinear.numerics import prior_samplers
    from deeplinear.papers.bassetti2024 import experiments

    z1 = np.random.default_rng(1).standard_normal(1000)
    which = experiments.abs_quantile_bins(z1)
    assert np.allclose(theory.conditional_second_moment(np.tile(np.eye(2), (1000, 1, 1)), z1, which, 8), 1.0)
    rng = np.random.default_rng(2)
    f, R = prior_samplers.wishart_outputs(np.eye(1), [8] * 4, 2, 1.0, 100_000, rng, seeding.torch_generator(rng))
    z = f.numpy()[:, :, 0]
    which = experiments.abs_quantile_bins(z[:, 0])
    predicted = theory.conditional_second_moment(R.numpy(), z[:, 0], which, 8)
    for b in range(8):
        raw = z[which == b, 1] ** 2
        assert abs(raw.mean() - predicted[b]) <= 4 * raw.std() / np.sqrt(raw.size), b


def test_normal_cdf_gives_scipys_values_bit_for_bit():
    """The KS tests of the proportional experiment call ``normal_cdf``; their statistics must be
    those of ``scipy.stats.norm.cdf`` exactly (also shifted and scaled, as for log R_11)."""
    from scipy import stats

    x = np.concatenate([np.random.default_rng(3).normal(scale=4.0, size=10_000), [0.0, -np.inf, np.inf, 40.0]])
    np.testing.assert_array_equal(theory.normal_cdf(x), stats.norm.cdf(x))
    a = 0.25
    np.testing.assert_array_equal(theory.normal_cdf((x + a) / np.sqrt(2 * a)), stats.norm.cdf(x, -a, np.sqrt(2 * a)))
    assert np.isnan(theory.normal_cdf(np.nan))
