"""Du & Hu (2019), experiment (ii): output statistics of the initial network (prior sampling, D5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from deeplinear.numerics import seeding
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.duhu2019.experiments.setup import check_widths
from deeplinear.papers.duhu2019.theory import init_output_moments
from deeplinear.variables import attrs

#: Every tensor of this module is float64.
DTYPE = torch.float64


def init_statistics_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per depth; every width of that depth inside."""
    check_widths(section, "init_statistics")
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
        gen = seeding.torch_generator(ctx.streams.rng(f"init_statistics-L{depth}", m))
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


def init_statistics_cost(p: Mapping[str, Any]) -> JobCost:
    """``n_samples`` real networks of depth L per width."""
    work = sum(p["n_samples"] * p["depth"] * m * m for m in p["widths"])
    return JobCost(work=work, memory_bytes=8 * 2 * p["n_samples"] * max(p["widths"]) ** 2)
