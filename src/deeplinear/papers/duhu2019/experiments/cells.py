"""Du & Hu (2019): one (depth, width) cell of GD runs by each of the three methods, and its cost.

* brute force (:func:`run_cell`): the engine on the real m x m matrices, every (seed, step-size
  factor) member batched;
* the narrow-net path (:func:`run_cell_narrow`): widths up to :data:`NARROW_MAX_WIDTH` on the same
  draws, by the compiled vector-chain step of :mod:`.narrow`;
* the exact deep reduction (:func:`run_cell_reduced`): any width, lazily sampled Gaussian matrices.

Each returns the same outputs (:func:`cell_outputs`), so the experiments do not care which ran.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from deeplinear.numerics import engine, run_status
from deeplinear.numerics.krylov_deep import EigenProblem, LazySampler, run_reduced
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019.about import WIDE
from deeplinear.papers.duhu2019.experiments.setup import init_weights, log_grid, movement_layers
from deeplinear.papers.duhu2019.theory import gram_operator, normalised_gram_extremes, output_scale, theorem_lr

#: Every tensor of this module is float64.
DTYPE = torch.float64


def cell_start(p, X, depth, width, device, streams: Streams):
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


def run_to(p: Mapping[str, Any], depth: int, width: float) -> float:
    """The loss, relative to its start, at which a cell's runs stop: ``late_epsilon`` for the
    wide cells (``m >= 8L``, L >= 2), so that claim D1b's late-slope window sees the slowest
    mode, ``epsilon`` otherwise. Every method stops there."""
    return p["late_epsilon"] if depth > 1 and width >= WIDE * depth else p["epsilon"]


def run_cell(p, X, Y, depth, width, factors, device, progress, streams: Streams):
    """GD of every (seed, lr factor) member of one (depth, width) cell, batched."""
    seeds = range(p["n_seeds"])
    _, seed_weights, scale, gram, lr = cell_start(p, X, depth, width, device, streams)
    weights = [w.repeat_interleave(len(factors), 0) for w in seed_weights]
    reg = engine.Regression(
        torch.as_tensor(X, dtype=DTYPE, device=device)[None], torch.as_tensor(Y, dtype=DTYPE, device=device)[None]
    )
    loss0 = engine.loss_from_residual(engine.residual(engine.end_to_end(weights, scale), reg))
    tracked = movement_layers(depth)
    initial = {i: weights[i].clone() for i in tracked}
    result = engine.train(
        weights,
        reg,
        lr,
        p["max_steps"],
        scale=scale,
        log_steps=log_grid(p),
        target_loss=run_to(p, depth, width) * loss0,
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
    return cell_outputs((len(seeds), len(factors)), result, loss, movement, gram, lr)


def cell_outputs(shape, result, loss: np.ndarray, movement: np.ndarray, gram, lr: float) -> dict[str, Any]:
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


def run_cell_narrow(p, X, Y, depth, width, factors, progress, streams: Streams):
    """The same outputs as :func:`run_cell`, on the same draws, for narrow widths (one output,
    ``L >= 2``) by the narrow-net path (:func:`.narrow.train_logged`): GD on the real weights in the
    eigen-coordinates of the data, one compiled pass over the layers per step (two chains of
    matrix-vector products and rank-one updates) instead of the engine's ``O(L)`` batched matrix
    products. It follows the engine's trajectory to rounding (tested to width 4)."""
    from deeplinear.papers.duhu2019 import narrow

    seeds = range(p["n_seeds"])
    per_seed, _, scale, gram, lr = cell_start(p, X, depth, width, torch.device("cpu"), streams)
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
        stop_at=run_to(p, depth, width),
        progress=progress,
    )
    initial = {i: np.stack([ws[i] for ws in networks]) for i in movement_layers(depth)}
    hidden = [
        np.linalg.norm(result.middle[:, i - 1] - w0, axis=(-2, -1)) / np.linalg.norm(w0, axis=(-2, -1))
        for i, w0 in initial.items()
    ]
    movement = np.max(hidden, axis=0) if hidden else np.full(len(networks), np.nan)
    return cell_outputs((len(seeds), len(factors)), result, result.loss, movement, gram, lr)


#: Widest net run by the narrow-net path. Its compiled step against the engine, one thread, 5
#: members (``bench_narrow.py --against-engine``): 68x faster at m = 4, 10x at 16, 3.6x at 32 and
#: 1.6x at 64 for L = 32; 83x, 8.4x, 3.0x and 1.1x for L = 256 (at m = 64 both stream the weights).
NARROW_MAX_WIDTH = 32


def uses_narrow_scans(p: Mapping[str, Any], depth: int, width: int) -> bool:
    """The cell's method for narrow nets: widths up to :data:`NARROW_MAX_WIDTH` with one output
    (L >= 2) and below the reduction's widths."""
    return depth > 1 and width <= NARROW_MAX_WIDTH and p["output_dim"] == 1 and not uses_reduction(p, depth, width)


