"""Du & Hu (2019), experiment (iii): narrow nets (widths 1 and 2) at every depth, long runs (D4).

The arithmetic runs in :mod:`deeplinear.papers.duhu2019.narrow` (the narrow-net scans); this
module turns a config section into jobs and a job's runs into a dataset."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from deeplinear.numerics import run_status
from deeplinear.paper_api import JobContext, JobCost
from deeplinear.papers.duhu2019.about import KEY
from deeplinear.papers.duhu2019.experiments.setup import init_weights, make_data
from deeplinear.papers.duhu2019.theory import output_scale, theorem_lr
from deeplinear.variables import attrs, status_attrs


def narrow_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per narrow width; every depth ``1..max_depth``, step-size factor and seed of that
    width runs as one batch (:mod:`.narrow`)."""
    if len(section["max_depths"]) != len(section["widths"]):
        raise ValueError(f"{KEY}.narrow.max_depths must give one maximal depth per entry of widths")
    if section["output_dim"] != 1:
        raise ValueError(f"{KEY}.narrow.output_dim must be 1 (the narrow-net path has one output)")
    if section["rank"] > min(section["n_samples"], section["input_dim"]):
        raise ValueError(f"{KEY}.narrow.rank must be <= min(n_samples, input_dim)")
    _check_race_factor(section)
    if len(section["lr_factors"]) < 3:
        raise ValueError(f"{KEY}.narrow.lr_factors needs at least 3 factors to bracket the fastest one")
    cases = {}
    for width, max_depth in zip(section["widths"], section["max_depths"], strict=True):
        params = {k: v for k, v in section.items() if k not in ("widths", "max_depths")}
        cases[f"m_{width}"] = {
            **params,
            "width": int(width),
            "max_depth": int(max_depth),
            "grid_depth": int(max(section["max_depths"])),  # every job's dataset spans the same depths
        }
    return cases


def _check_race_factor(section: Mapping[str, Any]) -> None:
    """The race must never stop the cell that would have been fastest. A cell stopped at step
    ``t`` has fewer than a majority of its seeds converged by ``t``. With an odd number of seeds its
    median is that majority's last member, so it exceeds ``t``: ``race_factor >= 1`` is exact. With
    an even number its median averages two order statistics of which only the upper one is known to
    exceed ``t``, so it exceeds ``t / 2``: exactness needs ``race_factor >= 2``."""
    minimum = 1.0 if section["n_seeds"] % 2 else 2.0
    if section["race_factor"] < minimum:
        raise ValueError(
            f"{KEY}.narrow.race_factor ({section['race_factor']}) must be >= {minimum:g} with "
            f"n_seeds = {section['n_seeds']} ({'odd' if minimum == 1 else 'even'}): a smaller factor could stop the "
            "cell whose median is the fastest (use an odd n_seeds for race_factor 1)"
        )


def run_narrow(ctx: JobContext) -> xr.Dataset:
    """Narrow nets (width 1 or 2) at every depth ``L = 1..max_depth``: for each threshold epsilon,
    the first step with ``loss <= epsilon * loss(0)`` per (depth, step-size factor, seed); times
    also in gradient-flow units ``step * eta * L`` (removing the trivial factor L of ``eta ∝ 1/L``).
    Runs not converged are right-censored at ``stop_step`` (the cap, or an early stop once the
    cell's median is known or the cell lost the step-size race; :mod:`.narrow`)."""
    from deeplinear.papers.duhu2019 import narrow

    p = ctx.params
    m = p["width"]
    X, Y = make_data(p, ctx.streams)
    data = narrow.EigenData.from_data(X, Y, p["rank"])
    depths = list(range(1, p["max_depth"] + 1))
    factors = [float(f) for f in p["lr_factors"]]
    networks, alphas, lr, cell = _narrow_members(p, ctx.streams, data.lam[0], depths, factors)
    chains = narrow.chains_from_weights(networks, alphas, data)
    result = narrow.train_cells(
        chains,
        data,
        np.asarray(lr),
        np.asarray(cell),
        np.repeat(np.arange(len(depths)), len(factors)),
        p["max_steps"],
        p["epsilons"],
        race_factor=p["race_factor"],
        progress=ctx.progress_label,
    )
    ds = _narrow_dataset(p, result, depths, factors, np.asarray(lr)).expand_dims(width=[m])
    ds.attrs.update(max_steps=p["max_steps"], race_factor=p["race_factor"], steps_run=result.steps_run)
    return _pad_depths(ds, p.get("grid_depth", p["max_depth"]))


def _narrow_members(p, streams, lam_max: float, depths: list[int], factors: list[float]):
    """Every (depth, seed, factor) member, factor fastest: its initial weights, output scale,
    step size and cell index ``depth index * n_factors + factor index``."""
    m, n_f = p["width"], len(factors)
    networks, alphas, lr, cell = [], [], [], []
    for i, L in enumerate(depths):
        for s in range(p["n_seeds"]):
            ws = init_weights(L, m, p["input_dim"], 1, streams.rng(f"narrow-L{L}", m if L > 1 else 0, s))
            for j, f in enumerate(factors):
                networks.append(ws)
                alphas.append(output_scale(m, L, 1))
                lr.append(f * theorem_lr(L, 1, lam_max))
                cell.append(i * n_f + j)
    return networks, alphas, lr, cell


