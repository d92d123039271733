"""Tests of deeplinear.papers.duhu2019.analysis."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear.numerics import run_status
from deeplinear.papers.duhu2019 import about, analysis, experiments
from deeplinear.pipeline.jobs import job_context

from .common import SMALL


def test_capped_and_diverged_runs_are_data_not_errors():
    """A tiny cap marks runs capped; a huge step marks them diverged; the job still finishes."""
    capped = experiments.run_phase_diagram(
        job_context(about.KEY, "phase_diagram", "L_3", {**SMALL, "depth": 3, "max_steps": 3})
    )
    assert (capped["status"].sel(lr_factor=1.0) == run_status.CAPPED).all()
    assert capped["t_eps"].sel(lr_factor=1.0).isnull().all()
    wild = {**SMALL, "depth": 3, "lr_factors": [1.0, 5000.0]}
    diverged = experiments.run_phase_diagram(job_context(about.KEY, "phase_diagram", "L_3", wild))
    assert (diverged["status"].sel(width=1, lr_factor=5000.0) == run_status.DIVERGED).all()
    assert np.isinf(analysis.median_t_eps(diverged, 5000.0).sel(depth=3, width=1))


def test_interpolated_critical_width_finds_the_crossing_between_grid_widths():
    """Median T_eps ratios 8, 4, 1, 1 at widths 1, 2, 4, 8: ln r crosses ln 2 halfway between
    ln 2 (r = 4) and ln 4 (r = 1), so m* = 2^1.5; the grid rule says 4."""
    import xarray as xr

    from deeplinear.numerics import run_status
    from deeplinear.papers.duhu2019.analysis import critical_width, critical_width_interpolated

    widths, ratios = [1, 2, 4, 8], [8.0, 4.0, 1.0, 1.0]
    t_eps = np.array([[10.0] * 4, [10.0 * r for r in ratios]])[:, :, None, None] * np.ones((1, 1, 1, 3))
    ds = xr.Dataset(
        {
            "t_eps": (("depth", "width", "lr_factor", "seed"), t_eps),
            "status": (("depth", "width", "lr_factor", "seed"), np.full(t_eps.shape, run_status.CONVERGED)),
        },
        coords={"depth": [1, 2], "width": widths, "lr_factor": [1.0], "seed": [0, 1, 2]},
    )
    assert float(critical_width(ds).sel(depth=2)) == 4
    assert float(critical_width_interpolated(ds).sel(depth=2)) == pytest.approx(2**1.5, rel=1e-12)
    assert float(critical_width_interpolated(ds).sel(depth=1)) == 1  # qualifies at the first width


def test_late_slope_window_must_be_single_mode():
    """A loss with one mode gives its rate; a second, faster mode still decaying inside the window
    (weight 100 at rate 1.8x: the local slope falls from about 1.8x to 1.1x the slow rate) is not
    the slowest mode alone, and gives NaN."""
    steps = np.arange(0.0, 60.0, 6.0)
    one_mode = -0.17 * steps
    assert analysis._window_slope(steps, one_mode) == pytest.approx(-0.17)
    two_modes = np.log(np.exp(-0.17 * steps) + 100 * np.exp(-0.17 * 1.8 * steps))
    assert np.isnan(analysis._window_slope(steps, two_modes))
    assert analysis._window_slope(steps[:5], two_modes[:5]) < 0  # too few points to check: kept
