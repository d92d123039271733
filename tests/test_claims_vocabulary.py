"""The claims vocabulary: verdicts follow from measured values and tolerances, families are
Holm-corrected with the nominal false-alarm rate, broken claims are failed records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeplinear import claims
from deeplinear.alterations import tilted
from deeplinear.numerics import stats


def test_holm_step_down_on_a_known_family():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 <= 0.05/4 reject, 0.01 <= 0.05/3 reject, 0.03 > 0.05/2 stop
    assert stats.holm_rejections(p, 0.05).tolist() == [True, False, False, True]
    assert not stats.holm_rejections([0.2, math.nan], 0.05).any()


def test_z_family_verdict_is_the_bonferroni_threshold():
    rng = np.random.default_rng(1)
    for _ in range(200):
        z = rng.standard_normal(rng.integers(1, 50)) * rng.uniform(0.5, 3)
        outcome = claims.z_family(z)
        assert outcome.passed == (np.abs(z).max() < stats.bonferroni_z(z.size, 0.01))
        assert outcome.measured == pytest.approx(np.abs(z).max())
        assert outcome.tolerance.source == claims.SOURCE_STATISTICS
    assert not claims.z_family([0.1, math.nan]).passed  # a NaN z never passes


def test_z_family_has_the_nominal_false_alarm_rate_under_the_null():
    # 4,000 families of 20 independent N(0,1) z-scores: Holm's family-wise rate is
    # 1 - (1 - 0.01/20)^20 = 0.00995; Monte Carlo SE sqrt(0.01 * 0.99 / 4000) = 0.0016, 3 SE band.
    rng = np.random.default_rng(2)
    alarms = np.mean([not claims.z_family(rng.standard_normal(20)).passed for _ in range(4000)])
    expected = 1 - (1 - 0.01 / 20) ** 20
    assert abs(alarms - expected) <= 3 * math.sqrt(expected * (1 - expected) / 4000)


def test_p_family_reports_the_smallest_p():
    out = claims.p_family([0.5, 0.2, 0.0001])
    assert out.measured == 0.0001 and not out.passed
    assert claims.p_family([0.5, 0.2, 0.01]).passed  # 0.01 > 0.01/3


def test_bootstrap_slope_interval_covers_the_truth_and_is_reproducible():
    rng = np.random.default_rng(3)
    x = np.array([100.0, 1000.0, 10000.0, 100000.0])
    samples = x[:, None] ** -0.5 * rng.lognormal(0, 0.3, size=(4, 64))
    a = stats.bootstrap_loglog_slope(x, samples)
    b = stats.bootstrap_loglog_slope(x, samples)
    assert a == b
    assert a.low < -0.5 < a.high and a.low < a.slope < a.high
    assert a.slope == pytest.approx(stats.loglog_slope(x, samples.mean(1)).slope)


def test_power_law_passes_on_the_point_estimate_and_notes_the_interval():
    x = np.array([10.0, 100.0, 1000.0])
    samples = np.stack([x**-0.5] * 8, axis=1) * np.linspace(0.9, 1.1, 8)
    ok = claims.power_law(x, samples, -0.5, 0.05, source=claims.SOURCE_OURS)
    assert ok.passed and "bootstrap CI" in ok.note
    assert not claims.power_law(x, samples, -1.0, 0.05, source=claims.SOURCE_OURS).passed
    assert claims.power_law(x, samples, -0.45, (-0.6, -0.4), source=claims.SOURCE_OURS).passed


def test_censored_median_is_defined_only_below_half_censored():
    v = np.array([[1.0, 2.0, 3.0, 9.0, 9.0], [1.0, 2.0, 9.0, 9.0, 9.0]])
    censored = v == 9.0
    assert stats.censored_median(v, censored).tolist() == [3.0, math.inf]
    assert stats.censored_median(np.array([1.0, math.nan, 2.0, 3.0]), np.zeros(4, bool)) == 2.5  # NaN is censored


def test_bound_over_time_skips_step_zero():
    ratio = np.array([[1.0, 0.9, 0.8], [1.0, 0.95, math.nan]])
    out = claims.worst_over_time(ratio, np.array([0, 1, 2]), source=claims.SOURCE_PAPER)
    assert out.measured == 0.95 and out.passed
    assert not claims.worst_over_time(ratio * 1.1, np.array([0, 1, 2]), source=claims.SOURCE_PAPER).passed


def test_simple_checks_never_pass_on_nan():
    assert not claims.identity(math.nan, 0.0, 1e-12).passed
    assert not claims.at_most(math.nan, 1.0, source=claims.SOURCE_OURS).passed
    assert not claims.above(math.nan, 1.0, source=claims.SOURCE_OURS).passed
    assert not claims.within(math.nan, 0, 1, predicted=0.5, source=claims.SOURCE_OURS).passed
    assert claims.within(0.5, 0, 1, predicted=0.5, source=claims.SOURCE_OURS).passed
    with pytest.raises(ValueError, match="source"):
        claims.Tolerance("x", "a hunch")


def test_a_broken_claim_is_a_failed_record_and_a_family_gets_qualified_ids():
    @claims.claim("X1", "a claim that raises")
    def broken(datasets):
        return datasets["missing"]

    @claims.claim("X2", "a claim per parameter")
    def family(datasets):
        return {f"a={a}": claims.at_most(a, 1.0, source=claims.SOURCE_OURS) for a in (0.5, 2)}

    @claims.claim("X3", "a claim with nothing to test")
    def empty(datasets):
        return {}

    records = claims.evaluate_claims("p", [broken, family, empty], {})
    assert [r.id for r in records] == ["X1", "X2[a=0.5]", "X2[a=2]", "X3"]
    assert [r.passed for r in records] == [False, True, False, False]
    assert "KeyError" in records[0].note and "no outcome" in records[3].note
    with pytest.raises(ValueError, match="duplicate"):
        claims.evaluate_claims("p", [family, family], {})


def test_a_power_law_on_two_widths_is_a_two_point_slope_with_a_bootstrap_interval():
    """Two widths give a slope and a seed-bootstrap interval, never NaN (the published S2/S3 were
    NaN at N = 1000, 3162); it still fails when the exponent is wrong."""
    rng = np.random.default_rng(7)
    x = np.array([1000.0, 3162.0])
    samples = x[:, None] ** -0.5 * rng.lognormal(0.0, 0.3, size=(2, 64))  # exponent -1/2, 30 % spread
    fit = stats.bootstrap_loglog_slope(x, samples)
    assert np.isfinite([fit.slope, fit.low, fit.high]).all() and fit.low < fit.slope < fit.high
    assert fit.n_points == 2 and "two-point slope" in fit.describe()
    assert claims.power_law(x, samples, -0.5, (-0.65, -0.35), source=claims.SOURCE_OURS).passed
    tilted = samples * x[:, None] ** -0.3  # exponent -0.8
    assert not claims.power_law(x, tilted, -0.5, (-0.65, -0.35), source=claims.SOURCE_OURS).passed


def test_the_can_fail_contract_fails_a_claim_without_power():
    """A claim its alteration does not break, and one with no alteration, fail the contract."""
    import xarray as xr

    ds = xr.Dataset({"x": ("width", np.array([1.0, 0.5, 0.25]))}, coords={"width": [1, 4, 16]})

    def slope_check(datasets):
        fit = claims.loglog_slope(datasets["e"]["width"].values, datasets["e"]["x"].values)
        return claims.within(fit.slope, -0.6, -0.4, predicted=-0.5, source=claims.SOURCE_OURS)

    def never_fails(datasets):
        return claims.at_most(0.0, 1.0, source=claims.SOURCE_OURS)

    tilt = tilted("e", "x", "width", 0.3)
    sharp = claims.ClaimCheck("X1", "x ~ width^-1/2", slope_check, tilt)
    blunt = claims.ClaimCheck("X2", "nothing", never_fails, tilt)
    bare = claims.ClaimCheck("X3", "x ~ width^-1/2", slope_check)
    data = {"e": ds}
    assert claims.check_can_fail("p", sharp, data).holds
    weak = claims.check_can_fail("p", blunt, data)
    assert weak.passes_unaltered and not weak.fails_altered and not weak.holds
    assert not claims.check_can_fail("p", bare, data).holds
    assert ds["x"].values.tolist() == [1.0, 0.5, 0.25]  # the alteration copied
