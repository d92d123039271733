"""Du & Hu (2019), experiment (i): the phase diagram, T_eps over (depth, width, step size, seed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from deeplinear.numerics import run_status
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.duhu2019.about import KEY, WIDE
from deeplinear.papers.duhu2019.experiments.cells import (
    METHOD_BRUTE_FORCE,
    METHOD_NARROW,
    METHOD_REDUCTION,
    cell_method,
    cell_work,
    method_attrs,
    reduction_basis,
    run_cell,
    run_cell_narrow,
    run_cell_reduced,
    uses_reduction,
)
from deeplinear.papers.duhu2019.experiments.setup import MOVEMENT_LAYERS, check_widths, log_grid, make_data
from deeplinear.variables import attrs, status_attrs


def phase_diagram_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per (depth ``L``, width band): ``width_bands`` lists the bands' lower edges, so a
    deep network's slow narrow cells and its wide cells run side by side; all seeds and step-size
    multipliers of a cell inside (every depth has the same bands, so the jobs tile the grid)."""
    check_widths(section, "phase_diagram")
    if 1.0 not in section["lr_factors"]:
        raise ValueError(f"{KEY}.phase_diagram.lr_factors must contain 1.0 (the theorem's step)")
    if 1 not in section["depths"]:
        raise ValueError(
            f"{KEY}.phase_diagram.depths must contain 1: T_eps(L=1) is the reference of claims D2 and D3 "
            "and of the figures"
        )
    if section["rank"] > min(section["n_samples"], section["input_dim"]):
        raise ValueError(
            f"{KEY}.phase_diagram.rank ({section['rank']}) must be <= min(n_samples, input_dim) "
            f"({min(section['n_samples'], section['input_dim'])})"
        )
    if section["late_epsilon"] > section["epsilon"]:
        raise ValueError(f"{KEY}.phase_diagram.late_epsilon must be <= epsilon")
    edges = sorted(section["width_bands"])
    if edges[0] > min(section["widths"]):
        raise ValueError(
            f"{KEY}.phase_diagram.width_bands: the first band edge ({edges[0]}) must be <= the smallest width"
        )
    cases = {}
    for case, params in one_job_per(section, "depths", "depth", "L").items():
        for lo, hi in zip(edges, [*edges[1:], np.inf], strict=True):
            band = [m for m in section["widths"] if lo <= m < hi]
            if band:
                cases[f"{case}_m_{band[0]}-{band[-1]}"] = {**params, "widths": band}
    return cases


def run_phase_diagram(ctx: JobContext) -> xr.Dataset:
    """Every width of one depth ``L``: ``T_ε`` per (width, lr factor, seed), capped and diverged
    runs flagged, loss curves at logged steps, the hidden layers' relative movement and the
    normalised extremes of the Gram operator ``P(0)``. Widths above ``narrow_max_width`` run only
    the theorem's step (``lr_factor = 1``); their other factors are ``not_run``."""
    p = ctx.params
    device = ctx.device
    depth, widths, factors = p["depth"], p["widths"], [float(f) for f in p["lr_factors"]]
    X, Y = make_data(p, ctx.streams)
    steps = log_grid(p)
    n_w, n_f, n_s, n_t = len(widths), len(factors), p["n_seeds"], len(steps)
    out = {
        "status": np.full((n_w, n_f, n_s), run_status.NOT_RUN, dtype=np.int8),
        "stop_step": np.full((n_w, n_f, n_s), -1, dtype=np.int64),
        "t_eps": np.full((n_w, n_f, n_s), -1, dtype=np.int64),
        "t_late": np.full((n_w, n_f, n_s), -1, dtype=np.int64),
        "loss": np.full((n_w, n_f, n_s, n_t), np.nan),
        "movement": np.full((n_w, n_f, n_s), np.nan),
        "gram_min": np.full((n_w, n_s), np.nan),
        "gram_max": np.full((n_w, n_s), np.nan),
        "method": np.full(n_w, METHOD_BRUTE_FORCE, dtype=np.int8),
    }
    lr = np.nan
    shallow = None  # L = 1 has no hidden width: one run (all factors) serves every width
    for iw, m in enumerate(widths):
        run_factors = factors if m <= p["narrow_max_width"] else [1.0]
        label = f"{KEY} L={depth} m={m}" if ctx.progress else False
        method = out["method"][iw] = cell_method(p, depth, m)
        if depth == 1:
            shallow = shallow or run_cell(p, X, Y, depth, m, factors, device, label, ctx.streams)
            cell = {
                k: v if np.ndim(v) < 2 else v[:, [factors.index(f) for f in run_factors]] for k, v in shallow.items()
            }
        elif method == METHOD_REDUCTION:
            run_factors = [1.0]
            cell = run_cell_reduced(p, X, Y, depth, m, ctx.streams, label)
        elif method == METHOD_NARROW:
            cell = run_cell_narrow(p, X, Y, depth, m, run_factors, label, ctx.streams)
        else:
            cell = run_cell(p, X, Y, depth, m, run_factors, device, label, ctx.streams)
        lr = cell["lr"]
        idx = [factors.index(f) for f in run_factors]
        for name in ("status", "stop_step", "t_eps", "t_late", "movement"):
            out[name][iw, idx] = cell[name].T
        out["loss"][iw, idx] = np.moveaxis(cell["loss"], 0, 1)
        out["gram_min"][iw] = cell["gram_min"]
        out["gram_max"][iw] = cell["gram_max"]
    return _phase_diagram_dataset(p, X, widths, factors, steps, out, lr)


