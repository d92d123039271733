"""Benchmark of the prior samplers (Bassetti et al. 2024); prints figures, asserts nothing.

    python tests/benchmarks/bench_prior.py [--threads 2]

Wishart (Bartlett) sampler throughput in samples x layers per second at D = 2, and its speed-up
over brute-force sampling of real networks at N = 256, L = 64 (P = 2 inputs, N_0 = 3).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deeplinear.numerics import prior_samplers, seeding


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    gen = seeding.torch_generator(rng)
    X = rng.standard_normal((3, 2))
    print(f"threads={torch.get_num_threads()} torch={torch.__version__}")
    for samples, layers, width in ((100_000, 64, 256), (1_000_000, 16, 10_000)):
        seconds = _time(
            lambda s=samples, L=layers, N=width: prior_samplers.wishart_outputs(X, [N] * L, 2, 1.0, s, rng, gen)
        )
        print(
            f"wishart D=2 N={width:6d} L={layers:3d} S={samples:8d}: {seconds:7.2f} s, {samples * layers / seconds:12.3g} sample-layers/s"
        )
    width, layers, samples = 256, 64, 2000
    brute = _time(
        lambda: prior_samplers.brute_force_outputs(X, [width] * layers, 2, [1.0] * (layers + 1), samples, gen)
    )
    wishart = _time(lambda: prior_samplers.wishart_outputs(X, [width] * layers, 2, 1.0, samples, rng, gen))
    print(
        f"N={width} L={layers} S={samples}: brute force {brute:.2f} s ({samples / brute:.3g} samples/s), "
        f"Wishart {wishart:.4f} s ({samples / wishart:.3g} samples/s): speed-up {brute / wishart:.0f}x"
    )


if __name__ == "__main__":
    main()
