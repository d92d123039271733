"""Bassetti et al. (2024): sample statistics computed in the jobs and the two experiments as job
runners (exact sampler, brute force)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from deeplinear.numerics import prior_samplers, seeding
from deeplinear.numerics.seeding import Streams
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.bassetti2024.about import KEY
from deeplinear.papers.bassetti2024.analysis import TWO_SAMPLE_STATISTICS
from deeplinear.papers.bassetti2024.theory import (
    conditional_second_moment,
    depth_for,
    kurtosis_standard_error,
    limit_cdf,
    normal_cdf,
)
from deeplinear.variables import attrs

N_BATCHES = 50  # standard errors are batch-means errors over this many batches
HIST_RANGE = 6.0  # histograms of the standardised output on [-6, 6]
N_SCATTER = 1000
N_COND_BINS = 8

# ---- statistics of a sample ------------------------------------------------------------------


def _batched(values: np.ndarray, statistic) -> tuple[float, float]:
    """Statistic on all samples, and its batch-means standard error over N_BATCHES batches."""
    full = float(statistic(values))
    usable = values[: len(values) // N_BATCHES * N_BATCHES].reshape(N_BATCHES, -1, *values.shape[1:])
    per_batch = np.array([statistic(b) for b in usable])
    return full, float(per_batch.std(ddof=1) / np.sqrt(N_BATCHES))


def _kurtosis(x: np.ndarray) -> float:
    return float(np.mean(x**4) / np.mean(x**2) ** 2)


def abs_quantile_bins(z1: np.ndarray) -> np.ndarray:
    """The bin of each draw among ``N_COND_BINS`` quantile bins of ``|z1|``."""
    edges = np.quantile(np.abs(z1), np.linspace(0, 1, N_COND_BINS + 1))
    return np.clip(np.searchsorted(edges, np.abs(z1), side="right") - 1, 0, N_COND_BINS - 1)


def output_statistics(f: np.ndarray, lambda_star: float, K: np.ndarray) -> dict[str, Any]:
    """Moments of samples ``f`` (S, D, P): second moments, kurtosis, cross moments, histogram."""
    S, D, P = f.shape
    out: dict[str, Any] = {}
    m2 = np.einsum("sia,sjb->sijab", f, f)
    means, ses = np.zeros((D, D, P, P)), np.zeros((D, D, P, P))
    for idx in np.ndindex(D, D, P, P):
        means[idx], ses[idx] = _batched(m2[(slice(None), *idx)], np.mean)
    out["m2"], out["m2_se"] = means / lambda_star, ses / lambda_star
    z = f[:, :, 0] / np.sqrt(lambda_star * K[0, 0])  # standardised outputs at the first input
    out["kurtosis"] = _kurtosis(z[:, 0])  # its standard error comes from the exact law (the runners)
    if D > 1:
        out["cov_sq"], out["cov_sq_se"] = _batched(z[:, :2], lambda v: np.cov(v[:, 0] ** 2, v[:, 1] ** 2)[0, 1])
        out["f1f2"], out["f1f2_se"] = _batched(z[:, 0] * z[:, 1], np.mean)
        # dependence without correlation: E[f2^2 | |f1| in a quantile bin]
        which = abs_quantile_bins(z[:, 0])
        out["cond_f2sq"] = np.array([np.mean(z[which == b, 1] ** 2) for b in range(N_COND_BINS)])
        out["cond_abs_f1"] = np.array([np.median(np.abs(z[which == b, 0])) for b in range(N_COND_BINS)])
        out["scatter"] = z[:N_SCATTER, :2]
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, 121)
    out["hist"] = np.histogram(z[:, 0], bins=edges, density=False)[0] / (S * np.diff(edges))
    out["z1"] = z[:, 0]
    return out


def matrix_statistics(R: np.ndarray) -> dict[str, float]:
    """Moments of ``R`` (S, D, D) from the exact sampler: E R_11^2, cross moments, log R_11, log det R."""
    out: dict[str, float] = {}
    out["r11_sq"], out["r11_sq_se"] = _batched(R[:, 0, 0] ** 2, np.mean)
    if R.shape[-1] > 1:
        out["r12_sq"], out["r12_sq_se"] = _batched(R[:, 0, 1] ** 2, np.mean)
        out["r11_r22"], out["r11_r22_se"] = _batched(R[:, 0, 0] * R[:, 1, 1], np.mean)
    log_r11 = np.log(R[:, 0, 0])
    logdet = np.linalg.slogdet(R)[1]
    out["log_r11_mean"], out["log_r11_mean_se"] = _batched(log_r11, np.mean)
    out["log_r11_var"], out["log_r11_var_se"] = _batched(log_r11, lambda v: np.var(v, ddof=1))
    out["log_det_mean"], out["log_det_mean_se"] = _batched(logdet, np.mean)
    out["log_det_var"], out["log_det_var_se"] = _batched(logdet, lambda v: np.var(v, ddof=1))
    return out


# ---- experiments -----------------------------------------------------------------------------


def _inputs(p: Mapping[str, Any], streams: Streams) -> np.ndarray:
    """The fixed inputs X (N_0 x P), shared by every job of the paper (one seeded draw)."""
    return streams.rng("inputs").standard_normal((p["input_dim"], p["n_inputs"]))


def _check(section: Mapping[str, Any], experiment: str) -> None:
    if min(section["widths"]) < section["outputs"]:
        raise ValueError(
            f"{KEY}.{experiment}.widths must all be >= outputs (D = {section['outputs']}): Bartlett needs N >= D"
        )
    if section["n_samples"] < 10 * N_BATCHES:
        raise ValueError(f"{KEY}.{experiment}.n_samples must be at least {10 * N_BATCHES}")
    if section["outputs"] < 2:
        raise ValueError(
            f"{KEY}.{experiment}.outputs must be >= 2: claim B3 tests the joint law of two outputs "
            "(uncorrelated but dependent)"
        )
    if experiment == "proportional" and 0 not in section["ratios"]:
        raise ValueError(
            f"{KEY}.proportional.ratios ({section['ratios']}) must contain 0: claim B6 tests the Gaussian "
            "limit at fixed depth (a = L/N = 0)"
        )


def _per_width_cases(section: Mapping[str, Any], experiment: str) -> dict[str, dict[str, Any]]:
    """One job per width N; every ratio a of that width runs in the job."""
    _check(section, experiment)
    return one_job_per(section, "widths", "width", "N")


def proportional_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The exact sampler: one job per width N (every ratio a in it)."""
    return _per_width_cases(section, "proportional")


