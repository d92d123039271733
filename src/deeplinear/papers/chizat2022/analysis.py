"""Chizat et al. (2022): distances between finite-width and limit trajectories and other statistics
of the combined datasets, shared by claims and figures."""

from __future__ import annotations

import numpy as np
import xarray as xr

from deeplinear.numerics.stats import fit_line

#: Claim C7 fits the word Gram deviation from this width on (below it, long words are pre-asymptotic).
WORD_MIN_WIDTH = 512


def sup_distance_to_limit(finite: xr.Dataset) -> xr.DataArray:
    r""":math:`\sup_{t \le T}\lVert\beta_m(t) - \beta_\infty(t)\rVert_F` per width and seed."""
    return finite["distance_to_limit"].max("step")


def fluctuation_constant(finite: xr.Dataset) -> xr.Dataset:
    r"""The fluctuation constant :math:`\sqrt m\, E\sup_t\lVert\beta_m(t) - \beta_\infty(t)\rVert`
    per width: its seed mean, standard error and normal 95 % interval (``mean``, ``se``, ``low``,
    ``high``). Beyond the paper: the m^{-1/2} rate says this converges to a finite constant."""
    scaled = np.sqrt(finite["width"]) * sup_distance_to_limit(finite)
    n = scaled.notnull().sum("seed")
    mean = scaled.mean("seed")
    se = scaled.std("seed", ddof=1) / np.sqrt(n)
    return xr.Dataset({"mean": mean, "se": se, "low": mean - 1.96 * se, "high": mean + 1.96 * se})


def decades(widths) -> float:
    """How many decades a set of widths spans, ``log10(max / min)``."""
    widths = np.asarray(widths, dtype=float)
    return float(np.log10(widths.max() / widths.min()))


def limit_convergence_fit(lim: xr.Dataset) -> dict[str, float]:
    """Log-linear fit of :math:`\\lVert\\beta_\\infty(t) - C\\Sigma^+\\rVert` against the step,
    over the steps before it falls below ``1e-10`` of its initial value (the float64 floor).
    All NaN (steps -1) when the distance is not finite (a limit run that diverged)."""
    dist = lim["distance_to_min_norm_limit"].values
    steps = lim["step"].values
    keep = dist > 1e-10 * dist[0]
    if keep.sum() < 2:
        nan = float("nan")
        return {"rate": nan, "intercept": nan, "r_squared": nan, "first": -1, "last": -1, "final": float(dist[-1])}
    fit = fit_line(steps[keep], np.log(dist[keep]))
    return {
        "rate": fit.slope,
        "intercept": fit.intercept,
        "r_squared": fit.r_squared,
        "first": int(steps[keep][0]),
        "last": int(steps[keep][-1]),
        "final": float(dist[-1]),
    }