METHOD_BRUTE_FORCE, METHOD_REDUCTION, METHOD_NARROW = 0, 1, 2


def method_attrs() -> dict[str, Any]:
    return {
        "long_name": "how the cell was simulated",
        "units": "1",
        "flag_values": np.array([METHOD_BRUTE_FORCE, METHOD_REDUCTION, METHOD_NARROW], dtype=np.int8),
        "flag_meanings": "brute_force reduction narrow_scans",
        "comment": "brute_force: the engine on m x m matrices; reduction: the exact deep Krylov reduction "
        f"with lazily sampled Gaussian initial matrices (deeplinear.krylov_deep); narrow_scans: widths up to "
        f"{NARROW_MAX_WIDTH}, GD on the same real weights by the compiled vector-chain step "
        "(papers/duhu2019/narrow.py)",
    }


def cell_method(p: Mapping[str, Any], depth: int, width: int) -> int:
    if uses_reduction(p, depth, width):
        return METHOD_REDUCTION
    return METHOD_NARROW if uses_narrow_scans(p, depth, width) else METHOD_BRUTE_FORCE


def uses_reduction(p: Mapping[str, Any], depth: int, width: int) -> bool:
    """The cell's method: the reduction for hidden widths ``>= reduction_min_width`` (L >= 2)."""
    return depth > 1 and width >= p["reduction_min_width"]


def run_cell_reduced(p, X, Y, depth, width, streams: Streams, progress) -> dict[str, Any]:
    """The same outputs as :func:`run_cell` at the theorem's step, one seed at a time by the deep
    reduction (any width). The Gram extremes at init are not computed (NaN); hidden movement is
    ``||C_i||_F / sqrt(m)``, :math:`\\sqrt m` being :math:`\\lVert\\hat W_i(0)\rVert_F` up to a
    relative error of order ``1/m``."""
    problem = EigenProblem.from_data(X, Y, p["rank"])
    lr = theorem_lr(depth, p["output_dim"], np.sort(np.linalg.eigvalsh(X.T @ X))[::-1][0])  # as run_cell
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
            target=run_to(p, depth, width),
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


def brute_steps(depth: int, width: int, max_steps: int) -> float:
    """Steps a brute-force cell runs until its slowest seed stops: about ``200 + 300 (L/m)^1.7``
    (fitted by eye to quick-scale runs), at most the cap."""
    return min(max_steps, 200 + 300 * (depth / width) ** 1.7)


def reduction_steps(depth: int, width: float, max_steps: int) -> float:
    """Steps of one reduced run: the median ``T_eps`` at the theorem's step, about
    ``75 + 300 (L/m)^1.7`` (measured: 61-165 for ``m >= L``, 1110 at ``L/m = 2``), twice that for
    the wide cells (``m >= 8L``) that run on to ``late_epsilon`` (their ``t_late`` is about
    ``2 T_eps``); at most the cap."""
    steps = 75 + 300 * (depth / width) ** 1.7
    return min(max_steps, 2 * steps if width >= WIDE * depth else steps)


def reduction_basis(depth: int, width: float) -> float:
    """The largest hidden basis of a reduced run (bench_krylov_deep.py): about ``13 log2(L)`` at
    ``m = 10^6``, growing by a third of that per decade of ``m`` below (180 at L = 128,
    m = 1000; 52 at m = 10^7), and at most ``m``."""
    return min(width, max(1.0, 13 * math.log2(depth) * (1 + (6 - math.log10(width)) / 3)))


def reduction_work(depth: int, width: float, n_seeds: int, max_steps: int) -> float:
    """Work of ``n_seeds`` reduced runs in brute-force layer-step units: a reduced layer-step
    costs about ``(50 + 0.007 k^2)`` us for the basis size ``k`` (about 2.75 brute-force
    layer-steps at ``k = 0``; measured at L = 128-256, k = 52-224)."""
    k = reduction_basis(depth, width)
    return n_seeds * reduction_steps(depth, width, max_steps) * depth * 2.75 * (1 + k * k / 7000)


def cell_work(p: Mapping[str, Any], depth: int, width: int, n_seeds: int) -> float:
    """Work of one cell in brute-force layer-steps (about 19 us each on one core): the engine's
    layer-steps weighted by the size of its products (per-layer overhead first: at these sizes a
    step costs a fixed time per layer, the arithmetic adds little); the narrow-net path and the
    reduction by their measured costs in the same unit."""
    if depth == 1:
        return 100.0
    if uses_reduction(p, depth, width):
        return reduction_work(depth, width, n_seeds, p["max_steps"])
    members = n_seeds * len(p["lr_factors"])
    steps = brute_steps(depth, width, p["max_steps"])
    if uses_narrow_scans(p, depth, width):  # the compiled step: ~35 us a step + (60 + 2 m^2) ns per layer-member
        return steps * (35 + members * depth * (0.06 + 0.002 * width * width)) / 19
    return depth * steps * (1 + members * width * width * p["input_dim"] / 2e6)
