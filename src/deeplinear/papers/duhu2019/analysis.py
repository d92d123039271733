"""Du & Hu (2019): statistics of the combined datasets shared by claims and figures (T_eps medians,
m*(L), late slopes, the theorem's bound curve)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from deeplinear import engine
from deeplinear.papers.duhu2019.experiments import STATUS_NOT_RUN
from deeplinear.papers.duhu2019.theory import theorem_rate, wide_limit_log_slope
from deeplinear.stats import censored_median, fit_line


def _censored_median_over_seeds(t_eps: xr.DataArray) -> xr.DataArray:
    """Censoring-aware median of ``T_ε`` over seeds: capped and diverged runs (NaN) are
    right-censored; the median is ``inf`` ("> cap") unless fewer than half the seeds are."""
    return xr.apply_ufunc(
        censored_median, t_eps, np.isnan(t_eps), input_core_dims=[["seed"], ["seed"]], kwargs={"axis": -1}
    )


def median_t_eps(ds: xr.Dataset, lr_factor: float = 1.0) -> xr.DataArray:
    """Median ``T_ε`` over seeds at one step-size multiplier (capped/diverged runs censored)."""
    return _censored_median_over_seeds(ds["t_eps"].sel(lr_factor=lr_factor))


def best_median_t_eps(ds: xr.Dataset) -> xr.DataArray:
    """The smallest median ``T_ε`` over the step-size multipliers that ran (for narrow nets)."""
    ran = (ds["status"] != STATUS_NOT_RUN).all("seed")
    return _censored_median_over_seeds(ds["t_eps"]).where(ran).min("lr_factor")


def fraction_converged(ds: xr.Dataset, lr_factor: float = 1.0) -> xr.DataArray:
    return (ds["status"].sel(lr_factor=lr_factor) == engine.STATUS_CODES[engine.STATUS_CONVERGED]).mean("seed")


def critical_width(ds: xr.Dataset) -> xr.DataArray:
    """``m*(L)``: the smallest width whose median ``T_ε`` is ``<= 2 T_ε(L=1)`` with every seed
    converged (our rule; the paper has no experiments); NaN where no width qualifies."""
    reference = float(median_t_eps(ds).sel(depth=1).isel(width=0))
    ok = (median_t_eps(ds) <= 2 * reference) & (fraction_converged(ds) == 1)
    widths = ds["width"].where(ok)
    return widths.min("width")


def late_log_slope(ds: xr.Dataset) -> xr.DataArray:
    """Slope of ``ln loss`` against the step over the logged points in ``[T_ε/2, T_ε]`` of each
    converged run (lr factor 1); NaN with fewer than 3 points."""
    sub = ds.sel(lr_factor=1.0)
    steps = ds["step"].values
    out = np.full(sub["t_eps"].shape, np.nan)
    loss = sub["loss"].values
    t_eps = sub["t_eps"].values
    for idx in np.ndindex(t_eps.shape):
        t = t_eps[idx]
        if not np.isfinite(t):
            continue
        keep = (steps >= t / 2) & (steps <= t)
        if keep.sum() >= 3:
            out[idx] = fit_line(steps[keep], np.log(loss[idx][keep])).slope
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
