"""Chizat et al. (2022): data and the finite-width and limit experiments as job runners."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from deeplinear.numerics import engine, krylov, synthetic_data
from deeplinear.numerics.seeding import Streams
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.chizat2022.about import KEY
from deeplinear.papers.chizat2022.theory import (
    SHORT_TRUNCATIONS,
    Problem,
    finite_initial_weights,
    first_step_ratio,
    limit_trajectory,
    truncated_limit_trajectory,
    word_gram_deviation,
)
from deeplinear.variables import attrs, status_attrs


def make_problem(p: Mapping[str, Any], streams: Streams) -> Problem:
    """Data from the config: :math:`\\Sigma` has eigenvalues from 1 down to ``1/condition_number``
    on the row space of ``X`` (rank ``min(n, d)``); ``Y = X \\theta^\\top`` for a teacher
    :math:`\\theta` with entries :math:`N(0, 1/d)`, so :math:`\\lVert\\beta^*\\rVert = O(1)`.
    One draw per ``base_seed``, shared by every width, seed and the limit."""
    n, d, k = p["n_samples"], p["input_dim"], p["output_dim"]
    g = streams.rng("data")
    eig = synthetic_data.geometric_spectrum(min(n, d), p["condition_number"])
    X = synthetic_data.matrix_with_singular_values(n, d, np.sqrt(n * eig), g)
    theta = synthetic_data.gaussian_matrix(k, d, 1 / np.sqrt(d), g)
    return Problem(X, X @ theta.T)


# ---- experiments -----------------------------------------------------------------------------

DATA_KEYS = ("n_samples", "input_dim", "output_dim", "condition_number", "lr", "steps")


def finite_width_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The exact sampler: one job for every width (its cost per width is a second or two, flat in
    ``m``), over ``widths`` and the brute-force widths, so the two methods meet at every
    brute-force width (claim C10)."""
    params = {k: v for k, v in section.items() if k not in ("truncation_margins", "brute_force_widths")}
    params["widths"] = sorted(set(section["widths"]) | set(section["brute_force_widths"]))
    return {"all": params}


def brute_force_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Brute force (the cross-check): one job per brute-force width, the m x m matrices in memory."""
    params = {k: v for k, v in section.items() if k not in ("truncation_margins", "widths")}
    return one_job_per(params, "brute_force_widths", "width", "m")


def limit_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The single limit job; only the keys the limit depends on (widths and seeds are not)."""
    margins = section["truncation_margins"]
    if min(margins) < 2:
        raise ValueError(f"{KEY}.gd.truncation_margins ({margins}) must be >= 2: R >= T + 2 is needed for exactness")
    return {"limit": {k: section[k] for k in (*DATA_KEYS, "truncation_margins")}}


def _problem_variables(problem: Problem) -> dict[str, tuple]:
    return {
        "beta_star": (("out", "in"), problem.beta_star, attrs("minimum-norm risk minimiser C Sigma^+")),
        "C": (("out", "in"), problem.C, attrs("C = Y^T X / n")),
        "row_projector": (("in", "in_"), problem.row_projector, attrs("projector P_X onto the row space of X")),
    }


def _trajectory_variables(beta: np.ndarray, problem: Problem, dims: tuple[str, ...], label: str) -> dict[str, tuple]:
    """Risk, distance to :math:`C\\Sigma^+` and null-space part of a ``beta`` path (..., T+1, k, d)."""
    n = problem.X.shape[0]
    res = np.einsum("nd,...kd->...nk", problem.X, beta) - problem.Y
    null = beta - beta @ problem.row_projector
    return {
        "risk" + label: (dims, 0.5 * np.sum(res**2, axis=(-2, -1)) / n, attrs("risk ||X beta^T - Y||^2 / (2n)")),
        "distance_to_min_norm" + label: (
            dims,
            np.linalg.norm(beta - problem.beta_star, axis=(-2, -1)),
            attrs("||beta(t) - C Sigma^+||_F"),
        ),
        "null_space_norm" + label: (dims, np.linalg.norm(null, axis=(-2, -1)), attrs("||beta(t)(I - P_X)||_F")),
    }


