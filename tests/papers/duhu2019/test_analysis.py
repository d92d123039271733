"""Tests of deeplinear.papers.duhu2019.analysis."""

from __future__ import annotations

import numpy as np

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
