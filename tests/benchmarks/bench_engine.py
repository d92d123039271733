"""Benchmark of the batched GD engine on the shapes of the Min et al. jobs; prints figures.

    python tests/benchmarks/bench_engine.py [--threads 1] [--steps 500]

Reports GD steps/s and member-steps/s for the fused low-rank update used by ``engine.train``
and, for comparison, a plain update that materialises every gradient (what the engine did
before). Not a test: timings go in notes, never in assertions.
"""

from __future__ import annotations

import argparse
import time

import torch

from deeplinear.numerics import engine

SHAPES = {
    # name: (members, n, D, h, m)
    "min2021 imbalance (4 inits, D=400, h=500)": (4, 100, 400, 500, 1),
    "min2021 implicit_bias quick (15 members, D=100, h=1600)": (15, 25, 100, 1600, 1),
    "min2021 implicit_bias paper (15 members, D=400, h=10000)": (15, 100, 400, 10000, 1),
}


def _problem(members, n, D, h, m, device):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(members, n, D, generator=g, dtype=torch.float64) / D**0.5
    Y = torch.randn(members, n, m, generator=g, dtype=torch.float64)
    W1 = torch.randn(members, h, D, generator=g, dtype=torch.float64) / h**0.5
    W2 = torch.randn(members, m, h, generator=g, dtype=torch.float64) / h**0.5
    return [W1.to(device), W2.to(device)], engine.Regression(X.to(device), Y.to(device))


def _fused_steps(weights, data, lr, steps):
    return engine.train(weights, data, lr, steps, log_steps=[0, steps]).weights


def _materialised_steps(weights, data, lr, steps):
    ws = [w.clone() for w in weights]
    for _ in range(steps):
        _, grads, _ = engine.loss_and_gradients(ws, data)
        ws = [w - lr * g for w, g in zip(ws, grads, strict=True)]
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device={args.device} threads={torch.get_num_threads()} steps={args.steps} torch={torch.__version__}")
    for name, shape in SHAPES.items():
        weights, data = _problem(*shape, args.device)
        timings = {}
        for label, fn in (
            ("fused low-rank (engine.train)", _fused_steps),
            ("materialised gradients", _materialised_steps),
        ):
            fn(weights, data, 1e-3, args.steps)  # warm-up
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn(weights, data, 1e-3, args.steps)
            if args.device == "cuda":
                torch.cuda.synchronize()
            timings[label] = time.perf_counter() - start
        for label, seconds in timings.items():
            rate = args.steps / seconds
            print(f"{name:58s} {label:30s} {rate:9.1f} steps/s {rate * shape[0]:10.1f} member-steps/s")


if __name__ == "__main__":
    main()