def _problem_and_limit(ctx: JobContext) -> tuple[Problem, np.ndarray]:
    """The job's data and the exact infinite-width trajectory (once per job, shared by its widths)."""
    p = ctx.params
    problem = make_problem(p, ctx.streams)
    return problem, limit_trajectory(problem, p["lr"], p["steps"], 3, ctx.device)


def _run_dataset(
    ctx: JobContext,
    m: int,
    reference: tuple[Problem, np.ndarray],
    beta: np.ndarray,
    status: np.ndarray,
    gram: tuple[np.ndarray, np.ndarray],
    extra: dict,
) -> xr.Dataset:
    """The dataset of one width: trajectories summarised per (seed, step), the final predictor,
    the first-step ratio, the initial norm and the word Gram deviation; ``reference`` is
    :func:`_problem_and_limit`."""
    p = ctx.params
    d, k, steps, lr = p["input_dim"], p["output_dim"], p["steps"], p["lr"]
    problem, limit = reference
    beta = beta[None]  # (1, seed, step, k, d)
    dims = ("width", "seed", "step")
    traj = _trajectory_variables(beta, problem, dims, "")
    variables = {
        **traj,
        "distance_to_limit": (
            dims,
            np.linalg.norm(beta - limit, axis=(-2, -1)),
            attrs("||beta_m(t) - beta_inf(t)||_F (beta_inf: the exact infinite-width trajectory)"),
        ),
        "beta_final": (("width", "seed", "out", "in"), beta[:, :, -1], attrs("beta_m(T), the trained predictor")),
        **_problem_variables(problem),
        "status": (
            ("width", "seed"),
            status[None],
            status_attrs(),
        ),
        "first_step_ratio": (
            ("width", "seed"),
            first_step_ratio(beta[..., 0, :, :], beta[..., 1, :, :], problem.C, lr)
            if steps >= 1
            else np.full((1, beta.shape[1]), np.nan),
            attrs("<beta(1) - beta(0), C> / (eta ||C||^2); 3 in the limit"),
        ),
        "init_norm_ratio": (
            ("width", "seed"),
            m * np.sum(beta[..., 0, :, :] ** 2, axis=(-2, -1)) / (d * k),
            attrs("m ||beta(0)||^2 / (d k); mean 1"),
        ),
        "word_gram_deviation": (
            ("width", "seed"),
            gram[0][None],
            attrs(f"max |W^T W - I| over the Gaussian words of length <= {p['word_length']} at init"),
        ),
        "word_gram_rms_deviation": (
            ("width", "seed"),
            gram[1][None],
            attrs(f"root-mean-square entry of W^T W - I, words of length <= {p['word_length']} at init"),
        ),
        **extra,
    }
    coords = {"width": [m], "seed": np.arange(beta.shape[1]), "step": np.arange(steps + 1)}
    ds = xr.Dataset(variables, coords=coords)
    ds["step"].attrs.update(attrs("GD step", "step"))
    return ds


def run_brute_force(ctx: JobContext) -> xr.Dataset:
    """GD of the width-``m`` network (every m x m matrix in memory) for every seed at once."""
    p = ctx.params
    d, k, m, steps, lr = p["input_dim"], p["output_dim"], p["width"], p["steps"], p["lr"]
    reference = _problem_and_limit(ctx)
    problem = reference[0]
    seeds = np.arange(p["n_seeds"])
    inits = [finite_initial_weights(d, k, m, ctx.streams.rng("init", m, s)) for s in seeds]
    U, M0, V = (torch.as_tensor(np.stack(w), dtype=ctx.dtype, device=ctx.device) for w in zip(*inits, strict=True))
    del inits
    gram = tuple(t.cpu().numpy() for t in word_gram_deviation(U, M0, V, p["word_length"]))
    result = engine.train(
        [U, M0, V],
        problem.regression(ctx.device),
        lr,
        steps,
        clone=False,  # trains in place: one m x m matrix per seed in memory, not two
        log_steps=np.arange(steps + 1),
        metrics_fn=lambda ws, beta: {"beta": beta},
        progress=ctx.progress_label,
    )
    return _run_dataset(ctx, m, reference, np.moveaxis(result.metrics["beta"], 0, 1), result.status, gram, {})


