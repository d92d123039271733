"""Benchmark: narrow-net GD (Du & Hu, claim D4): the compiled kernel, the numpy formulas and the engine.

Prints member-steps per second on one thread for a full batch of every depth 1..L_max, 32 seeds
and 10 step-size factors (no early stopping, no compaction, so the batch stays full), for width 1
(cumulative products) and width 2 (2 x 2 scans): by the compiled one-pass kernel
(:func:`narrow.loss_and_step`, what the experiments run), by the numpy formulas it reproduces bit
for bit, and the engine's rate on the same width-1 nets one depth at a time (its Python loop runs
L layer products per step). Also ns per layer and member for the kernel and numpy.

``--against-engine`` instead times a phase-diagram cell's step (5 members, one depth) by the
kernel and by the engine at widths 2 to 64 and depths 32 and 256: where the narrow-net path pays
(``cells.NARROW_MAX_WIDTH``).

    python tests/benchmarks/bench_narrow.py [--steps 500] [--against-engine]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from deeplinear.numerics import engine
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019 import experiments, narrow
from deeplinear.papers.duhu2019.theory import output_scale, theorem_lr

P = {"input_dim": 8, "n_samples": 16, "output_dim": 1, "rank": 4, "condition_number": 4.0}
FACTORS = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256]


def batch(width: int, max_depth: int, seeds: int, data):
    nets, alphas, lr = [], [], []
    for L in range(1, max_depth + 1):
        for s in range(seeds):
            ws = experiments.init_weights(L, width, 8, 1, np.random.default_rng([L, s]))
            for f in FACTORS:
                nets.append(ws), alphas.append(output_scale(width, L, 1)), lr.append(f * theorem_lr(L, 1, data.lam[0]))
    return nets, narrow.chains_from_weights(nets, alphas, data), np.asarray(lr)


def path_rates(width: int, max_depth: int, steps: int, data) -> tuple[float, float, int, int]:
    """Member-steps per second of the kernel and of the numpy formulas, members, layer slots."""
    _, chains, lr = batch(width, max_depth, 32, data)
    lr = lr * 1e-3  # keep every member finite for the whole timing
    low, high = np.full(lr.size, -np.inf), np.full(lr.size, np.inf)
    narrow.loss_and_step(chains, data, lr, low, high)  # compile (or load the cache) outside the timing
    start = time.perf_counter()
    for _ in range(steps):
        narrow.loss_and_step(chains, data, lr, low, high)
    kernel = chains.alpha.size * steps / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(steps // 4):
        _, grads = narrow.loss_and_gradients(chains, data)
        narrow.step(chains, grads, lr)
    numpy_path = chains.alpha.size * (steps // 4) / (time.perf_counter() - start)
    return kernel, numpy_path, chains.alpha.size, chains.middle.shape[0]


def engine_rate(max_depth: int, steps: int, X, Y, data) -> float:
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    members, elapsed = 0, 0.0
    for L in range(2, max_depth + 1, 6):
        ws = [
            torch.as_tensor(np.stack([w] * 32 * len(FACTORS)))
            for w in experiments.init_weights(L, 1, 8, 1, np.random.default_rng(L))
        ]
        start = time.perf_counter()
        engine.train(ws, reg, 1e-3 * theorem_lr(L, 1, data.lam[0]), steps, log_steps=np.array([0, steps]))
        elapsed += time.perf_counter() - start
        members += ws[0].shape[0] * steps
    return members / elapsed


def cell_step_times(depth: int, width: int, X, Y, data, seeds: int = 5) -> tuple[float, float]:
    """Seconds per step of one phase-diagram cell (``seeds`` members of one depth and width) by
    the compiled narrow-net step and by the engine."""
    nets = [experiments.init_weights(depth, width, 8, 1, np.random.default_rng(s)) for s in range(seeds)]
    lr = np.full(seeds, theorem_lr(depth, 1, data.lam[0]))
    chains = narrow.chains_from_weights(nets, [output_scale(width, depth, 1)] * seeds, data)
    low, high = np.full(seeds, -np.inf), np.full(seeds, np.inf)
    narrow.loss_and_step(chains, data, lr, low, high)  # compile (or load the cache) outside the timing
    n = max(20, 60000 // (depth * width * width))
    start = time.perf_counter()
    for _ in range(n):
        narrow.loss_and_step(chains, data, lr, low, high)
    kernel = (time.perf_counter() - start) / n
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    weights = [torch.as_tensor(np.stack([net[i] for net in nets])) for i in range(depth)]
    n = max(20, n // 50)
    start = time.perf_counter()
    engine.train(weights, reg, lr[0], n, scale=output_scale(width, depth, 1), log_steps=np.array([0]))
    return kernel, (time.perf_counter() - start) / n


def against_engine(X, Y, data) -> None:
    for depth in (32, 256):
        for width in (2, 4, 8, 16, 32, 64):
            kernel, brute = cell_step_times(depth, width, X, Y, data)
            print(
                f"L = {depth:>3}, m = {width:>2}, 5 members: kernel {1e6 * kernel:8.1f} us per step, "
                f"engine {1e6 * brute:8.1f} us, engine / kernel {brute / kernel:6.1f}x",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--against-engine", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    X, Y = experiments.make_data(P, Streams(0, "duhu2019"))
    data = narrow.EigenData.from_data(X, Y, P["rank"])
    if args.against_engine:
        against_engine(X, Y, data)
        return
    for width, max_depth in ((1, 24), (2, 32)):
        kernel, numpy_path, members, slots = path_rates(width, max_depth, args.steps, data)
        print(
            f"width {width}, L = 1..{max_depth}, {members} members, {slots} layer slots: kernel {kernel:,.0f} "
            f"member-steps/s ({1e9 / (kernel * slots):.2f} ns per layer and member), numpy {numpy_path:,.0f} "
            f"({1e9 / (numpy_path * slots):.2f} ns), kernel / numpy {kernel / numpy_path:.1f}x"
        )
    print(
        f"engine, width 1, L = 2..24 one depth at a time: {engine_rate(24, args.steps // 5, X, Y, data):,.0f} member-steps/s"
    )


if __name__ == "__main__":
    main()
