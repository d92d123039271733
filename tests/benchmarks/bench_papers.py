"""Throughput of the Chizat, Du & Hu and Sirignano job loops at their quick-scale shapes.

    python tests/benchmarks/bench_papers.py [--threads 2]

Prints steps/s (and member-steps/s) for: the three-layer finite-width GD at m = 2048 and the exact
limit recursion for growing T (its cost must not depend on m); narrow and wide Du & Hu cells at
L = 32; batch-one SGD at N = 1600 with 200 seeds. Not a test: figures go in notes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deeplinear.numerics import engine
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.chizat2022 import experiments as chizat_experiments
from deeplinear.papers.chizat2022 import theory as chizat_theory
from deeplinear.papers.duhu2019 import experiments as duhu_experiments
from deeplinear.papers.duhu2019 import theory as duhu_theory
from deeplinear.papers.sirignano2022 import experiments as sirignano_experiments


def _rate(fn, steps: int) -> float:
    fn(1)  # warm-up
    start = time.perf_counter()
    fn(steps)
    return steps / (time.perf_counter() - start)


def bench_chizat() -> None:
    p = {"n_samples": 4, "input_dim": 6, "output_dim": 2, "condition_number": 4.0, "base_seed": 1}
    problem = chizat_experiments.make_problem(p, Streams(1, "chizat2022"))
    reg = problem.regression(torch.device("cpu"))
    rng = np.random.default_rng(0)
    for m, seeds in ((2048, 16), (2048, 1)):
        inits = [chizat_theory.finite_initial_weights(6, 2, m, rng) for _ in range(seeds)]
        ws = [torch.as_tensor(np.stack(w)) for w in zip(*inits, strict=True)]
        rate = _rate(lambda n, ws=ws: engine.train(ws, reg, 0.25, n, log_steps=np.array([0, n])), 20)
        print(f"chizat2022 finite width m={m}, {seeds} seeds: {rate:.1f} steps/s ({rate * seeds:.1f} member-steps/s)")
    for steps in (50, 100, 200):
        start = time.perf_counter()
        chizat_theory.limit_trajectory(problem, 0.25, steps)
        print(f"chizat2022 exact limit T={steps} (m = inf, depth (T+3)/2): {time.perf_counter() - start:.3f} s")


def bench_duhu() -> None:
    p = {"input_dim": 8, "n_samples": 16, "output_dim": 1, "rank": 4, "condition_number": 4.0, "base_seed": 1}
    X, Y = duhu_experiments.make_data(p, Streams(1, "duhu2019"))
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    rng = np.random.default_rng(0)
    for depth, width, members, steps in ((32, 1, 15, 2000), (32, 512, 5, 10)):
        per = [duhu_experiments.init_weights(depth, width, 8, 1, rng) for _ in range(members)]
        ws = [torch.as_tensor(np.stack([w[i] for w in per])) for i in range(depth)]
        scale = duhu_theory.output_scale(width, depth, 1)
        rate = _rate(
            lambda n, ws=ws, s=scale: engine.train(ws, reg, 1e-3, n, scale=s, log_steps=np.array([0, n])), steps
        )
        print(
            f"duhu2019 L={depth} m={width}, {members} members: {rate:.0f} steps/s ({rate * members:.0f} member-steps/s)"
        )


def bench_sirignano() -> None:
    X, y = sirignano_experiments.make_data({"n_train": 4, "input_dim": 4}, Streams(1, "sirignano2022"))
    for width, seeds in ((1600, 200), (1600, 1)):
        C0, W0 = sirignano_experiments.init_params(seeds, width, 4, Streams(1, "sirignano2022"), "bench")
        samples = torch.randint(0, 4, (seeds, 2000), generator=torch.Generator().manual_seed(0))

        def run(n, C0=C0, W0=W0, samples=samples):
            C, W = torch.as_tensor(C0).clone(), torch.as_tensor(W0).clone()
            sirignano_experiments.sgd(
                C, W, torch.as_tensor(X), torch.as_tensor(y), samples, 20.0, "tanh", np.array([0, n])
            )

        rate = _rate(run, 1000)
        print(f"sirignano2022 SGD N={width}, {seeds} seeds: {rate:.0f} steps/s ({rate * seeds:.3g} steps x seeds/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    bench_chizat()
    bench_duhu()
    bench_sirignano()


if __name__ == "__main__":
    main()
