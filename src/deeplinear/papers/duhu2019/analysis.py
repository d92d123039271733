"""Du & Hu (2019): statistics of the combined datasets shared by claims and figures (T_eps medians,
m*(L), late slopes, the theorem's bound curve)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from deeplinear.numerics import run_status
from deeplinear.numerics.stats import censored_median, fit_line
from deeplinear.papers.duhu2019.theory import theorem_rate, wide_limit_log_slope


def _censored_median_over_seeds(t_eps: xr.DataArray) -> xr.DataArray:
    """Censoring-aware median of ``T_ε`` over seeds: capped and diverged runs (NaN) are
    right-censored; the median is ``inf`` ("> cap") unless fewer than half the seeds are."""
    return xr.apply_ufunc(
        censored_median, t_eps, np.isnan(t_eps), input_core_dims=[["seed"], ["seed"]], kwargs={"axis": -1}
    )


def median_t_eps(ds: xr.Dataset, lr_factor: float = 1.0) -> xr.DataArray:
    """Median ``T_ε`` over seeds at one step-size multiplier (capped/diverged runs censored)."""
    return _censored_median_over_seeds(ds["t_eps"].sel(lr_factor=lr_factor))


def fraction_converged(ds: xr.Dataset, lr_factor: float = 1.0) -> xr.DataArray:
    return (ds["status"].sel(lr_factor=lr_factor) == run_status.CONVERGED).mean("seed")


def critical_width(ds: xr.Dataset) -> xr.DataArray:
    """``m*(L)``: the smallest width whose median ``T_ε`` is ``<= 2 T_ε(L=1)`` with every seed
    converged (our rule; the paper has no experiments); NaN where no width qualifies."""
    reference = float(median_t_eps(ds).sel(depth=1).isel(width=0))
    ok = (median_t_eps(ds) <= 2 * reference) & (fraction_converged(ds) == 1)
    widths = ds["width"].where(ok)
    return widths.min("width")


def critical_width_interpolated(ds: xr.Dataset) -> xr.DataArray:
    r"""``m*(L)`` located between grid widths: at the first grid width ``m_i`` that qualifies under
    :func:`critical_width`'s rule, ``ln r`` (``r`` = median ``T_ε`` / ``T_ε(L=1)``) is interpolated
    linearly in ``ln m`` between ``m_{i-1}`` and ``m_i`` to where it crosses ``ln 2``:

    .. math:: \ln m^* = \ln m_{i-1} + \frac{\ln 2 - \ln r_{i-1}}{\ln r_i - \ln r_{i-1}} (\ln m_i - \ln m_{i-1})

    ``m_i`` itself where ``i = 0`` or ``r_{i-1}`` is not finite (censored); NaN where no width
    qualifies. A power-of-two grid quantises :func:`critical_width` to octaves (a slope of exactly 1
    from four octave steps); the crossing is not quantised."""
    reference = float(median_t_eps(ds).sel(depth=1).isel(width=0))
    ratio = (median_t_eps(ds) / reference).transpose("depth", "width").values
    ok = (ratio <= 2) & (fraction_converged(ds).transpose("depth", "width").values == 1)
    log_m = np.log(ds["width"].values.astype(float))
    out = np.full(ratio.shape[0], np.nan)
    for k in range(ratio.shape[0]):
        hits = np.flatnonzero(ok[k])
        if hits.size == 0:
            continue
        i = int(hits[0])
        out[k] = np.exp(log_m[i])
        if i > 0 and np.isfinite(ratio[k, i - 1]) and ratio[k, i - 1] > 2 and ratio[k, i] > 0:
            lo, hi = np.log(ratio[k, i - 1]), np.log(ratio[k, i])
            out[k] = np.exp(log_m[i - 1] + (np.log(2) - lo) / (hi - lo) * (log_m[i] - log_m[i - 1]))
    return xr.DataArray(out, coords={"depth": ds["depth"]}, dims="depth", name="critical_width")


#: a late-slope window is in the single-mode regime when the slopes of its two halves agree to 10 %
SINGLE_MODE_TOLERANCE = 0.1


def _window_slope(steps: np.ndarray, log_loss: np.ndarray) -> float:
    """The slope over the window, or NaN where its two halves (>= 3 points each) differ by more
    than :data:`SINGLE_MODE_TOLERANCE`: the slowest mode does not dominate yet."""
    slope = fit_line(steps, log_loss).slope
    half = steps.size // 2
    if half >= 3:
        first = fit_line(steps[:half], log_loss[:half]).slope
        second = fit_line(steps[half:], log_loss[half:]).slope
        if abs(first / second - 1) > SINGLE_MODE_TOLERANCE:
            return np.nan
    return slope


def late_log_slope(ds: xr.Dataset) -> xr.DataArray:
    """Slope of ``ln loss`` against the step over the logged points in ``[T_ε, T_late]`` (from
    ``ε·loss(0)`` down to ``late_ε·loss(0)``, where the slowest mode dominates) of each run that
    reached ``late_ε`` (lr factor 1); NaN otherwise, with fewer than 3 points, or where the window
    is not yet in the single-mode regime (:func:`_window_slope`). That happens when a seed's initial
    residual has little weight on the slowest mode: faster modes still decay inside the window and
    its local slope falls from about 1.8 to 1.1 times the limit slope across it (seen at m = 10^5,
    where the finite-width deviation is 10^-3); such a run says nothing about the width's effect."""
    sub = ds.sel(lr_factor=1.0)
    steps = ds["step"].values
    out = np.full(sub["t_eps"].shape, np.nan)
    loss = sub["loss"].values
    t_eps, t_late = sub["t_eps"].values, sub["t_late"].values
    for idx in np.ndindex(t_eps.shape):
        start, end = t_eps[idx], t_late[idx]
        if not (np.isfinite(start) and np.isfinite(end)):
            continue
        keep = (steps >= start) & (steps <= end)
        if keep.sum() >= 3:
            out[idx] = _window_slope(steps[keep], np.log(loss[idx][keep]))
    return xr.DataArray(out, dims=sub["t_eps"].dims, coords=sub["t_eps"].coords)


