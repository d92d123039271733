"""Chizat et al. (2022): data and the finite-width and limit experiments as job runners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr

from deeplinear import data, engine
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
from deeplinear.registry import JobContext, one_job_per
from deeplinear.seeding import Streams


def make_problem(p: Mapping[str, Any], streams: Streams) -> Problem:
    """Data from the config: :math:`\\Sigma` has eigenvalues from 1 down to ``1/condition_number``
    on the row space of ``X`` (rank ``min(n, d)``); ``Y = X \\theta^\\top`` for a teacher
    :math:`\\theta` with entries :math:`N(0, 1/d)`, so :math:`\\lVert\\beta^*\\rVert = O(1)`.
    One draw per ``base_seed``, shared by every width, seed and the limit."""
    n, d, k = p["n_samples"], p["input_dim"], p["output_dim"]
    g = streams.rng("data")
    eig = data.geometric_spectrum(min(n, d), p["condition_number"])
    X = data.matrix_with_singular_values(n, d, np.sqrt(n * eig), g)
    theta = data.gaussian_matrix(k, d, 1 / np.sqrt(d), g)
    return Problem(X, X @ theta.T)


# ---- experiments -----------------------------------------------------------------------------

DATA_KEYS = ("n_samples", "input_dim", "output_dim", "condition_number", "lr", "steps")


def finite_width_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per width ``m``; the limit's truncation margins are not part of these jobs."""
    params = {k: v for k, v in section.items() if k != "truncation_margins"}
    return one_job_per(params, "widths", "width", "m")


