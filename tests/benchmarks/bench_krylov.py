"""Benchmark: the exact Krylov sampler against brute force for Chizat et al.'s three-layer net.

Prints the time per seed of a full run (initial state + T GD steps) on one thread:
the sampler (adaptive depth, as the finite_width job runs it) at m = 2048, 10^3, 10^6, 10^9 and
brute force (every m x m matrix in memory) at m = 512, 1024, 2048, and their ratio at m = 2048.

    python tests/benchmarks/bench_krylov.py [--steps 100] [--seeds 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml

from deeplinear.numerics import engine, krylov
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.chizat2022 import experiments, theory

CPU, F64 = torch.device("cpu"), torch.float64


def sampler_seconds_per_seed(problem, m: int, steps: int, seeds: int, lr: float) -> tuple[float, int]:
    data = problem.regression(CPU)
    start = time.perf_counter()

    def sample(depth):
        return krylov.sample_reduced(m, 6, 2, depth, [np.random.default_rng(s) for s in range(seeds)])

    state = krylov.choose_depth(sample, data, lr, steps, CPU, F64)
    krylov.reduced_beta_path(state, data, lr, steps, CPU, F64)
    return (time.perf_counter() - start) / seeds, state.depth


def brute_seconds_per_seed(problem, m: int, steps: int, seeds: int, lr: float) -> float:
    start = time.perf_counter()
    inits = [theory.finite_initial_weights(6, 2, m, np.random.default_rng(s)) for s in range(seeds)]
    weights = [torch.as_tensor(np.stack(w)) for w in zip(*inits, strict=True)]
    engine.train(weights, problem.regression(CPU), lr, steps, clone=False)
    return (time.perf_counter() - start) / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=64, help="seeds per sampler measurement")
    parser.add_argument("--brute-seeds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gd = yaml.safe_load(open("config.yaml"))["chizat2022"]["quick"]["gd"]
    problem = experiments.make_problem({**gd, "base_seed": 1}, Streams(1, "chizat2022"))
    lr = gd["lr"]
    print(f"Chizat et al., d=6, k=2, T={args.steps}, one thread; seconds per seed (initial state + GD)")
    sampler = {}
    for m in (2048, 10**3, 10**6, 10**9):
        sampler[m], depth = sampler_seconds_per_seed(problem, m, args.steps, args.seeds, lr)
        print(f"  sampler      m={m:>12,d}: {sampler[m] * 1e3:8.2f} ms/seed (depth {depth}, {args.seeds} seeds)")
    brute = {}
    for m in (512, 1024, 2048):
        brute[m] = brute_seconds_per_seed(problem, m, args.steps, args.brute_seeds, lr)
        print(f"  brute force  m={m:>12,d}: {brute[m] * 1e3:8.2f} ms/seed ({args.brute_seeds} seeds)")
    print(f"  ratio brute / sampler at m = 2048: {brute[2048] / sampler[2048]:.0f}x")


if __name__ == "__main__":
    main()
