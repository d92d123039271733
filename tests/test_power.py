"""Power figures of the claims: the simulated detectable violations against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from deeplinear import claims
from deeplinear.pipeline import power


def _analytic_shift(n_tests: int, alpha: float) -> float:
    """One test of n shifted by delta, the others null: Holm rejects when some p <= alpha/n. With
    n = 1 the power is P(|Z + delta| > c), c = Phi^-1(1 - alpha/2), solved for 0.9."""
    assert n_tests == 1
    c = norm.isf(alpha / 2)
    grid = np.arange(0, 10, 1e-4)
    power_at = norm.sf(c - grid) + norm.cdf(-c - grid)
    return float(grid[np.argmax(power_at >= power.POWER)])


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_detectable_shift_of_a_single_test_matches_the_closed_form(alpha):
    # Monte Carlo error of a power near 0.9 with 4000 draws: SE sqrt(0.9 * 0.1 / 4000) = 0.0047,
    # which moves delta by about 0.0047 / phi(1.28) = 0.027; the grid step adds 0.05
    assert power.detectable_shift(1, alpha) == pytest.approx(_analytic_shift(1, alpha), abs=0.05 + 3 * 0.027)


def test_detectable_shift_grows_with_the_family_and_shrinks_when_every_test_moves():
    one_of_ten = power.detectable_shift(10, 0.01)
    one_of_hundred = power.detectable_shift(100, 0.01)
    assert one_of_ten < one_of_hundred
    assert power.detectable_shift(100, 0.01, every=True) < one_of_hundred


def test_detectable_exponent_error_is_the_half_band_plus_the_90_percent_quantile():
    # estimate ~ N(centre + delta, s): rejected with prob 0.9 when delta = half-width + 1.2816 s
    # (the far side of the band contributes nothing at these widths)
    half, sd = 0.15, 0.02
    expected = half + norm.isf(1 - power.POWER) * sd
    got = power.detectable_exponent_error(-0.65, -0.35, sd)
    assert got == pytest.approx(expected, abs=0.005 + 3 * 0.0047 / norm.pdf(1.28) * sd)


def test_power_figure_reads_the_outcomes_design():
    z = claims.z_family([0.1, -0.3, 0.5])
    assert z.design == ("z", 3, 0.01)
    assert "one of 3 tests shifted by" in power.power_figure(z)
    bound = claims.at_most(0.5, 1.0, source=claims.SOURCE_OURS)
    assert power.power_figure(bound).startswith("deterministic rule")


@pytest.mark.parametrize("n_tests", [13, 126, 816])
def test_simulated_power_figures_match_the_closed_forms(n_tests):
    """The figures the records' notes carry (closed forms, deeplinear.numerics.stats) and the ones
    `can-fail` prints (simulation from the null law) agree: the simulation steps by 0.05 and its
    power has Monte Carlo SE sqrt(0.9 * 0.1 / 4000) = 0.0047, about 0.03 in delta near power 0.9."""
    from deeplinear.numerics import stats

    for every in (False, True):
        simulated = power.detectable_shift(n_tests, 0.01, every=every)
        assert simulated == pytest.approx(stats.detectable_shift(n_tests, 0.01, every=every), abs=0.05 + 3 * 0.03)
    assert power.detectable_exponent_error(-0.65, -0.35, 0.02) == pytest.approx(
        stats.detectable_exponent_error(-0.65, -0.35, 0.02), abs=0.005 + 3 * 0.0047 / norm.pdf(1.28) * 0.02
    )


def test_statistical_records_carry_their_power_figure():
    note = claims.z_family([0.3, -1.2]).note
    assert "detectable with power 0.9: one test off by" in note
    slope = claims.power_law(
        [1.0, 10.0, 100.0], np.array([[1.0, 1.1], [0.32, 0.31], [0.1, 0.11]]), -0.5, 0.1, source="our choice"
    )
    assert "exponent off by" in slope.note