def limit_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The single limit job; only the keys the limit depends on (widths and seeds are not)."""
    margins = section["truncation_margins"]
    if min(margins) < 2:
        raise ValueError(f"{KEY}.gd.truncation_margins ({margins}) must be >= 2: R >= T + 2 is needed for exactness")
    return {"limit": {k: section[k] for k in (*DATA_KEYS, "truncation_margins")}}


def _attrs(long_name: str, units: str = "1") -> dict[str, str]:
    return {"long_name": long_name, "units": units}


def _problem_variables(problem: Problem) -> dict[str, tuple]:
    return {
        "beta_star": (("out", "in"), problem.beta_star, _attrs("minimum-norm risk minimiser C Sigma^+")),
        "C": (("out", "in"), problem.C, _attrs("C = Y^T X / n")),
        "row_projector": (("in", "in_"), problem.row_projector, _attrs("projector P_X onto the row space of X")),
    }


def _trajectory_variables(beta: np.ndarray, problem: Problem, dims: tuple[str, ...], label: str) -> dict[str, tuple]:
    """Risk, distance to :math:`C\\Sigma^+` and null-space part of a ``beta`` path (..., T+1, k, d)."""
    n = problem.X.shape[0]
    res = np.einsum("nd,...kd->...nk", problem.X, beta) - problem.Y
    null = beta - beta @ problem.row_projector
    return {
        "risk" + label: (dims, 0.5 * np.sum(res**2, axis=(-2, -1)) / n, _attrs("risk ||X beta^T - Y||^2 / (2n)")),
        "distance_to_min_norm" + label: (
            dims,
            np.linalg.norm(beta - problem.beta_star, axis=(-2, -1)),
            _attrs("||beta(t) - C Sigma^+||_F"),
        ),
        "null_space_norm" + label: (dims, np.linalg.norm(null, axis=(-2, -1)), _attrs("||beta(t)(I - P_X)||_F")),
    }


def run_finite_width(ctx: JobContext) -> xr.Dataset:
    """GD of the width-``m`` network for every seed at once; records :math:`\\beta(t)` at every
    step, the risk, the distance to :math:`C\\Sigma^+`, the null-space part, the first-step ratio,
    :math:`m\\lVert\\beta(0)\\rVert^2/(dk)` and the word Gram deviation at init."""
    p = ctx.params
    device = ctx.device
    d, k, m, steps, lr = p["input_dim"], p["output_dim"], p["width"], p["steps"], p["lr"]
    problem = make_problem(p, ctx.streams)
    seeds = np.arange(p["n_seeds"])
    inits = [finite_initial_weights(d, k, m, ctx.streams.rng("init", m, s)) for s in seeds]
    U, M0, V = (torch.as_tensor(np.stack(w), dtype=ctx.dtype, device=device) for w in zip(*inits, strict=True))
    del inits
    gram_max, gram_rms = (t.cpu().numpy() for t in word_gram_deviation(U, M0, V, p["word_length"]))
    result = engine.train(
        [U, M0, V],
        problem.regression(device),
        lr,
        steps,
        clone=False,  # trains in place: one m x m matrix per seed in memory, not two
        log_steps=np.arange(steps + 1),
        metrics_fn=lambda ws, beta: {"beta": beta},
        progress=ctx.progress_label,
    )
    beta = np.moveaxis(result.metrics["beta"], 0, 1)[None]  # (1, seed, step, k, d)
    dims = ("width", "seed", "step")
    variables = {
        "beta": ((*dims, "out", "in"), beta, _attrs("end-to-end predictor beta = V M U")),
        **_trajectory_variables(beta, problem, dims, ""),
        **_problem_variables(problem),
        "status": (
            ("width", "seed"),
            result.status[None],
            {
                **_attrs("run outcome"),
                "flag_values": np.array(list(engine.STATUS_CODES.values()), dtype=np.int8),
                "flag_meanings": engine.STATUS_FLAG_MEANINGS,
            },
        ),
        "first_step_ratio": (
            ("width", "seed"),
            first_step_ratio(beta[..., 0, :, :], beta[..., 1, :, :], problem.C, lr)
            if steps >= 1
            else np.full((1, seeds.size), np.nan),
            _attrs("<beta(1) - beta(0), C> / (eta ||C||^2); 3 in the limit"),
        ),
        "init_norm_ratio": (
            ("width", "seed"),
            m * np.sum(beta[..., 0, :, :] ** 2, axis=(-2, -1)) / (d * k),
            _attrs("m ||beta(0)||^2 / (d k); mean 1"),
        ),
        "word_gram_deviation": (
            ("width", "seed"),
            gram_max[None],
            _attrs(f"max |W^T W - I| over the Gaussian words of length <= {p['word_length']} at init"),
        ),
        "word_gram_rms_deviation": (
            ("width", "seed"),
            gram_rms[None],
            _attrs(f"root-mean-square entry of W^T W - I, words of length <= {p['word_length']} at init"),
        ),
    }
    coords = {"width": [m], "seed": seeds, "step": np.arange(steps + 1)}
    ds = xr.Dataset(variables, coords=coords)
    ds["step"].attrs.update(_attrs("GD step", "step"))
    return ds


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
        "beta_limit": (("step", "out", "in"), beta, _attrs(f"beta_infinity(t), truncation R = T + {margins[0]}")),
        **_trajectory_variables(beta, problem, ("step",), "_limit"),
        **_problem_variables(problem),
        "truncation_difference": (
            (),
            max(diffs) if diffs else np.nan,
            _attrs(f"max |beta_inf^(R=T+{margins[0]}) - beta_inf^(R=T+r)| over t, entries and r in {margins[1:]}"),
        ),
        "first_step_error": (
            (),
            np.linalg.norm(beta[1] - first) / np.linalg.norm(first) if p["steps"] >= 1 else np.nan,
            _attrs("||beta_inf(1) - 3 eta C|| / ||3 eta C||"),
        ),
        "lr": ((), p["lr"], _attrs("GD step size eta (width-independent)")),
        "short_truncation_error": (
            ("truncation",),
            np.asarray(short_error),
            _attrs("max |beta_inf^(R) - beta_inf| over t and entries for a path length R < T + 2"),
        ),
    }
    coords = {"step": np.arange(p["steps"] + 1), "truncation": ("truncation", short, _attrs("path length R", "1"))}
    ds = xr.Dataset(variables, coords=coords)
    ds["step"].attrs.update(_attrs("GD step", "step"))
    ds.attrs["truncation_margins"] = np.asarray(margins)
    return ds