def theorem_bound_curve(ds: xr.Dataset) -> xr.DataArray:
    """Theorem 4.1's bound :math:`(1 - \\eta L\\lambda_r/(4 d_{out}))^t` on ``loss / loss(0)``,
    per depth at the theorem's step."""
    return theorem_rate(ds["lr"], ds["depth"], ds["lambda_r"], ds.attrs["output_dim"]) ** ds["step"]


def slope_ratio_to_wide_limit(ds: xr.Dataset) -> xr.DataArray:
    r"""Late slope of ``ln loss`` divided by the wide-limit slope :math:`2\ln(1 - \eta L\lambda_r/d_{out})`
    per (depth, width, seed) at the theorem's step."""
    limit = wide_limit_log_slope(ds["lr"], ds["depth"], ds["lambda_r"], ds.attrs["output_dim"])
    return late_log_slope(ds) / limit


# ---- narrow nets (claim D4) --------------------------------------------------------------------


def narrow_width(ds: xr.Dataset, width: int) -> xr.Dataset:
    """The narrow dataset of one width, on the depths that width ran (the combined dataset pads
    the shallower width's grid with ``not_run`` cells)."""
    sub = ds.sel(width=[width])
    ran = (sub["status"] != run_status.NOT_RUN).any(("width", "seed", "lr_factor"))
    return sub.sel(depth=ran)


def narrow_medians(ds: xr.Dataset, epsilon: float, variable: str = "t_hit_flow") -> xr.DataArray:
    """Censoring-aware median over seeds of the first-hit time at ``epsilon`` per (width, depth,
    lr factor): ``inf`` unless more than half the seeds reached it (then it is exact)."""
    return _censored_median_over_seeds(ds[variable].sel(epsilon=epsilon))


def narrow_median_lower_bounds(ds: xr.Dataset, epsilon: float) -> xr.DataArray:
    """A lower bound on every cell's median flow time: the median with each censored run's time
    replaced by the time at which it stopped (its true time is later); exact where the median is."""
    stopped = ds["stop_step"] * ds["flow_per_step"]
    times = ds["t_hit_flow"].sel(epsilon=epsilon).fillna(stopped)
    diverged = ds["status"] == run_status.DIVERGED
    return times.where(~diverged, np.inf).median("seed")


def best_factor(ds: xr.Dataset) -> xr.DataArray:
    """Per (width, depth): the step-size factor with the fewest median *steps* to the smallest
    epsilon (the cost; exact medians only); NaN where no factor's median is known."""
    eps = float(ds["epsilon"].min())
    steps = narrow_medians(ds, eps, "t_hit")
    known = np.isfinite(steps).any("lr_factor")
    best = steps.where(np.isfinite(steps), np.inf).fillna(np.inf).argmin("lr_factor")
    return ds["lr_factor"][best].where(known)


def best_narrow_median(ds: xr.Dataset, epsilon: float) -> tuple[xr.DataArray, xr.DataArray]:
    """``(median, censored)`` per (width, depth): the median flow time at ``epsilon`` of the best
    factor (:func:`best_factor`); where no factor's median is known, the smallest lower bound over
    factors with ``censored = True`` (the true median is larger)."""
    factor = best_factor(ds)
    medians = narrow_medians(ds, epsilon)
    exact = medians.sel(lr_factor=factor.fillna(ds["lr_factor"][0])).where(factor.notnull())
    bound = narrow_median_lower_bounds(ds, epsilon).min("lr_factor")
    censored = ~np.isfinite(exact.fillna(np.inf))
    return exact.where(~censored, bound).drop_vars("lr_factor", errors="ignore"), censored


def depth_law_design(depths: np.ndarray) -> np.ndarray:
    """Design matrix of ``ln T = a + b L + c ln L``."""
    depths = np.asarray(depths, dtype=np.float64)
    return np.column_stack([np.ones_like(depths), depths, np.log(depths)])


def fit_depth_law(depths: np.ndarray, log_t: np.ndarray) -> np.ndarray:
    """Least-squares ``(a, b, c)`` of ``ln T = a + b L + c ln L`` (b: the exponential rate per layer)."""
    coef, *_ = np.linalg.lstsq(depth_law_design(depths), np.asarray(log_t, dtype=np.float64), rcond=None)
    return coef


def bootstrap_depth_law(
    times: np.ndarray, censored: np.ndarray, depths: np.ndarray, n_boot: int, seed: int
) -> np.ndarray:
    """Bootstrap replicates of ``(a, b, c)``: resample the seeds of every depth with replacement,
    take the censoring-aware median per depth and refit on the depths whose median is known.

    ``times``/``censored`` are (depth, seed). Returns (n_boot, 3); a replicate with fewer than 4
    known depths is NaN.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    n_depth, n_seed = times.shape
    out = np.full((n_boot, 3), np.nan)
    for b in range(n_boot):
        idx = rng.integers(0, n_seed, size=(n_depth, n_seed))
        med = censored_median(np.take_along_axis(times, idx, 1), np.take_along_axis(censored, idx, 1), axis=1)
        ok = np.isfinite(med)
        if ok.sum() >= 4:
            out[b] = fit_depth_law(depths[ok], np.log(med[ok]))
    return out
