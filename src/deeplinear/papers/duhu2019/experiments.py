"""Du & Hu (2019): data, initialisation and the two experiments as job runners."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor
from tqdm.auto import tqdm

from deeplinear.numerics import engine, prior_samplers, run_status, synthetic_data
from deeplinear.numerics.krylov_deep import EigenProblem, LazySampler, run_reduced
from deeplinear.numerics.seeding import Streams
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.duhu2019.about import DTYPE, KEY, WIDE
from deeplinear.papers.duhu2019.theory import (
    gram_operator,
    init_output_moments,
    normalised_gram_extremes,
    output_scale,
    theorem_lr,
)
from deeplinear.variables import attrs, status_attrs

# ---- data ------------------------------------------------------------------------------------


def make_data(p: Mapping[str, Any], streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n x d_in, samples as rows) of rank ``r`` with :math:`\\lambda(X^\\top X)` from 1 down
    to ``1/condition_number``, and ``Y = X Φ^T`` for Φ with entries ``N(0, 1/d_in)``; one draw per
    ``base_seed``, shared by every depth, width and seed."""
    g = streams.rng("data")
    eig = synthetic_data.geometric_spectrum(p["rank"], p["condition_number"])
    X = synthetic_data.matrix_with_singular_values(p["n_samples"], p["input_dim"], np.sqrt(eig), g)
    phi = synthetic_data.gaussian_matrix(p["output_dim"], p["input_dim"], 1 / np.sqrt(p["input_dim"]), g)
    return X, X @ phi.T