def _narrow_dataset(p, result, depths: list[int], factors: list[float], lr: np.ndarray) -> xr.Dataset:
    """One width's first-hit times, outcomes and step sizes over (depth, seed, factor, epsilon)."""
    n_s, n_f = p["n_seeds"], len(factors)
    shape = (len(depths), n_s, n_f)
    eps = sorted(p["epsilons"], reverse=True)
    hit = result.hit_step.reshape(*shape, len(eps)).astype(float)
    hit[hit < 0] = np.nan
    lr_grid = lr.reshape(shape)[:, 0, :]  # (depth, factor)
    flow_unit = lr_grid * np.asarray(depths)[:, None]
    dims = ("depth", "seed", "lr_factor")
    flags = status_attrs(not_run=True)
    flags["comment"] = "capped: right-censored at stop_step (the step cap, or an early stop that keeps medians exact)"
    variables = {
        "t_hit": (
            (*dims, "epsilon"),
            hit,
            attrs("first step with loss <= epsilon * loss(0) (NaN: censored at stop_step, or diverged)", "step"),
        ),
        "t_hit_flow": (
            (*dims, "epsilon"),
            hit * flow_unit[:, None, :, None],
            attrs("first-hit time in gradient-flow units, step * eta * L", "time"),
        ),
        "status": (dims, result.status.reshape(shape), flags),
        "stop_step": (dims, result.stop_step.reshape(shape), attrs("step at which the run stopped", "step")),
        "lr": (("depth", "lr_factor"), lr_grid, attrs("step size eta = factor * d_out / (3 L ||X^T X||)")),
        "flow_per_step": (("depth", "lr_factor"), flow_unit, attrs("gradient-flow time per step, eta * L", "time")),
    }
    coords = {
        "depth": np.asarray(depths),
        "seed": np.arange(n_s),
        "lr_factor": np.asarray(factors),
        "epsilon": np.asarray(eps),
    }
    return xr.Dataset(variables, coords=coords)


def _pad_depths(ds: xr.Dataset, grid_depth: int) -> xr.Dataset:
    """Extend the depth axis to ``1..grid_depth`` with ``not_run`` cells (status flag, stop step -1,
    NaN times), so that the widths' jobs combine into one grid with integer flags."""
    if grid_depth <= int(ds["depth"].max()):
        return ds
    fill = {name: np.nan for name in ds.data_vars}
    fill.update(status=run_status.NOT_RUN, stop_step=-1)
    padded = ds.reindex(depth=np.arange(1, grid_depth + 1), fill_value=fill)
    for name in ("status", "stop_step"):
        padded[name] = padded[name].astype(ds[name].dtype)
        padded[name].attrs = ds[name].attrs
    return padded


#: The fastest median ``T(L) ~ T0 exp(b L)`` (steps to 1e-6 of the loss) of the narrow nets, per
#: width: ``(T0, b)`` read off a quick run (widths 1 and 2, depths to 24 and 32, 33 seeds: the best
#: step-size factor's median at L = 4..24 and 8..32). Used by :func:`narrow_cost` only.
MEDIAN_GROWTH = {1: (58.0, 0.19), 2: (40.0, 0.114)}


def narrow_steps(width: int, depth: int, max_steps: int) -> float:
    """Steps of the fastest cell at one depth, from :data:`MEDIAN_GROWTH` (the widest width's
    growth for wider nets), at most the cap."""
    t0, b = MEDIAN_GROWTH.get(width, MEDIAN_GROWTH[max(MEDIAN_GROWTH)])
    return min(max_steps, t0 * math.exp(b * depth))


def narrow_cost(p: Mapping[str, Any]) -> JobCost:
    """All depths to ``max_depth`` in one batch of seeds x factors. The race keeps every cell of a
    depth running until about ``race_factor`` times the depth's fastest median (:func:`narrow_steps`,
    exponential in the depth), so the member-steps are about ``seeds x factors x race_factor x
    sum_L L T(L)`` layer-steps, a layer-step of width m costing about ``(1 + m^2) / 2`` times one of
    width 1 (3.4 and 7.9 ns for widths 1 and 2: bench_narrow.py)."""
    members = p["n_seeds"] * len(p["lr_factors"])
    layer_steps = sum(L * narrow_steps(p["width"], L, p["max_steps"]) for L in range(1, p["max_depth"] + 1))
    work = members * p["race_factor"] * layer_steps * (1 + p["width"] ** 2) / 2 / 1e6
    return JobCost(work=work, memory_bytes=8 * members * p["grid_depth"] * p["width"] ** 2 * 4)