def _phase_diagram_dataset(p, X, widths, factors, steps, out, lr) -> xr.Dataset:
    """One depth's dataset from the per-width arrays ``out`` that :func:`run_phase_diagram` filled."""
    depth, n_s = p["depth"], p["n_seeds"]
    coords = {
        "depth": [depth],
        "width": np.asarray(widths),
        "lr_factor": np.asarray(factors),
        "seed": np.arange(n_s),
        "log_point": np.arange(steps.size),
        "step": ("log_point", steps, attrs("GD step", "step")),
    }
    ds = xr.Dataset(_phase_diagram_variables(p, X, out, lr), coords=coords)
    ds.attrs.update(
        output_dim=p["output_dim"],
        epsilon=p["epsilon"],
        late_epsilon=p["late_epsilon"],
        max_steps=p["max_steps"],
        rank=p["rank"],
    )
    return ds


def _phase_diagram_variables(p, X, out, lr) -> dict[str, tuple]:
    """The variables of one depth's dataset, with their attributes."""
    t_eps = np.where(out["t_eps"] >= 0, out["t_eps"], np.nan)
    t_late = np.where(out["t_late"] >= 0, out["t_late"], np.nan)
    dims = ("depth", "width", "lr_factor", "seed")
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    return {
        "method": (("depth", "width"), out["method"][None], method_attrs()),
        "status": (dims, out["status"][None], status_attrs(not_run=True)),
        "t_eps": (
            dims,
            t_eps[None],
            attrs("T_eps: first step with loss <= eps * loss(0) (NaN unless converged)", "step"),
        ),
        "t_late": (
            dims,
            t_late[None],
            attrs(
                f"first step with loss <= late_epsilon * loss(0) (NaN unless reached; only wide cells, m >= {WIDE}L, "
                "run on to it)",
                "step",
            ),
        ),
        "loss": ((*dims, "log_point"), out["loss"][None], attrs("loss 1/2 ||alpha W_L...W_1 X - Y||_F^2")),
        "hidden_movement": (
            dims,
            out["movement"][None],
            attrs(
                f"max over hidden layers W_2..W_{{L-1}} (at most {MOVEMENT_LAYERS}, evenly spaced) of "
                "||W_i(end) - W_i(0)||_F / ||W_i(0)||_F"
            ),
        ),
        "gram_min_init": (
            ("depth", "width", "seed"),
            out["gram_min"][None],
            attrs("lambda_min(P(0)) on the column space of X / (L lambda_r(X^T X) / d_out)"),
        ),
        "gram_max_init": (
            ("depth", "width", "seed"),
            out["gram_max"][None],
            attrs("lambda_max(P(0)) / (L lambda_max(X^T X) / d_out)"),
        ),
        "lr": (("depth",), [lr], attrs("theorem step eta = d_out / (3 L ||X^T X||)")),
        "lambda_r": ((), lam[p["rank"] - 1], attrs("lambda_r(X^T X), smallest non-zero eigenvalue")),
        "lambda_max": ((), lam[0], attrs("lambda_max(X^T X)")),
    }


def phase_diagram_cost(p: Mapping[str, Any]) -> JobCost:
    """Sum of :func:`cell_work` over the job's widths (an L = 1 job is one small run)."""
    L = p["depth"]
    widths = p["widths"][:1] if L == 1 else p["widths"]
    work = sum(cell_work(p, L, m, p["n_seeds"]) for m in widths)
    # brute force holds every member's L matrices; the reduction one run's five k x k arrays per layer
    memory = max(
        8 * 5 * L * reduction_basis(L, m) ** 2 if uses_reduction(p, L, m) else 8 * 3 * p["n_seeds"] * L * m * m
        for m in widths
    )
    return JobCost(work=work, memory_bytes=memory)
