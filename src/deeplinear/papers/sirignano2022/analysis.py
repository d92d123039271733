"""Sirignano & Spiliopoulos (2022): statistics of the combined datasets shared by claims and figures."""

from __future__ import annotations

import numpy as np
import xarray as xr

from deeplinear.papers.sirignano2022.theory import ode_law


def distance_to_ode(ds: xr.Dataset) -> xr.DataArray:
    r""":math:`\lVert h^N_T - h^{ODE}_T\rVert` (over the training set) at the final logged time, per width and
    seed; NaN for a seed a width did not run (``skipna=False``: xarray's default sum would make it 0)."""
    last = ds.isel(log_point=-1)
    return np.sqrt(((last["h"] - last["h_ode"]) ** 2).sum("train", skipna=False))


def seed_counts(ds: xr.Dataset) -> xr.DataArray:
    """Seeds run at each width (widths may run different counts, ``seeds_by_width``: the combined
    dataset pads the others with NaN); a run's final movement is finite whenever it ran."""
    return ds["c_movement"].notnull().sum("seed")


def width_run(ds: xr.Dataset, width: int) -> xr.Dataset:
    """``ds`` at one width with only the seeds that width ran (the NaN padding dropped)."""
    sub = ds.sel(width=width)
    return sub.isel(seed=np.flatnonzero(sub["c_movement"].notnull().values))


def law_widths(ds: xr.Dataset) -> np.ndarray:
    """The widths that ran the most seeds: where the z-tests of S4 and S5 run (their normal
    approximation of seed means and covariances needs the seeds; the widest widths, run with fewer
    seeds, serve the slopes of S2 and S3)."""
    counts = seed_counts(ds)
    return ds["width"].values[(counts == counts.max()).values]


def lambda_min(A: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((A + A.T) / 2).min())


def law_z_from_samples(h: np.ndarray, mean_pred: np.ndarray, cov_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-scores of the seed mean and of the seed covariance of ``h`` (times, seeds, M) against a
    Gaussian law with means ``mean_pred`` (times, M) and covariances ``cov_pred`` (times, M, M):
    ``(sample mean - mean) / (sd / sqrt(S))`` and, for the products centred at the predicted mean,
    ``(mean product - cov) / (sd of the products / sqrt(S))``."""
    S = h.shape[1]
    z_mean = (h.mean(1) - mean_pred) / (h.std(1, ddof=1) / np.sqrt(S))
    c = h - mean_pred[:, None, :]
    prods = c[:, :, :, None] * c[:, :, None, :]
    z_cov = (prods.mean(1) - cov_pred) / (prods.std(1, ddof=1) / np.sqrt(S))
    return z_mean, z_cov


def law_z_scores(ds: xr.Dataset, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-scores of the seed mean and of the seed covariance of ``h^N_t`` against the random
    ODE's Gaussian law, at every logged time (the first one excluded from the mean: it is 0)."""
    sub = width_run(ds, width)
    times = sub["time"].values
    mean_pred, cov_pred = ode_law(sub["A"].values, sub["y"].values, sub["sigma_g"].values, times)
    z_mean, z_cov = law_z_from_samples(sub["h"].transpose("log_point", "seed", "train").values, mean_pred, cov_pred)
    return times, z_mean, z_cov