def run_finite_width(ctx: JobContext) -> xr.Dataset:
    """Every width of ``widths`` by the exact Krylov sampler (:func:`run_exact_width`)."""
    widths = ctx.params["widths"]
    bar = tqdm(widths, desc=ctx.progress_label or "", disable=not ctx.progress, unit="width")
    reference = _problem_and_limit(ctx)
    return xr.concat(
        [run_exact_width(ctx, int(m), reference) for m in bar], dim="width", data_vars="minimal", coords="minimal"
    )


def run_exact_width(ctx: JobContext, m: int, reference: tuple[Problem, np.ndarray]) -> xr.Dataset:
    """The width-``m`` network by the exact Krylov sampler (:mod:`deeplinear.numerics.krylov`): the
    reduced initial state of every seed drawn directly (cost flat in ``m``), the depth chosen
    adaptively, GD on the reduced coordinates. Also records the distance of the trained Krylov
    coordinates to those of the infinite-width network at the same depth (claim C8).
    ``reference`` is :func:`_problem_and_limit`."""
    p = ctx.params
    d, k, steps, lr = p["input_dim"], p["output_dim"], p["steps"], p["lr"]
    data = reference[0].regression(ctx.device)
    seeds = range(p["n_seeds"])
    start = max(3, math.ceil(p["word_length"] / 2) + 1)

    def sample(depth: int) -> krylov.ReducedState:
        """Each call restarts every seed's stream, so a deeper draw extends a shallower one."""
        return krylov.sample_reduced(m, d, k, depth, [ctx.streams.rng("krylov-init", m, s) for s in seeds])

    state = krylov.choose_depth(sample, data, lr, steps, ctx.device, ctx.dtype, start=start)
    weights = krylov.reduced_weights(state, ctx.device, ctx.dtype)
    gram = tuple(t.cpu().numpy() for t in word_gram_deviation(*weights, p["word_length"]))
    limit = krylov.sample_reduced(krylov.INF, d, k, state.depth, None)
    same_layout = (limit.q_sizes, limit.p_sizes) == (state.q_sizes, state.p_sizes)
    limit_path = _coordinate_path(limit, data, lr, steps, ctx) if same_layout else None
    B0 = weights[1].clone()
    distance = torch.zeros(len(seeds), dtype=ctx.dtype, device=ctx.device)
    step = iter(range(steps + 1))

    def metrics(ws, beta):
        t = next(step)
        if limit_path is not None:
            a_inf, dB_inf, b_inf = (x[t] for x in limit_path)
            gap = (
                (ws[0] - a_inf).square().sum((-2, -1))
                + (ws[1] - B0 - dB_inf).square().sum((-2, -1))
                + (ws[2] - b_inf).square().sum((-2, -1))
            ).sqrt()
            torch.maximum(distance, gap, out=distance)
        return {"beta": beta}

    result = engine.train(weights, data, lr, steps, clone=False, log_steps=np.arange(steps + 1), metrics_fn=metrics)
    extra = {
        "krylov_distance": (
            ("width", "seed"),
            (distance.cpu().numpy() if same_layout else np.full(len(seeds), np.nan))[None],
            attrs("sup_t distance of the Krylov coordinates (a, B - B(0), b) to those of m = inf at the same depth"),
        ),
        "krylov_depth": (("width",), [state.depth], attrs("Krylov levels used (chosen adaptively)")),
        "krylov_dim": (("width",), [state.B.shape[-1] + state.B.shape[-2]], attrs("n_Q + n_P, reduced dimension")),
    }
    return _run_dataset(ctx, m, reference, np.moveaxis(result.metrics["beta"], 0, 1), result.status, gram, extra)


def _coordinate_path(state: krylov.ReducedState, data, lr: float, steps: int, ctx: JobContext) -> list[torch.Tensor]:
    """``[a(t), B(t) - B(0), b(t)]`` for ``t = 0..steps`` of a single reduced network, each (T+1, ...)."""
    weights = krylov.reduced_weights(state, ctx.device, ctx.dtype)
    B0 = weights[1].clone()
    rec: list[list[torch.Tensor]] = [[], [], []]

    def metrics(ws, beta):
        for store, w, ref in zip(rec, ws, (0, B0, 0), strict=True):
            store.append((w - ref)[0].clone())
        return {}

    engine.train(weights, data, lr, steps, clone=False, log_steps=np.arange(steps + 1), metrics_fn=metrics)
    return [torch.stack(r) for r in rec]


