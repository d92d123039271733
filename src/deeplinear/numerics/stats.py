"""Statistics shared by the papers' analyses and claims: line fits, bootstrap intervals over
seeds, Holm-Bonferroni for families of tests, and censoring-aware medians.

Every function here is deterministic: the bootstrap takes an explicit seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples used by claims unless a claim says otherwise (at least 1,000).
N_BOOTSTRAP = 1000
#: Seed of every claim's bootstrap, so a claims table is reproducible bit for bit.
BOOTSTRAP_SEED = 20240


@dataclass(frozen=True)
class LineFit:
    """Least-squares line ``y = slope * x + intercept`` with the slope's standard error and R^2."""

    slope: float
    intercept: float
    slope_se: float
    r_squared: float


def fit_line(x: Sequence[float], y: Sequence[float]) -> LineFit:
    """Ordinary least squares of ``y`` on ``x`` over the finite pairs. Two points give the line
    through them (its slope is well defined; its standard error and R^2 are NaN: an interval comes
    from resampling, e.g. :func:`bootstrap_loglog_slope`); fewer than two, or one distinct ``x``,
    give NaN."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        return LineFit(math.nan, math.nan, math.nan, math.nan)
    if x.size == 2:
        slope = float((y[1] - y[0]) / (x[1] - x[0]))
        return LineFit(slope, float(y[0] - slope * x[0]), math.nan, math.nan)
    A = np.vstack([x, np.ones_like(x)]).T
    (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - (slope * x + intercept)
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    dof = x.size - 2
    slope_se = math.sqrt(ss_res / dof / float(((x - x.mean()) ** 2).sum())) if dof > 0 else math.nan
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    return LineFit(float(slope), float(intercept), slope_se, r2)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> LineFit:
    """Slope of ``log y`` against ``log x`` (a power-law exponent)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return fit_line(np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64)))


@dataclass(frozen=True)
class SlopeInterval:
    """A fitted power-law exponent with its bootstrap percentile interval over seeds."""

    slope: float
    low: float
    high: float
    slope_se: float
    n_boot: int
    n_points: int = 0  # points in the fit (2: the line through two points, no OLS standard error)

    def describe(self, level: float = 0.95) -> str:
        spread = "two-point slope, no OLS SE" if self.n_points == 2 else f"OLS SE {self.slope_se:.2g}"
        return (
            f"slope {self.slope:.3f}, {level:.0%} bootstrap CI [{self.low:.3f}, {self.high:.3f}] "
            f"over seeds ({self.n_boot} resamples; {spread})"
        )


