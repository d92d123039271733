"""Benchmark: the Sirignano & Spiliopoulos SGD kernel against this machine's floor, one core.

A neuron-step (one neuron of one seed in one SGD step, d = 4 inputs) needs one activation and one
read-modify-write of the neuron's state (c and w: 8 (d + 1) bytes) beside about 3d + 5 flops.
The floor is measured in the same run, on arrays of the same size:

* tanh: numpy's vectorised float64 tanh over N values in cache (ns per value);
* state traffic: a read-modify-write of N (d + 1) float64 values in cache (``x += 1.0``), per neuron;
* floor = tanh + state traffic (the arithmetic overlaps them).

It prints, for N = 10^3, 10^4, 10^5: the kernel's neuron-steps per second and ns per neuron-step,
the torch loop's (the CUDA path, and the CPU path before this kernel), the floor, and the ratio
kernel / floor.

    python tests/benchmarks/bench_sirignano.py [--steps 400] [--seeds 4]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import torch

from deeplinear.numerics.seeding import Streams
from deeplinear.papers.sirignano2022 import about, experiments, sgd_kernel

D, M, LR = 4, 4, 20.0


def best_of(fn, repeats: int = 3) -> float:
    """Fastest of ``repeats`` timings of ``fn()`` in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def floor_ns(width: int) -> tuple[float, float]:
    """(tanh ns per value, state read-modify-write ns per neuron) on arrays of this width."""
    values = np.random.default_rng(0).standard_normal(width)
    out = np.empty_like(values)
    reps = max(1, 2_000_000 // width)
    tanh = best_of(lambda: [np.tanh(values, out=out) for _ in range(reps)]) / (reps * width) * 1e9
    state = np.zeros(width * (D + 1))
    traffic = best_of(lambda: [state.__iadd__(1.0) for _ in range(reps)]) / (reps * width) * 1e9
    return tanh, traffic


def problem(width: int, seeds: int, steps: int):
    streams = Streams(1, about.KEY)
    X, y = experiments.make_data({"n_train": M, "input_dim": D}, streams)
    C0, W0 = experiments.init_params(seeds, width, D, streams, "init")
    samples = torch.randint(0, M, (seeds, steps), generator=torch.Generator().manual_seed(0))
    return X, y, C0, W0, samples, np.array([0, steps])


def kernel_ns(width: int, seeds: int, steps: int) -> float:
    X, y, C0, W0, samples, log_steps = problem(width, seeds, steps)
    s = samples.numpy()
    sgd_kernel.sgd(C0.copy(), W0.copy(), X, y, s[:, :2], LR, "tanh", np.array([0, 2]))  # compile
    seconds = best_of(lambda: sgd_kernel.sgd(C0.copy(), W0.copy(), X, y, s, LR, "tanh", log_steps), 2)
    return seconds / (width * seeds * steps) * 1e9


def torch_ns(width: int, seeds: int, steps: int) -> float:
    X, y, C0, W0, samples, log_steps = problem(width, seeds, steps)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def run():
        experiments.sgd(
            torch.as_tensor(C0).clone(), torch.as_tensor(W0).clone(), Xt, yt, samples, LR, "tanh", log_steps
        )

    return best_of(run, 1) / (width * seeds * steps) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"one thread, float64, d = {D}, {args.seeds} seeds x {args.steps} steps per width")
    print(
        f"{'N':>7} {'kernel':>9} {'kernel':>14} {'torch loop':>11} {'tanh':>7} {'state':>7} {'floor':>7} "
        f"{'kernel/floor':>12} {'torch/kernel':>12}"
    )
    print(f"{'':>7} {'ns/n-step':>9} {'n-steps/s':>14} {'ns/n-step':>11} {'ns':>7} {'ns':>7} {'ns':>7}")
    for width in (1_000, 10_000, 100_000):
        new = kernel_ns(width, args.seeds, args.steps)
        old = torch_ns(width, args.seeds, max(20, args.steps // 4))
        tanh, traffic = floor_ns(width)
        floor = tanh + traffic
        print(
            f"{width:>7} {new:>9.2f} {1e9 / new:>14.3g} {old:>11.2f} {tanh:>7.2f} {traffic:>7.2f} {floor:>7.2f} "
            f"{new / floor:>12.2f} {old / new:>12.1f}"
        )


if __name__ == "__main__":
    main()
