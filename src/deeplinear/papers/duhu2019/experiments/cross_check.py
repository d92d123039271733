"""Du & Hu (2019): the cross-check, brute force and the deep reduction at the same widths (claim D7)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.duhu2019.about import KEY
from deeplinear.papers.duhu2019.experiments.cells import cell_work, run_cell, run_cell_reduced
from deeplinear.papers.duhu2019.experiments.setup import log_grid, make_data
from deeplinear.variables import attrs, status_attrs


def cross_check_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per depth ``2 <= L <= cross_check_max_depth`` of the phase diagram (every depth
    ``>= 2`` without that key): both methods at ``cross_check_widths``. The reduction's cost per
    run grows steeply where a width is much narrower than the depth (its bases fill the hidden
    spaces and ``T_eps`` grows), so a paper-scale grid may stop the cross-check below its deepest
    depth."""
    if min(section["cross_check_widths"]) < section["output_dim"]:
        raise ValueError(
            f"{KEY}.phase_diagram.cross_check_widths must be >= output_dim ({section['output_dim']}): "
            "narrower nets cannot reach OPT = 0"
        )
    cases = {}
    for case, params in one_job_per(section, "depths", "depth", "L").items():
        if 1 < params["depth"] <= section.get("cross_check_max_depth", math.inf):
            cases[case] = params
    if not cases:
        raise ValueError(
            f"{KEY}.phase_diagram: the cross-check needs a depth >= 2 (and <= cross_check_max_depth, if given)"
        )
    return cases


def run_cross_check(ctx: JobContext) -> xr.Dataset:
    """``cross_check_seeds`` runs per width and method at the theorem's step (independent draws:
    the methods are compared in law): ``T_ε``, outcome and the loss at the logged steps."""
    p = {**ctx.params, "n_seeds": ctx.params["cross_check_seeds"]}
    depth, widths = p["depth"], p["cross_check_widths"]
    X, Y = make_data(p, ctx.streams)
    steps = log_grid(p)
    shape = (2, len(widths), p["n_seeds"])
    status, t_eps = np.zeros(shape, dtype=np.int8), np.full(shape, np.nan)
    loss = np.full((*shape, steps.size), np.nan)
    for iw, m in enumerate(widths):
        label = f"{KEY} cross-check L={depth} m={m}" if ctx.progress else False
        brute = run_cell(p, X, Y, depth, m, [1.0], ctx.device, label, ctx.streams)
        reduced = run_cell_reduced(p, X, Y, depth, m, ctx.streams, label)
        for k, cell in enumerate((brute, reduced)):
            status[k, iw] = cell["status"][:, 0]
            t_eps[k, iw] = np.where(cell["t_eps"][:, 0] >= 0, cell["t_eps"][:, 0], np.nan)
            loss[k, iw] = cell["loss"][:, 0]
    dims = ("depth", "solver", "width", "seed")  # not "method": a keyword of xarray's sel
    ds = xr.Dataset(
        {
            "status": (dims, status[None], status_attrs("did not reach epsilon within max_steps")),
            "t_eps": (
                dims,
                t_eps[None],
                attrs("T_eps: first step with loss <= eps * loss(0) (NaN unless reached)", "step"),
            ),
            "loss": ((*dims, "log_point"), loss[None], attrs("loss 1/2 ||alpha W_L...W_1 X - Y||_F^2")),
        },
        coords={
            "depth": [depth],
            "solver": ["brute_force", "reduction"],
            "width": np.asarray(widths),
            "seed": np.arange(p["n_seeds"]),
            "log_point": np.arange(steps.size),
            "step": ("log_point", steps, attrs("GD step", "step")),
        },
    )
    ds.attrs.update(epsilon=p["epsilon"], max_steps=p["max_steps"])
    return ds


def cross_check_cost(p: Mapping[str, Any]) -> JobCost:
    """Both methods at each cross-check width (:func:`cell_work` of each)."""
    L, n = p["depth"], p["cross_check_seeds"]
    brute = {**p, "reduction_min_width": math.inf}
    reduced = {**p, "reduction_min_width": 1}
    work = sum(cell_work(brute, L, m, n) + cell_work(reduced, L, m, n) for m in p["cross_check_widths"])
    return JobCost(work=work, memory_bytes=8 * 4 * n * L * max(p["cross_check_widths"]) ** 2)