def seed_mean(samples: np.ndarray) -> np.ndarray:
    """Mean over the last axis (seeds) ignoring NaN (excluded runs); NaN where every seed is."""
    samples = np.asarray(samples, dtype=np.float64)
    count = np.isfinite(samples).sum(-1)
    total = np.where(np.isfinite(samples), samples, 0.0).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def seed_mean_and_se(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the ``seed`` dimension of an xarray DataArray and its standard error
    ``std / sqrt(n_seeds)`` (ddof 1; zero for a single seed)."""
    n = values.sizes["seed"]
    mean = values.mean("seed")
    se = values.std("seed", ddof=1) / np.sqrt(n) if n > 1 else mean * 0.0
    return mean.values, se.values


def bootstrap_loglog_slope(
    x: Sequence[float],
    samples: np.ndarray,
    *,
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> SlopeInterval:
    """Power-law exponent of the seed mean of ``samples`` (len(x), n_seeds) against ``x``, with a
    percentile bootstrap interval: resample the seeds of every ``x`` with replacement, refit.

    The point estimate is the log-log OLS slope of the seed means (NaN entries, e.g. diverged
    runs, are left out of their mean).
    """
    x = np.asarray(x, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[0] != x.size:
        raise ValueError(f"samples must be (len(x), n_seeds) = ({x.size}, n), got {samples.shape}")
    point = loglog_slope(x, seed_mean(samples))
    rng = np.random.Generator(np.random.PCG64(seed))
    n_seeds = samples.shape[1]
    idx = rng.integers(0, n_seeds, size=(n_boot, x.size, n_seeds))
    resampled = np.take_along_axis(samples[None], idx, axis=2)  # (boot, x, seeds)
    means = np.log(seed_mean(resampled))
    logx = np.log(x)
    ok = np.isfinite(means).all(axis=1)
    xc = logx - logx.mean()
    slopes = ((means[ok] - means[ok].mean(axis=1, keepdims=True)) @ xc) / (xc @ xc)
    n_points = int(np.isfinite(np.log(seed_mean(samples))).sum())
    if slopes.size == 0 or not np.isfinite(point.slope):
        return SlopeInterval(point.slope, math.nan, math.nan, point.slope_se, n_boot, n_points)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(slopes, [tail, 100 - tail])
    return SlopeInterval(point.slope, float(low), float(high), point.slope_se, n_boot, n_points)


def holm_rejections(p_values: Sequence[float], alpha: float) -> np.ndarray:
    """Holm-Bonferroni step-down at family-wise level ``alpha``: which hypotheses are rejected.

    Sort the p-values, reject :math:`H_{(i)}` while :math:`p_{(i)} \\le \\alpha/(N - i + 1)`; stop at
    the first that is not. NaN p-values count as not rejected (and as tests).
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    order = np.argsort(np.where(np.isfinite(p), p, np.inf))
    reject = np.zeros(p.size, dtype=bool)
    for rank, i in enumerate(order):
        if not (np.isfinite(p[i]) and p[i] <= alpha / (p.size - rank)):
            break
        reject[i] = True
    return reject


def two_sided_p(z: Sequence[float]) -> np.ndarray:
    """Two-sided normal p-values of z-scores."""
    from scipy import stats as _scipy_stats  # imported when needed: job start-up stays light

    return 2 * _scipy_stats.norm.sf(np.abs(np.asarray(z, dtype=np.float64)))


def bonferroni_z(n_tests: int, alpha: float) -> float:
    """The |z| above which the smallest of ``n_tests`` two-sided p-values is rejected by Holm."""
    from scipy import stats as _scipy_stats

    return float(_scipy_stats.norm.isf(alpha / (2 * max(n_tests, 1))))


def censored_median(values: np.ndarray, censored: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median over ``axis`` of right-censored observations (capped runs, diverged runs).

    A censored observation is only known to exceed the cap, so the median is defined while fewer
    than half the observations are censored; otherwise it is ``+inf`` ("> cap"). Where defined it
    equals the median with the censored values placed above every observed one.
    """
    values = np.asarray(values, dtype=np.float64)
    censored = np.asarray(censored, dtype=bool) | ~np.isfinite(values)
    filled = np.where(censored, np.inf, values)
    n = values.shape[axis]
    med = np.median(filled, axis=axis)
    return np.where(censored.sum(axis=axis) * 2 < n, med, np.inf)


def rank_sum_z(x: Sequence[float], y: Sequence[float]) -> float:
    """The two-sided Mann-Whitney rank-sum test of ``x`` against ``y`` as a signed z: the normal
    quantile of its p-value, positive when ``x`` tends to be larger (exact p for small samples
    without ties, asymptotic with tie correction otherwise: scipy's ``method="auto"``)."""
    from scipy.stats import mannwhitneyu, norm

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    test = mannwhitneyu(x, y, alternative="two-sided")
    sign = float(np.sign(test.statistic - x.size * y.size / 2))
    return sign * float(norm.isf(min(float(test.pvalue), 1.0) / 2))


def pooled_rank_sum_p(
    pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *, independent: bool = True
) -> tuple[float, float]:
    """A combined z of the signed rank-sum z of K two-sample comparisons, and its two-sided p.

    Independent comparisons: Stouffer's ``Z = sum z_k / sqrt(K)`` (a systematic difference between
    two methods adds up over the K cells; per-cell tests on a few seeds each reject only at
    complete separation). Comparisons that share draws (``independent=False``, e.g. cells built
    on the same data seeds): the mean ``Z = sum z_k / K``, whose variance is at most 1 under any
    correlation between the cells, so its p is conservative.
    """
    from scipy.stats import norm

    z = [rank_sum_z(x, y) for x, y in pairs]
    pooled = float(np.sum(z) / (np.sqrt(len(z)) if independent else len(z)))
    return pooled, float(2 * norm.sf(abs(pooled)))


def holm_power(n_tests: int, alpha: float, delta: float, *, every: bool = False) -> float:
    r"""Probability that Holm at family-wise level ``alpha`` rejects at least one of ``n_tests``
    independent two-sided z-tests when one test's mean (or every test's, ``every``) is shifted by
    ``delta``. Holm rejects at least one exactly when the smallest p is below ``alpha / n``, i.e.
    some :math:`|z| > c = \Phi^{-1}(1 - \alpha / (2n))`:

    .. math:: P = 1 - A(\delta)\,A(0)^{n-1} \text{ (one test)}, \quad 1 - A(\delta)^n \text{ (every test)},
              \quad A(\delta) = \Phi(c - \delta) - \Phi(-c - \delta).
    """
    from scipy.stats import norm

    n = max(int(n_tests), 1)
    c = float(norm.isf(alpha / (2 * n)))
    inside = float(norm.cdf(c - delta) - norm.cdf(-c - delta))
    inside0 = float(norm.cdf(c) - norm.cdf(-c))
    return 1 - inside**n if every else 1 - inside * inside0 ** (n - 1)


def detectable_shift(n_tests: int, alpha: float, power: float = 0.9, *, every: bool = False) -> float:
    """The shift (in standard errors) of one test, or of every test, of a Holm family that is
    rejected with probability ``power`` (:func:`holm_power` solved for ``delta``)."""
    from scipy.optimize import brentq

    return float(brentq(lambda d: holm_power(n_tests, alpha, d, every=every) - power, 0.0, 40.0))


def detectable_exponent_error(low: float, high: float, slope_sd: float, power: float = 0.9) -> float:
    """The error of a power-law exponent, beyond the centre of the accepted band ``[low, high]``,
    whose estimate ``N(centre + delta, slope_sd)`` falls outside the band with probability
    ``power``; for a one-sided band ``(-inf, high]`` the excess over ``high`` rejected with that
    probability, ``slope_sd * Phi^-1(power)``."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    if not (math.isfinite(slope_sd) and slope_sd > 0):
        return math.nan
    if not math.isfinite(low):
        return float(slope_sd * norm.ppf(power))
    centre = (low + high) / 2

    def outside(d: float) -> float:
        return float(norm.cdf((low - centre - d) / slope_sd) + norm.sf((high - centre - d) / slope_sd))

    return float(brentq(lambda d: outside(d) - power, 0.0, (high - low) + 20 * slope_sd))
