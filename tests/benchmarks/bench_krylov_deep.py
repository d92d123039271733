"""Benchmark: Du & Hu runs by the deep reduction (lazy sampler) against brute force (the engine).

Prints, on one thread, the time of one run to loss <= 1e-12 loss(0) at the theorem's step
(about 160 steps) for depths 4, 8, 16 and 32: the reduction at widths 10^3 to 10^7 with the
hidden-basis sizes it reached, and brute force at widths 256 to 1024 (timed over ``--bf-steps``
steps and scaled to the reduction's step count, since its cost per step is constant). Beside each
reduced run: its microseconds per layer-step and the cost model's basis size and layer-step cost
(:func:`cells.reduction_basis`, ``50 + 0.007 k^2`` us), which ``estimate`` prices it by.

    python tests/benchmarks/bench_krylov_deep.py [--bf-steps 10] [--depths 128 256] [--widths 1000 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deeplinear.numerics import engine
from deeplinear.numerics.krylov_deep import EigenProblem, LazySampler, run_reduced
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019 import experiments
from deeplinear.papers.duhu2019.experiments import cells
from deeplinear.papers.duhu2019.theory import output_scale, theorem_lr

P = {"input_dim": 8, "n_samples": 16, "output_dim": 1, "rank": 4, "condition_number": 4.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bf-steps", type=int, default=10)
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--widths", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7])
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, Y = experiments.make_data(P, Streams(20211, "duhu2019"))
    problem = EigenProblem.from_data(X, Y, P["rank"])
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    print(
        f"{'method':<12} {'L':>3} {'m':>9} {'steps':>6} {'s per run':>10} {'largest hidden basis':>21}"
        f" {'us/layer-step':>14} {'model basis':>12} {'model us':>9}"
    )
    for L in args.depths:
        lr = theorem_lr(L, 1, problem.lam[0])
        steps = None
        for m in args.widths:
            start = time.perf_counter()
            run = run_reduced(problem, L, m, lr, 5000, LazySampler(np.random.default_rng(0)), target=1e-12)
            elapsed = time.perf_counter() - start
            steps = steps or run.stop_step
            per_layer_step = 1e6 * elapsed / max(run.stop_step, 1) / L
            k = cells.reduction_basis(L, m)
            print(
                f"{'reduction':<12} {L:>3} {m:>9.0f} {run.stop_step:>6} {elapsed:>10.3f} {max(run.sizes[1:-1]):>21}"
                f" {per_layer_step:>14.1f} {k:>12.0f} {50 + 0.007 * k * k:>9.1f}"
            )
        for m in (256, 512, 1024):
            weights = [torch.as_tensor(w)[None] for w in experiments.init_weights(L, m, 8, 1, np.random.default_rng(0))]
            start = time.perf_counter()
            engine.train(weights, reg, lr, args.bf_steps, scale=output_scale(m, L, 1), log_steps=np.array([0]))
            per_step = (time.perf_counter() - start) / args.bf_steps
            print(f"{'brute force':<12} {L:>3} {m:>9} {steps:>6} {per_step * steps:>10.3f} {m:>21}")
    print(f"(brute force timed over {args.bf_steps} steps, scaled to the reduction's step count; one thread)")


if __name__ == "__main__":
    main()