def _limit_status(beta: np.ndarray, problem: Problem) -> np.int8:
    """``diverged`` if the limit path's risk is not finite or grows 1e8-fold, else ``capped``."""
    res = np.einsum("nd,...kd->...nk", problem.X, beta) - problem.Y
    return engine.fixed_horizon_status(np.sum(res**2, axis=(-2, -1)))[()]


def run_limit(ctx: JobContext) -> xr.Dataset:
    r"""The exact infinite-width trajectory :math:`\beta_\infty(t)`, ``t = 0..T``, at the smallest
    truncation margin, and the largest difference to every other margin (claim C1)."""
    p = ctx.params
    device = ctx.device
    problem = make_problem(p, ctx.streams)
    margins = sorted(p["truncation_margins"])
    paths = {r: limit_trajectory(problem, p["lr"], p["steps"], r, device) for r in margins}
    beta = paths[margins[0]]
    diffs = [np.abs(paths[r] - beta).max() for r in margins[1:]]
    # Below R = T + 2 the truncation is not exact in exact arithmetic; how large is its error?
    short = np.arange(1, SHORT_TRUNCATIONS + 1)
    short_error = [
        np.abs(truncated_limit_trajectory(problem, p["lr"], p["steps"], R, device) - beta).max() for R in short
    ]
    first = 3 * p["lr"] * problem.C
    variables = {
        "beta_limit": (("step", "out", "in"), beta, attrs(f"beta_infinity(t), truncation R = T + {margins[0]}")),
        **_trajectory_variables(beta, problem, ("step",), "_limit"),
        **_problem_variables(problem),
        "status": ((), _limit_status(beta, problem), status_attrs("ran the fixed horizon T")),
        "truncation_difference": (
            (),
            max(diffs) if diffs else np.nan,
            attrs(f"max |beta_inf^(R=T+{margins[0]}) - beta_inf^(R=T+r)| over t, entries and r in {margins[1:]}"),
        ),
        "first_step_error": (
            (),
            np.linalg.norm(beta[1] - first) / np.linalg.norm(first) if p["steps"] >= 1 else np.nan,
            attrs("||beta_inf(1) - 3 eta C|| / ||3 eta C||"),
        ),
        "lr": ((), p["lr"], attrs("GD step size eta (width-independent)")),
        "short_truncation_error": (
            ("truncation",),
            np.asarray(short_error),
            attrs("max |beta_inf^(R) - beta_inf| over t and entries for a path length R < T + 2"),
        ),
    }
    coords = {"step": np.arange(p["steps"] + 1), "truncation": ("truncation", short, attrs("path length R", "1"))}
    ds = xr.Dataset(variables, coords=coords)
    ds["step"].attrs.update(attrs("GD step", "step"))
    ds.attrs["truncation_margins"] = np.asarray(margins)
    return ds


# ---- cost model inputs (see deeplinear.pipeline.cost) ---------------------------------------------------


def finite_width_cost(p: Mapping[str, Any]) -> JobCost:
    """Exact sampler: T steps of the reduced GD per (seed, width), flat in m. The adaptive depth
    (:func:`deeplinear.numerics.krylov.choose_depth`) stops at 4 (78 coordinates) at every width of
    both scales, so the reduced state does not grow with T: the work is linear in T."""
    runs = p["n_seeds"] * len(p["widths"])
    return JobCost(work=runs * p["steps"], memory_bytes=8 * p["n_seeds"] * p["steps"] ** 2)


def brute_force_cost(p: Mapping[str, Any]) -> JobCost:
    """Brute force: T steps of m x m matrix products per seed."""
    m = p["width"]
    return JobCost(work=p["n_seeds"] * p["steps"] * m**2 * p["input_dim"], memory_bytes=8 * 3 * p["n_seeds"] * m**2)


def limit_cost(p: Mapping[str, Any]) -> JobCost:
    """The m = infinity limit: a truncated word expansion, about T^3."""
    return JobCost(work=p["steps"] ** 3, memory_bytes=8 * p["steps"] ** 2)
