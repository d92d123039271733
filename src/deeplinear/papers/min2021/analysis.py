"""Min et al. (2021): statistics of the combined datasets shared by claims and figures."""

from __future__ import annotations

import xarray as xr


def usable_points(ds: xr.Dataset) -> xr.DataArray:
    """Logged points before each run stopped (frozen values after a stop are not dynamics)."""
    return ds["step"] <= ds["stop_step"]


def time_to_fraction(ds: xr.Dataset, fraction: float) -> xr.DataArray:
    """First logged time at which the excess loss is <= ``fraction`` of its initial value."""
    rel = ds["excess_loss"] / ds["excess_loss"].isel(log_point=0)
    reached = rel <= fraction
    first = reached.argmax("log_point")
    t = ds["time"].isel(log_point=first)
    return t.where(reached.any("log_point"))
