"""Min et al.'s implicit-bias job by the exact reduction at the paper-scale shape: one GD step of
every (seed, width, alpha) member with the data copied to every member (before) and shared by each
seed's members (now), and the floor of that step.

    python tests/benchmarks/bench_min.py [--steps 300] [--threads 2]

Per member a step reads ``X Phi_1`` (n x r) twice (the residual and ``R^T X``) and does about
``4 n r k + 6 r (r + k) k`` flops (k = 1 output). With the data copied, the job streams
``E n r`` doubles per product (123 MB at the paper scale's E = 1536), far beyond the caches; shared,
it reads 64 seeds' data (5 MB) for wider products. The floor printed is the time to read the
copied data once per product at this machine's copy bandwidth (measured in the same run), and
the flop time at the measured matmul rate. Not a test: figures go in notes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml

from deeplinear.numerics import engine
from deeplinear.papers.min2021 import experiments
from deeplinear.pipeline import jobs


def _paper_context():
    config = yaml.safe_load(open("config.yaml"))
    section = config["min2021"]["paper"]["implicit_bias"]
    params = dict(next(iter(experiments.implicit_bias_cases(section).values())), base_seed=config["base_seed"])
    return jobs.job_context("min2021", "implicit_bias", "all", params)


def _time_steps(weights, reg, lr: float, steps: int) -> float:
    engine.train([w.clone() for w in weights], reg, lr, 2, log_steps=np.array([0, 2]))  # warm-up
    start = time.perf_counter()
    engine.train([w.clone() for w in weights], reg, lr, steps, log_steps=np.array([0, steps]))
    return (time.perf_counter() - start) / steps


def _copy_bandwidth() -> float:
    a = np.ones(2**25)  # 256 MiB
    b = np.empty_like(a)
    start = time.perf_counter()
    for _ in range(5):
        np.copyto(b, a)
    return 5 * 2 * a.nbytes / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ctx = _paper_context()
    A, N, _, _, shared, r = experiments._reduced_members(ctx)
    weights = [A.transpose(-1, -2).clone(), N.clone()]
    G = shared.members_per_problem
    copied = engine.Regression(shared.X.repeat_interleave(G, 0), shared.Y.repeat_interleave(G, 0))
    E, n = A.shape[0], shared.X.shape[1]
    lr = ctx.params["lr"]
    t_copied = _time_steps(weights, copied, lr, args.steps)
    t_shared = _time_steps(weights, shared, lr, args.steps)
    bandwidth = _copy_bandwidth()
    bytes_copied = 2 * E * n * r * 8
    print(f"paper-scale implicit_bias: E = {E} members ({shared.X.shape[0]} seeds x {G}), n = {n}, r = {r}")
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s; copied data read per step {bytes_copied / 1e6:.0f} MB")
    print(f"floor of the copied layout (data read once per product): {bytes_copied / bandwidth * 1e3:.2f} ms/step")
    print(f"data copied per member: {t_copied * 1e3:.2f} ms/step")
    print(f"data shared per seed:   {t_shared * 1e3:.2f} ms/step ({t_copied / t_shared:.1f}x faster)")
    steps = ctx.params["max_steps"]
    print(f"at most {steps} steps: {t_copied * steps / 3600:.2f} h before, {t_shared * steps / 3600:.2f} h now")


if __name__ == "__main__":
    main()