def init_weights(depth: int, width: int, input_dim: int, output_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``W_1`` (m x d_in), ``W_2..W_{L-1}`` (m x m), ``W_L`` (d_out x m), entries ``N(0, 1)``;
    for ``L = 1`` a single ``d_out x d_in`` matrix."""
    dims = [input_dim] + [width] * (depth - 1) + [output_dim]
    return [rng.standard_normal((dims[i + 1], dims[i])) for i in range(depth)]


# ---- experiment (i): the phase diagram -----------------------------------------------------------


def _check_widths(section: Mapping[str, Any], experiment: str) -> None:
    if min(section["widths"]) < section["output_dim"]:
        raise ValueError(
            f"{KEY}.{experiment}.widths must be >= output_dim ({section['output_dim']}): "
            "narrower nets cannot reach OPT = 0"
        )


def phase_diagram_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per (depth ``L``, width band): ``width_bands`` lists the bands' lower edges, so a
    deep network's slow narrow cells and its wide cells run side by side; all seeds and step-size
    multipliers of a cell inside (every depth has the same bands, so the jobs tile the grid)."""
    _check_widths(section, "phase_diagram")
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


def _cell_start(p, X, depth, width, device, streams: Streams):
    """What a cell run on the real weights starts from (the engine and the narrow scans alike):
    each seed's initial weights ``[W_1, ..., W_L]`` and the same stacked over seeds as tensors,
    the output scale, the normalised Gram extremes at init and the theorem's step."""
    d_in, d_out = p["input_dim"], p["output_dim"]
    key_width = width if depth > 1 else 0  # an L = 1 net has no hidden width
    per_seed = [
        init_weights(depth, width, d_in, d_out, streams.rng(f"init-L{depth}", key_width, s))
        for s in range(p["n_seeds"])
    ]
    seed_weights = [
        torch.as_tensor(np.stack([ws[i] for ws in per_seed]), dtype=DTYPE, device=device) for i in range(depth)
    ]
    scale = output_scale(width, depth, d_out)
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    P0 = gram_operator(seed_weights, torch.as_tensor(X, dtype=DTYPE, device=device)[None], scale)
    gram = normalised_gram_extremes(P0, p["rank"], d_out, depth, lam[p["rank"] - 1], lam[0])
    return per_seed, seed_weights, scale, gram, theorem_lr(depth, d_out, lam[0])


def _run_cell(p, X, Y, depth, width, factors, device, progress, streams: Streams):
    """GD of every (seed, lr factor) member of one (depth, width) cell, batched."""
    seeds = range(p["n_seeds"])
    _, seed_weights, scale, gram, lr = _cell_start(p, X, depth, width, device, streams)
    weights = [w.repeat_interleave(len(factors), 0) for w in seed_weights]
    reg = engine.Regression(
        torch.as_tensor(X, dtype=DTYPE, device=device)[None], torch.as_tensor(Y, dtype=DTYPE, device=device)[None]
    )
    loss0 = engine.loss_from_residual(engine.residual(engine.end_to_end(weights, scale), reg))
    tracked = movement_layers(depth)
    initial = {i: weights[i].clone() for i in tracked}
    # wide cells run on to late_epsilon so that claim D1b's late-slope window sees the slowest mode
    run_to = p["late_epsilon"] if depth > 1 and width >= WIDE * depth else p["epsilon"]
    result = engine.train(
        weights,
        reg,
        lr,
        p["max_steps"],
        scale=scale,
        log_steps=log_grid(p),
        target_loss=run_to * loss0,
        hit_losses=torch.stack([p["epsilon"] * loss0, p["late_epsilon"] * loss0], dim=1),
        member_lr_factor=torch.as_tensor(list(factors) * len(seeds), dtype=DTYPE),
        progress=progress,
        clone=False,
    )
    hidden = [
        torch.linalg.matrix_norm(result.weights[i] - w0) / torch.linalg.matrix_norm(w0) for i, w0 in initial.items()
    ]
    movement = torch.stack(hidden).amax(0).cpu().numpy() if hidden else np.full(len(factors) * len(seeds), np.nan)
    loss = np.moveaxis(result.metrics["loss"], 0, -1)
    return _cell_outputs((len(seeds), len(factors)), result, loss, movement, gram, lr)


def _cell_outputs(shape, result, loss: np.ndarray, movement: np.ndarray, gram, lr: float) -> dict[str, Any]:
    """A cell's outputs from a run's per-member ``hit_step`` (epsilon, late_epsilon), ``status``
    and ``stop_step`` (``result``), its losses (members, log points) and hidden movement (members,),
    members ordered (seed, factor) and reshaped to ``shape``; converged means: reached epsilon (a
    wide cell then runs on to late_epsilon)."""
    t_eps, t_late = (np.where(h >= 0, h, -1).reshape(shape) for h in result.hit_step.T)
    status = np.where(t_eps >= 0, run_status.CONVERGED, result.status.reshape(shape))
    return {
        "status": status.astype(np.int8),
        "t_eps": t_eps,
        "t_late": t_late,
        "stop_step": result.stop_step.reshape(shape),
        "loss": loss.reshape(*shape, -1),
        "movement": movement.reshape(shape),
        "gram_min": gram[0].cpu().numpy(),
        "gram_max": gram[1].cpu().numpy(),
        "lr": lr,
    }


def _run_cell_narrow(p, X, Y, depth, width, factors, progress, streams: Streams):
    """The same outputs as :func:`_run_cell`, on the same draws, for widths 1 and 2 (one output,
    ``L >= 2``) by the narrow-net scans (:func:`.narrow.train_logged`): GD on the real weights in the
    eigen-coordinates of the data, a fixed number of array operations per step at any depth instead
    of the engine's ``O(L)`` batched products. It follows the engine's trajectory to rounding."""
    from deeplinear.papers.duhu2019 import narrow

    seeds = range(p["n_seeds"])
    per_seed, _, scale, gram, lr = _cell_start(p, X, depth, width, torch.device("cpu"), streams)
    networks = [ws for ws in per_seed for _ in factors]  # member = (seed, factor), factor fastest
    eigen = narrow.EigenData.from_data(X, Y, p["rank"])
    chains = narrow.chains_from_weights(networks, [scale] * len(networks), eigen)
    result = narrow.train_logged(
        chains,
        eigen,
        lr * np.tile(np.asarray(factors, dtype=np.float64), len(seeds)),
        p["max_steps"],
        (p["epsilon"], p["late_epsilon"]),
        log_grid(p),
        progress=progress,
    )
    initial = {i: np.stack([ws[i] for ws in networks]) for i in movement_layers(depth)}
    hidden = [
        np.linalg.norm(result.middle[:, i - 1] - w0, axis=(-2, -1)) / np.linalg.norm(w0, axis=(-2, -1))
        for i, w0 in initial.items()
    ]
    movement = np.max(hidden, axis=0) if hidden else np.full(len(networks), np.nan)
    return _cell_outputs((len(seeds), len(factors)), result, result.loss, movement, gram, lr)


def uses_narrow_scans(p: Mapping[str, Any], depth: int, width: int) -> bool:
    """The cell's method for the narrowest nets: widths 1 and 2 with one output (L >= 2)."""
    return depth > 1 and width <= 2 and p["output_dim"] == 1


METHOD_BRUTE_FORCE, METHOD_REDUCTION, METHOD_NARROW = 0, 1, 2


def _method_attrs() -> dict[str, Any]:
    return {
        "long_name": "how the cell was simulated",
        "units": "1",
        "flag_values": np.array([METHOD_BRUTE_FORCE, METHOD_REDUCTION, METHOD_NARROW], dtype=np.int8),
        "flag_meanings": "brute_force reduction narrow_scans",
        "comment": "brute_force: the engine on m x m matrices; reduction: the exact deep Krylov reduction "
        "with lazily sampled Gaussian initial matrices (deeplinear.krylov_deep); narrow_scans: widths 1 "
        "and 2, GD on the same real weights by the narrow-net scans (papers/duhu2019/narrow.py)",
    }


def _method(p: Mapping[str, Any], depth: int, width: int) -> int:
    if uses_reduction(p, depth, width):
        return METHOD_REDUCTION
    return METHOD_NARROW if uses_narrow_scans(p, depth, width) else METHOD_BRUTE_FORCE


def uses_reduction(p: Mapping[str, Any], depth: int, width: int) -> bool:
    """The cell's method: the reduction for hidden widths ``>= reduction_min_width`` (L >= 2)."""
    return depth > 1 and width >= p["reduction_min_width"]


def _run_cell_reduced(p, X, Y, depth, width, streams: Streams, progress) -> dict[str, Any]:
    """The same outputs as :func:`_run_cell` at the theorem's step, one seed at a time by the deep
    reduction (any width). The Gram extremes at init are not computed (NaN); hidden movement is
    ``||C_i||_F / sqrt(m)``, :math:`\\sqrt m` being :math:`\\lVert\\hat W_i(0)\rVert_F` up to a
    relative error of order ``1/m``."""
    problem = EigenProblem.from_data(X, Y, p["rank"])
    lr = theorem_lr(depth, p["output_dim"], np.sort(np.linalg.eigvalsh(X.T @ X))[::-1][0])  # as _run_cell
    run_to = p["late_epsilon"] if width >= WIDE * depth else p["epsilon"]
    steps = log_grid(p)
    n_s = p["n_seeds"]
    out = {
        "status": np.zeros((n_s, 1), dtype=np.int8),
        "t_eps": np.full((n_s, 1), -1, dtype=np.int64),
        "t_late": np.full((n_s, 1), -1, dtype=np.int64),
        "stop_step": np.zeros((n_s, 1), dtype=np.int64),
        "loss": np.full((n_s, 1, steps.size), np.nan),
        "movement": np.full((n_s, 1), np.nan),
    }
    tracked = movement_layers(depth)
    for s in tqdm(range(n_s), desc=progress or "", disable=not progress, leave=False):
        run = run_reduced(
            problem,
            depth,
            width,
            lr,
            p["max_steps"],
            LazySampler(streams.rng(f"reduction-L{depth}", width, s)),
            log_steps=steps,
            target=run_to,
            hits=(p["epsilon"], p["late_epsilon"]),
        )
        t_eps, t_late = run.hit_step
        code = run_status.code(run.status)
        out["status"][s] = run_status.CONVERGED if t_eps >= 0 else code
        out["t_eps"][s], out["t_late"][s], out["stop_step"][s] = t_eps, t_late, run.stop_step
        out["loss"][s, 0] = run.loss
        if tracked:
            out["movement"][s] = max(run.change[i] for i in tracked) / np.sqrt(width)
    out.update(gram_min=np.full(n_s, np.nan), gram_max=np.full(n_s, np.nan), lr=lr)
    return out


MOVEMENT_LAYERS = 4


def movement_layers(depth: int) -> list[int]:
    """Indices of the hidden m x m layers (``W_2..W_{L-1}``) whose movement is tracked: all of
    them up to :data:`MOVEMENT_LAYERS`, else that many evenly spaced (memory: each needs a copy)."""
    hidden = np.arange(1, depth - 1)
    if hidden.size <= MOVEMENT_LAYERS:
        return hidden.tolist()
    return np.unique(np.round(np.linspace(1, depth - 2, MOVEMENT_LAYERS)).astype(int)).tolist()


def log_grid(p: Mapping[str, Any]) -> np.ndarray:
    """The logged steps: ``n_log`` log-spaced steps in ``[0, max_steps]``."""
    return engine.log_spaced_steps(p["max_steps"], p["n_log"])


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
        method = out["method"][iw] = _method(p, depth, m)
        if depth == 1:
            shallow = shallow or _run_cell(p, X, Y, depth, m, factors, device, label, ctx.streams)
            cell = {
                k: v if np.ndim(v) < 2 else v[:, [factors.index(f) for f in run_factors]] for k, v in shallow.items()
            }
        elif method == METHOD_REDUCTION:
            run_factors = [1.0]
            cell = _run_cell_reduced(p, X, Y, depth, m, ctx.streams, label)
        elif method == METHOD_NARROW:
            cell = _run_cell_narrow(p, X, Y, depth, m, run_factors, label, ctx.streams)
        else:
            cell = _run_cell(p, X, Y, depth, m, run_factors, device, label, ctx.streams)
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
    t_eps = np.where(out["t_eps"] >= 0, out["t_eps"], np.nan)
    t_late = np.where(out["t_late"] >= 0, out["t_late"], np.nan)
    dims = ("depth", "width", "lr_factor", "seed")
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    variables = {
        "method": (("depth", "width"), out["method"][None], _method_attrs()),
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
    coords = {
        "depth": [depth],
        "width": np.asarray(widths),
        "lr_factor": np.asarray(factors),
        "seed": np.arange(n_s),
        "log_point": np.arange(steps.size),
        "step": ("log_point", steps, attrs("GD step", "step")),
    }
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs.update(
        output_dim=p["output_dim"],
        epsilon=p["epsilon"],
        late_epsilon=p["late_epsilon"],
        max_steps=p["max_steps"],
        rank=p["rank"],
    )
    return ds


# ---- the cross-check: brute force and the reduction at the same widths ------------------------------


def cross_check_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per depth ``L >= 2`` of the phase diagram: both methods at ``cross_check_widths``."""
    if min(section["cross_check_widths"]) < section["output_dim"]:
        raise ValueError(
            f"{KEY}.phase_diagram.cross_check_widths must be >= output_dim ({section['output_dim']}): "
            "narrower nets cannot reach OPT = 0"
        )
    cases = {}
    for case, params in one_job_per(section, "depths", "depth", "L").items():
        if params["depth"] > 1:
            cases[case] = params
    if not cases:
        raise ValueError(f"{KEY}.phase_diagram.depths: the cross-check needs a depth >= 2")
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
        brute = _run_cell(p, X, Y, depth, m, [1.0], ctx.device, label, ctx.streams)
        reduced = _run_cell_reduced(p, X, Y, depth, m, ctx.streams, label)
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
    """Both methods at each cross-check width (:func:`_cell_work` of each)."""
    L, n = p["depth"], p["cross_check_seeds"]
    brute = {**p, "reduction_min_width": math.inf}
    reduced = {**p, "reduction_min_width": 1}
    work = sum(_cell_work(brute, L, m, n) + _cell_work(reduced, L, m, n) for m in p["cross_check_widths"])
    return JobCost(work=work, memory_bytes=8 * 4 * n * L * max(p["cross_check_widths"]) ** 2)


# ---- experiment (ii): init output statistics (prior sampling) --------------------------------------


def init_statistics_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per depth; every width of that depth inside."""
    _check_widths(section, "init_statistics")
    return one_job_per(section, "depths", "depth", "L")


def sample_init_log_outputs(
    depth: int, width: int, input_dim: int, output_dim: int, n: int, gen: torch.Generator
) -> Tensor:
    r""":math:`\ln q`, :math:`q = \alpha^2\lVert W_{L:1}x\rVert^2/\lVert x\rVert^2`, for ``n`` real
    networks with iid ``N(0, 1)`` weights (every matrix drawn in full), ``x = e_1``.

    The vector is renormalised after every layer and the logs of the norms are summed,
    :math:`\ln q = \sum_i \ln(\lVert W_i v_{i-1}\rVert^2/d_i)` with :math:`v_i` the unit vector
    and :math:`d_i` the layer's output width (so :math:`\prod_i d_i^{-1} = \alpha^2`): the product
    of 256 layers of width 64 (:math:`\lVert W_{L:1}x\rVert^2 \approx 64^{255}`) would overflow
    float64 without it."""
    v = torch.zeros(n, input_dim, 1, dtype=DTYPE)
    v[:, 0] = 1.0
    dims = [input_dim] + [width] * (depth - 1) + [output_dim]
    log_q = torch.zeros(n, dtype=DTYPE)
    for i in range(depth):
        W = torch.randn(n, dims[i + 1], dims[i], generator=gen, dtype=DTYPE)
        v = W @ v
        norm_sq = v.square().sum(dim=(-2, -1))
        log_q += torch.log(norm_sq / dims[i + 1])
        v = v / norm_sq.sqrt()[:, None, None]
    return log_q


def run_init_statistics(ctx: JobContext) -> xr.Dataset:
    """Sample means of ``q`` and ``ln q`` and their exact predictions per width (claim D5)."""
    p = ctx.params
    depth, widths, n = p["depth"], p["widths"], p["n_samples"]
    rows = {k: [] for k in ("q_mean", "log_q_mean", "q_mean_pred", "q_se", "log_q_mean_pred", "log_q_se")}
    for m in widths:
        gen = prior_samplers.torch_generator(ctx.streams.rng(f"init_statistics-L{depth}", m))
        log_q = sample_init_log_outputs(depth, m, p["input_dim"], p["output_dim"], n, gen).numpy()
        q = np.exp(log_q)
        mom = init_output_moments(m, depth, p["output_dim"])
        rows["q_mean"].append(q.mean())
        rows["log_q_mean"].append(log_q.mean())
        rows["q_mean_pred"].append(mom["mean"])
        rows["q_se"].append(np.sqrt(mom["var"] / n))
        rows["log_q_mean_pred"].append(mom["log_mean"])
        rows["log_q_se"].append(np.sqrt(mom["log_var"] / n))
    names = {
        "q_mean": "sample mean of q = alpha^2 ||W_{L:1} x||^2 / ||x||^2",
        "log_q_mean": "sample mean of ln q",
        "q_mean_pred": "exact E q (chi^2 product law)",
        "q_se": "exact standard error of the sample mean of q, sqrt(Var q / n)",
        "log_q_mean_pred": "exact E ln q = (L-1)(psi(m/2) - ln(m/2)) + psi(d_out/2) - ln(d_out/2)",
        "log_q_se": "exact standard error of the sample mean of ln q",
    }
    variables = {k: (("depth", "width"), np.asarray(v)[None], attrs(names[k])) for k, v in rows.items()}
    ds = xr.Dataset(variables, coords={"depth": [depth], "width": np.asarray(widths)})
    ds.attrs.update(n_samples=n)
    return ds


# ---- experiment (iii): narrow nets at every depth, long runs ------------------------------------


def narrow_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per narrow width; every depth ``1..max_depth``, step-size factor and seed of that
    width runs as one batch (:mod:`.narrow`)."""
    if len(section["max_depths"]) != len(section["widths"]):
        raise ValueError(f"{KEY}.narrow.max_depths must give one maximal depth per entry of widths")
    if section["output_dim"] != 1:
        raise ValueError(f"{KEY}.narrow.output_dim must be 1 (the narrow-net path has one output)")
    if section["rank"] > min(section["n_samples"], section["input_dim"]):
        raise ValueError(f"{KEY}.narrow.rank must be <= min(n_samples, input_dim)")
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
    n_s, n_f = p["n_seeds"], len(factors)
    networks, alphas, lr, cell = [], [], [], []
    for i, L in enumerate(depths):
        for s in range(n_s):
            ws = init_weights(L, m, p["input_dim"], 1, ctx.streams.rng(f"narrow-L{L}", m if L > 1 else 0, s))
            for j, f in enumerate(factors):
                networks.append(ws)
                alphas.append(output_scale(m, L, 1))
                lr.append(f * theorem_lr(L, 1, data.lam[0]))
                cell.append(i * n_f + j)
    chains = narrow.chains_from_weights(networks, alphas, data)
    result = narrow.train_cells(
        chains,
        data,
        np.asarray(lr),
        np.asarray(cell),
        np.repeat(np.arange(len(depths)), n_f),
        p["max_steps"],
        p["epsilons"],
        race_factor=p["race_factor"],
        progress=ctx.progress_label,
    )
    shape = (len(depths), n_s, n_f)
    eps = sorted(p["epsilons"], reverse=True)
    hit = result.hit_step.reshape(*shape, len(eps)).astype(float)
    hit[hit < 0] = np.nan
    lr_grid = np.asarray(lr).reshape(shape)[:, 0, :]  # (depth, factor)
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
    ds = xr.Dataset(variables, coords=coords).expand_dims(width=[m])
    ds.attrs.update(max_steps=p["max_steps"], race_factor=p["race_factor"], steps_run=result.steps_run)
    return _pad_depths(ds, p.get("grid_depth", p["max_depth"]))


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


# ---- cost model inputs (see deeplinear.pipeline.cost) ---------------------------------------------------


def _brute_steps(depth: int, width: int, max_steps: int) -> float:
    """Steps a brute-force cell runs until its slowest seed stops: about ``200 + 300 (L/m)^1.7``
    (fitted by eye to quick-scale runs), at most the cap."""
    return min(max_steps, 200 + 300 * (depth / width) ** 1.7)


def _cell_work(p: Mapping[str, Any], depth: int, width: int, n_seeds: int) -> float:
    """Layer-steps of one cell, weighted by the size of its products (per-layer overhead first:
    at these sizes a step costs a fixed time per layer, the arithmetic adds little)."""
    if depth == 1:
        return 100.0
    if uses_reduction(p, depth, width):
        basis = min(4 * depth, width)  # hidden bases reach about 4L directions
        return n_seeds * 200 * depth * 4 * (1 + basis**2 / 2e4)
    members = n_seeds * len(p["lr_factors"])
    steps = _brute_steps(depth, width, p["max_steps"])
    if uses_narrow_scans(p, depth, width):  # a scan: about log2(L) rounds of array operations per step
        return steps * (2 + math.log2(depth)) * (1 + members * depth / 1e4)
    return depth * steps * (1 + members * width * width * p["input_dim"] / 2e6)


def phase_diagram_cost(p: Mapping[str, Any]) -> JobCost:
    """Sum of :func:`_cell_work` over the job's widths (an L = 1 job is one small run)."""
    L = p["depth"]
    widths = p["widths"][:1] if L == 1 else p["widths"]
    work = sum(_cell_work(p, L, m, p["n_seeds"]) for m in widths)
    # brute force holds every member's L matrices; the reduction one run's L bases of about 4L
    memory = max(
        8 * 4 * L * (4 * L) ** 2 if uses_reduction(p, L, m) else 8 * 3 * p["n_seeds"] * L * m * m for m in widths
    )
    return JobCost(work=work, memory_bytes=memory)


def init_statistics_cost(p: Mapping[str, Any]) -> JobCost:
    """``n_samples`` real networks of depth L per width."""
    work = sum(p["n_samples"] * p["depth"] * m * m for m in p["widths"])
    return JobCost(work=work, memory_bytes=8 * 2 * p["n_samples"] * max(p["widths"]) ** 2)


def narrow_cost(p: Mapping[str, Any]) -> JobCost:
    """All depths to ``max_depth`` in one batch of seeds x factors: array operations per step grow
    with the depth, and racing keeps the steps run roughly in proportion to it; a longer cap
    adds about log10(cap) / 6."""
    members = p["n_seeds"] * len(p["lr_factors"])
    work = members * p["max_depth"] ** 2 * (1 + p["width"]) / 2 * math.log10(p["max_steps"]) / 6
    return JobCost(work=work, memory_bytes=8 * members * p["grid_depth"] * p["width"] ** 2 * 4)