def brute_force_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Real networks: one job per width N (every ratio a in it)."""
    return _per_width_cases(section, "brute_force")


def run_proportional(ctx: JobContext) -> xr.Dataset:
    """Exact (Bartlett) prior samples at width N for every ratio a = L/N; stores statistics only."""
    p = ctx.params
    N, D = p["width"], p["outputs"]
    X = _inputs(p, ctx.streams)
    K = prior_samplers.kernel(X)
    rows = []
    for a in p["ratios"]:
        L = depth_for(N, a, p["depth_at_zero"])
        lam_star = p["weight_variance"] ** (L + 1)
        g = ctx.streams.rng(f"proportional-a{a:g}", N, 0)
        f, R = prior_samplers.wishart_outputs(X, [N] * L, D, lam_star, p["n_samples"], g, seeding.torch_generator(g))
        stats_f = output_statistics(f.numpy(), lam_star, K)
        stats_f["kurtosis_se"] = kurtosis_standard_error([N] * L, p["n_samples"])
        if D > 1:
            z1 = stats_f["z1"]
            stats_f["cond_f2sq_pred"] = conditional_second_moment(R.numpy(), z1, abs_quantile_bins(z1), N_COND_BINS)
        stats_r = matrix_statistics(R.numpy())
        z1 = stats_f.pop("z1")
        stats_f["ks_gauss"] = float(stats.kstest(z1, normal_cdf).statistic)
        stats_f["ks_limit"] = float(stats.kstest(z1, lambda x, a=a: limit_cdf(x, a)).statistic)
        log_r11 = np.log(R[:, 0, 0].numpy())
        stats_f["ks_log_r11"] = (
            float(stats.kstest(log_r11, lambda x, a=a: normal_cdf((x + a) / np.sqrt(2 * a))).statistic)
            if a > 0
            else np.nan
        )
        rows.append({**stats_f, **stats_r, "depth": L, "lambda_star": lam_star})
    return _assemble(rows, p, K, extra_dims={"width": [N]}, ratio=p["ratios"])


def run_brute_force(ctx: JobContext) -> xr.Dataset:
    """Real networks of width N for every ratio a, against the exact sampler at the same (N, L, D)."""
    p = ctx.params
    N, D = p["width"], p["outputs"]
    device = ctx.device
    X = _inputs(p, ctx.streams)
    K = prior_samplers.kernel(X)
    rows = []
    for a in p["ratios"]:
        L = depth_for(N, a, p["depth_at_zero"])
        lam = p["weight_variance"]
        g = ctx.streams.rng(f"brute_force-a{a:g}", N, 0)
        gen = seeding.torch_generator(g, device)
        brute = prior_samplers.brute_force_outputs(X, [N] * L, D, [lam] * (L + 1), p["n_samples"], gen, device).numpy()
        cpu_gen = gen if device.type == "cpu" else seeding.torch_generator(g)  # the exact sampler runs on the CPU
        exact, _ = prior_samplers.wishart_outputs(X, [N] * L, D, lam ** (L + 1), p["n_samples"], g, cpu_gen)
        exact = exact.numpy()
        row = output_statistics(brute, lam ** (L + 1), K)
        row["kurtosis_se"] = kurtosis_standard_error([N] * L, p["n_samples"])
        row.pop("z1")
        row["ks_pvalue"] = np.array(
            [stats.ks_2samp(stat(brute), stat(exact)).pvalue for stat in TWO_SAMPLE_STATISTICS.values()]
        )
        rows.append({**row, "depth": L, "lambda_star": lam ** (L + 1)})
    return _assemble(rows, p, K, extra_dims={"width": [N]}, ratio=p["ratios"])


_VARIABLES = {
    # name: (extra dims after ratio, long name)
    "m2": (("out_i", "out_j", "in_a", "in_b"), "E f_i(x_a) f_j(x_b) / lambda*"),
    "m2_se": (("out_i", "out_j", "in_a", "in_b"), "standard error of m2"),
    "kurtosis": ((), "kurtosis E f^4/(E f^2)^2 of f_1(x_1)"),
    "kurtosis_se": ((), "exact-law standard error of the kurtosis (delta method with the exact E f^8)"),
    "cov_sq": ((), "Cov(f_1^2, f_2^2)/(lambda* K_11)^2"),
    "cov_sq_se": ((), "standard error of cov_sq"),
    "f1f2": ((), "E f_1 f_2 / (lambda* K_11)"),
    "f1f2_se": ((), "standard error of f1f2"),
    "cond_f2sq": (("abs_bin",), "E[f_2^2 | |f_1| in quantile bin] / (lambda* K_11)"),
    "cond_abs_f1": (("abs_bin",), "median |f_1| / sqrt(lambda* K_11) in the bin"),
    "cond_f2sq_pred": (
        ("abs_bin",),
        "E[f_2^2 | |f_1| in quantile bin] / (lambda* K_11) predicted by the exact mixture (Rao-Blackwellised over R)",
    ),
    "scatter": (("point", "output"), "standardised (f_1, f_2) at x_1, first samples"),
    "hist": (("bin",), "density of f_1(x_1)/sqrt(lambda* K_11)"),
    "ks_gauss": ((), "KS distance of f_1(x_1)/sqrt(lambda* K_11) to N(0,1)"),
    "ks_limit": ((), "KS distance of f_1(x_1)/sqrt(lambda* K_11) to the a-limit law"),
    "ks_log_r11": ((), "KS distance of log R_11 to its a-limit N(-a, 2a)"),
    "ks_pvalue": (("statistic",), "two-sample KS p-value, brute force vs exact sampler"),
    "r11_sq": ((), "E R_11^2"),
    "r11_sq_se": ((), "standard error of E R_11^2"),
    "r12_sq": ((), "E R_12^2"),
    "r12_sq_se": ((), "standard error of E R_12^2"),
    "r11_r22": ((), "E R_11 R_22"),
    "r11_r22_se": ((), "standard error of E R_11 R_22"),
    "log_r11_mean": ((), "mean of log R_11"),
    "log_r11_mean_se": ((), "standard error"),
    "log_r11_var": ((), "variance of log R_11"),
    "log_r11_var_se": ((), "standard error"),
    "log_det_mean": ((), "mean of log det R"),
    "log_det_mean_se": ((), "standard error"),
    "log_det_var": ((), "variance of log det R"),
    "log_det_var_se": ((), "standard error"),
    "depth": ((), "depth L (hidden layers)"),
    "lambda_star": ((), "lambda* = product of the layer variances"),
}


def _assemble(rows: list[dict], p: Mapping[str, Any], K: np.ndarray, extra_dims: dict, ratio) -> xr.Dataset:
    lead = tuple(extra_dims)
    data_vars = {}
    for name, (dims, long_name) in _VARIABLES.items():
        if name not in rows[0]:
            continue
        values = np.stack([np.asarray(r[name]) for r in rows])
        data_vars[name] = ((*lead, "ratio", *dims), values.reshape((1,) * len(lead) + values.shape), attrs(long_name))
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, 121)
    coords = {k: (k, np.asarray(v)) for k, v in extra_dims.items()}
    coords["ratio"] = ("ratio", np.asarray(ratio, dtype=float), attrs("depth-to-width ratio a = L/N"))
    coords["bin"] = ("bin", (edges[:-1] + edges[1:]) / 2, attrs("standardised output (bin centre)"))
    if "ks_pvalue" in data_vars:
        coords["statistic"] = ("statistic", list(TWO_SAMPLE_STATISTICS))
    ds = xr.Dataset(data_vars, coords=coords)
    ds["kernel"] = (("in_a", "in_b"), K, attrs("input kernel K = X^T X / N_0"))
    ds.attrs.update(outputs=p["outputs"], weight_variance=p["weight_variance"], n_samples=p["n_samples"])
    return ds


# ---- cost model inputs (see deeplinear.pipeline.cost) ---------------------------------------------------


def _depths(p: Mapping[str, Any]) -> list[int]:
    return [max(1, round(a * p["width"])) if a > 0 else p["depth_at_zero"] for a in p["ratios"]]


def proportional_cost(p: Mapping[str, Any]) -> JobCost:
    """The Bartlett sampler: a D x D Wishart factor per sample and layer, flat in N."""
    work = p["n_samples"] * sum(_depths(p)) * p["outputs"] ** 2
    return JobCost(work=work, memory_bytes=8 * 4 * p["n_samples"] * p["outputs"] ** 2)


def brute_force_cost(p: Mapping[str, Any]) -> JobCost:
    """Real networks: L layers of N x N Gaussian matrices applied to the P inputs per sample."""
    n = p["width"]
    work = p["n_samples"] * sum(_depths(p)) * n * n * p["n_inputs"]
    return JobCost(work=work, memory_bytes=8 * 2 * p["n_samples"] * n * p["n_inputs"])
