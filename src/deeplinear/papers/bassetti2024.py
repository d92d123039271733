r"""Bassetti, Ladelli, Rotondo (2024): the prior of deep linear networks when depth L and width N
diverge with L/N -> a (arXiv:2411.15267).

For equal widths N and depth L = aN the outputs are a *mixture of Gaussians*:
:math:`\mathrm{vec} f \mid R \sim N(0, \lambda_* R \otimes K)` with a random D x D matrix ``R``
(:mod:`deeplinear.prior`). For a = 0 (L fixed) this is the Gaussian NNGP limit; for a > 0 and
D = 1, :math:`R \to e^G`, :math:`G \sim N(-a, 2a)`. The closed forms below are exact at finite N
and derived here from the Bartlett representation (the paper's Prop. 2.1 has this form); the
limit statements for general D (log T_ii, log det R) are derived, not quoted.

Experiments: ``proportional`` (the exact sampler over a grid of N and a, including a = 0) and
``brute_force`` (real networks at small N, tested against the exact sampler).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from scipy import special, stats

from deeplinear import plotting, prior, seeding
from deeplinear.claims import Claim, loglog_slope
from deeplinear.devices import resolve_device
from deeplinear.registry import Experiment, FigureSpec, JobContext, Paper, one_job_per

KEY = "bassetti2024"
REFERENCE = (
    "Bassetti, Ladelli, Rotondo, Proportional infinite-width infinite-depth limit for deep linear "
    "neural networks, arXiv:2411.15267 (2024)"
)
DERIVED = "derived here from the Bartlett representation, not quoted from the paper"
N_BATCHES = 50  # standard errors are batch-means errors over this many batches
HIST_RANGE = 6.0  # histograms of the standardised output on [-6, 6]
N_SCATTER = 1000
N_COND_BINS = 8


# ---- theory (exact at finite N, equal or unequal widths) --------------------------------------


def s_product(widths: Sequence[int]) -> float:
    r""":math:`s = \prod_l (1 + 2/N_l)`, so :math:`E R_{11}^2 = s` and the kurtosis is :math:`3s`."""
    return float(np.prod([1 + 2 / n for n in widths]))


def d_product(widths: Sequence[int]) -> float:
    r""":math:`d = \prod_l (1 - 1/N_l)`."""
    return float(np.prod([1 - 1 / n for n in widths]))


def cross_moments(widths: Sequence[int]) -> dict[str, float]:
    r"""Exact :math:`E R_{11}^2 = s`, :math:`E R_{12}^2 = (s - d)/3`, :math:`E R_{11}R_{22} = (s + 2d)/3`,
    kurtosis :math:`3s` and :math:`\mathrm{Cov}(f_1^2, f_2^2)/(\lambda_* K)^2 = s - 1` (derived)."""
    s, d = s_product(widths), d_product(widths)
    return {"r11_sq": s, "r12_sq": (s - d) / 3, "r11_r22": (s + 2 * d) / 3, "kurtosis": 3 * s, "cov_sq": s - 1}


def log_r11_moments(widths: Sequence[int]) -> tuple[float, float]:
    r""":math:`R_{11} = \prod_l \chi^2_{N_l}/N_l`: mean :math:`\sum_l[\psi(N_l/2) + \log(2/N_l)]`,
    variance :math:`\sum_l \psi'(N_l/2)`."""
    n = np.asarray(widths, dtype=float)
    return float(np.sum(special.digamma(n / 2) + np.log(2 / n))), float(np.sum(special.polygamma(1, n / 2)))


def log_det_moments(widths: Sequence[int], dim: int) -> tuple[float, float]:
    r""":math:`\log\det R = \sum_l \sum_{i=1}^D \log(\chi^2_{N_l - i + 1}/N_l)`: mean and variance."""
    n = np.asarray(widths, dtype=float)[:, None]
    k = n - np.arange(dim)[None, :]
    return float(np.sum(special.digamma(k / 2) + np.log(2 / n))), float(np.sum(special.polygamma(1, k / 2)))


def limit_log_det_moments(a: float, dim: int) -> tuple[float, float]:
    r"""a > 0 limit: :math:`\log\det R_a \sim N(-aD(D+1)/2,\ 2aD)` (derived)."""
    return -a * dim * (dim + 1) / 2, 2 * a * dim


def kurtosis_limit(a: float | np.ndarray) -> float | np.ndarray:
    """Limit kurtosis :math:`3 e^{2a}` of one output."""
    return 3 * np.exp(2 * np.asarray(a, dtype=float))


def _hermite(a: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (scales e^{g/2}) and weights of G ~ N(-a, 2a) by Gauss-Hermite quadrature."""
    t, w = np.polynomial.hermite.hermgauss(n)
    g = -a + np.sqrt(2 * 2 * a) * t
    return np.exp(g / 2), w / np.sqrt(np.pi)


def limit_cdf(x: np.ndarray, a: float) -> np.ndarray:
    r"""CDF of the a-limit of a standardised output, :math:`\int \Phi(x e^{-g/2})\, dN(-a, 2a)(g)`
    (a = 0: the standard Gaussian)."""
    x = np.asarray(x, dtype=float)
    if a == 0:
        return stats.norm.cdf(x)
    scale, w = _hermite(a)
    return stats.norm.cdf(x[..., None] / scale) @ w


def limit_pdf(x: np.ndarray, a: float) -> np.ndarray:
    """Density of the a-limit of a standardised output (log-normal scale mixture of Gaussians)."""
    x = np.asarray(x, dtype=float)
    if a == 0:
        return stats.norm.pdf(x)
    scale, w = _hermite(a)
    return (stats.norm.pdf(x[..., None] / scale) / scale) @ w


def depth_for(width: int, ratio: float, depth_at_zero: int) -> int:
    """L = round(a N), at least 1; a = 0 means the fixed depth ``depth_at_zero``."""
    return depth_at_zero if ratio == 0 else max(1, round(ratio * width))


# ---- statistics of a sample ------------------------------------------------------------------


def _batched(values: np.ndarray, statistic) -> tuple[float, float]:
    """Statistic on all samples, and its batch-means standard error over N_BATCHES batches."""
    full = float(statistic(values))
    usable = values[: len(values) // N_BATCHES * N_BATCHES].reshape(N_BATCHES, -1, *values.shape[1:])
    per_batch = np.array([statistic(b) for b in usable])
    return full, float(per_batch.std(ddof=1) / np.sqrt(N_BATCHES))


def _kurtosis(x: np.ndarray) -> float:
    return float(np.mean(x**4) / np.mean(x**2) ** 2)


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
    out["kurtosis"], out["kurtosis_se"] = _batched(z[:, 0], _kurtosis)
    if D > 1:
        out["cov_sq"], out["cov_sq_se"] = _batched(z[:, :2], lambda v: np.cov(v[:, 0] ** 2, v[:, 1] ** 2)[0, 1])
        out["f1f2"], out["f1f2_se"] = _batched(z[:, 0] * z[:, 1], np.mean)
        # dependence without correlation: E[f2^2 | |f1| in a quantile bin]
        edges = np.quantile(np.abs(z[:, 0]), np.linspace(0, 1, N_COND_BINS + 1))
        which = np.clip(np.searchsorted(edges, np.abs(z[:, 0]), side="right") - 1, 0, N_COND_BINS - 1)
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


def _inputs(p: Mapping[str, Any]) -> np.ndarray:
    """The fixed inputs X (N_0 x P), shared by every job of the paper (one seeded draw)."""
    return seeding.rng(p["base_seed"], KEY, "inputs").standard_normal((p["input_dim"], p["n_inputs"]))


def _check(section: Mapping[str, Any], experiment: str) -> None:
    if min(section["widths"]) < section["outputs"]:
        raise ValueError(
            f"{KEY}.{experiment}.widths must all be >= outputs (D = {section['outputs']}): Bartlett needs N >= D"
        )
    if section["n_samples"] < 10 * N_BATCHES:
        raise ValueError(f"{KEY}.{experiment}.n_samples must be at least {10 * N_BATCHES}")


def per_width_cases(experiment: str):
    """Cases builder: one job per width N; every ratio a of that width runs in the job."""

    def cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        _check(section, experiment)
        return one_job_per(section, "widths", "width", "N")

    return cases


def _attrs(long_name: str, units: str = "1", **extra) -> dict:
    return {"long_name": long_name, "units": units, **extra}


def run_proportional(ctx: JobContext) -> xr.Dataset:
    """Exact (Bartlett) prior samples at width N for every ratio a = L/N; stores statistics only."""
    p = ctx.params
    N, D = p["width"], p["outputs"]
    X = _inputs(p)
    K = prior.kernel(X)
    rows = []
    for a in p["ratios"]:
        L = depth_for(N, a, p["depth_at_zero"])
        lam_star = p["weight_variance"] ** (L + 1)
        g = seeding.rng(p["base_seed"], KEY, f"proportional-a{a:g}", N, 0)
        f, R = prior.wishart_outputs(X, [N] * L, D, lam_star, p["n_samples"], g, prior.torch_generator(g))
        stats_f = output_statistics(f.numpy(), lam_star, K)
        stats_r = matrix_statistics(R.numpy())
        z1 = stats_f.pop("z1")
        stats_f["ks_gauss"] = float(stats.kstest(z1, "norm").statistic)
        stats_f["ks_limit"] = float(stats.kstest(z1, lambda x, a=a: limit_cdf(x, a)).statistic)
        log_r11 = np.log(R[:, 0, 0].numpy())
        stats_f["ks_log_r11"] = (
            float(stats.kstest(log_r11, "norm", args=(-a, np.sqrt(2 * a))).statistic) if a > 0 else np.nan
        )
        rows.append({**stats_f, **stats_r, "depth": L, "lambda_star": lam_star})
    return _assemble(rows, p, K, extra_dims={"width": [N]}, ratio=p["ratios"])


def run_brute_force(ctx: JobContext) -> xr.Dataset:
    """Real networks of width N for every ratio a, against the exact sampler at the same (N, L, D)."""
    p = ctx.params
    N, D = p["width"], p["outputs"]
    device = resolve_device(p["device"])
    X = _inputs(p)
    K = prior.kernel(X)
    rows = []
    for a in p["ratios"]:
        L = depth_for(N, a, p["depth_at_zero"])
        lam = p["weight_variance"]
        g = seeding.rng(p["base_seed"], KEY, f"brute_force-a{a:g}", N, 0)
        gen = prior.torch_generator(g, device)
        brute = prior.brute_force_outputs(X, [N] * L, D, [lam] * (L + 1), p["n_samples"], gen, device).numpy()
        cpu_gen = gen if device.type == "cpu" else prior.torch_generator(g)  # the exact sampler runs on the CPU
        exact, _ = prior.wishart_outputs(X, [N] * L, D, lam ** (L + 1), p["n_samples"], g, cpu_gen)
        exact = exact.numpy()
        row = output_statistics(brute, lam ** (L + 1), K)
        row.pop("z1")
        row["ks_pvalue"] = np.array(
            [stats.ks_2samp(stat(brute), stat(exact)).pvalue for stat in TWO_SAMPLE_STATISTICS.values()]
        )
        rows.append({**row, "depth": L, "lambda_star": lam ** (L + 1)})
    return _assemble(rows, p, K, extra_dims={"width": [N]}, ratio=p["ratios"])


TWO_SAMPLE_STATISTICS = {
    "f1(x1)": lambda f: f[:, 0, 0],
    "f2(x2)": lambda f: f[:, -1, -1],
    "f1(x1) f2(x1)": lambda f: f[:, 0, 0] * f[:, -1, 0],
    "||f||^2": lambda f: np.sum(f**2, axis=(1, 2)),
}

_VARIABLES = {
    # name: (extra dims after ratio, long name)
    "m2": (("out_i", "out_j", "in_a", "in_b"), "E f_i(x_a) f_j(x_b) / lambda*"),
    "m2_se": (("out_i", "out_j", "in_a", "in_b"), "standard error of m2"),
    "kurtosis": ((), "kurtosis E f^4/(E f^2)^2 of f_1(x_1)"),
    "kurtosis_se": ((), "standard error of the kurtosis"),
    "cov_sq": ((), "Cov(f_1^2, f_2^2)/(lambda* K_11)^2"),
    "cov_sq_se": ((), "standard error of cov_sq"),
    "f1f2": ((), "E f_1 f_2 / (lambda* K_11)"),
    "f1f2_se": ((), "standard error of f1f2"),
    "cond_f2sq": (("abs_bin",), "E[f_2^2 | |f_1| in quantile bin] / (lambda* K_11)"),
    "cond_abs_f1": (("abs_bin",), "median |f_1| / sqrt(lambda* K_11) in the bin"),
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
        data_vars[name] = ((*lead, "ratio", *dims), values.reshape((1,) * len(lead) + values.shape), _attrs(long_name))
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, 121)
    coords = {k: (k, np.asarray(v)) for k, v in extra_dims.items()}
    coords["ratio"] = ("ratio", np.asarray(ratio, dtype=float), _attrs("depth-to-width ratio a = L/N"))
    coords["bin"] = ("bin", (edges[:-1] + edges[1:]) / 2, _attrs("standardised output (bin centre)"))
    if "ks_pvalue" in data_vars:
        coords["statistic"] = ("statistic", list(TWO_SAMPLE_STATISTICS))
    ds = xr.Dataset(data_vars, coords=coords)
    ds["kernel"] = (("in_a", "in_b"), K, _attrs("input kernel K = X^T X / N_0"))
    ds.attrs.update(outputs=p["outputs"], weight_variance=p["weight_variance"], n_samples=p["n_samples"])
    return ds


# ---- claims ----------------------------------------------------------------------------------


def _widths(ds: xr.Dataset, N: int, a: float) -> list[int]:
    return [int(N)] * int(ds["depth"].sel(width=N, ratio=a))


def _cells(ds: xr.Dataset):
    for N in ds["width"].values:
        for a in ds["ratio"].values:
            yield int(N), float(a), _widths(ds, N, a)


def _max_z(pairs: list[tuple[float, float, float]]) -> float:
    """Largest |measured - predicted| / SE over (measured, predicted, se) triples."""
    return float(max(abs(m - p) / se for m, p, se in pairs)) if pairs else float("nan")


def check_claims(datasets: Mapping[str, xr.Dataset]) -> list[Claim]:
    """Claims B1-B8 of shared/PAPERS.md P4."""
    ds, bf = datasets["proportional"], datasets["brute_force"]
    D = int(ds.attrs["outputs"])
    claims: list[Claim] = []
    cells = list(_cells(ds))
    n_cells = len(cells)

    def z_claim(cid, theorem, pairs, note):
        z = _max_z(pairs)
        claims.append(Claim(cid, KEY, theorem, z, 0.0, "max |z| <= 4", bool(z <= 4), note))

    # B1: second moments
    pairs = []
    for source in (ds, bf):
        K = source["kernel"].values
        pred = np.einsum("ij,ab->ijab", np.eye(D), K)
        for N in source["width"].values:
            for a in source["ratio"].values:
                m = source["m2"].sel(width=N, ratio=a).values
                se = source["m2_se"].sel(width=N, ratio=a).values
                pairs += [(m[idx], pred[idx], se[idx]) for idx in np.ndindex(m.shape) if se[idx] > 0]
    z_claim(
        "B1",
        "E f_i(x) f_j(x') = lambda* delta_ij K(x, x') (no kernel renormalisation)",
        pairs,
        f"{len(pairs)} entries over {n_cells} exact-sampler cells and the brute-force cells; z = (measured - predicted)/batch-means SE",
    )

    # B2: kurtosis and E R_11^2 at finite N, and the approach to 3 e^{2a}
    pairs = []
    for N, a, widths in cells:
        th = cross_moments(widths)
        c = ds.sel(width=N, ratio=a)
        pairs += [
            (float(c["kurtosis"]), th["kurtosis"], float(c["kurtosis_se"])),
            (float(c["r11_sq"]), th["r11_sq"], float(c["r11_sq_se"])),
        ]
    n_max = ds["width"].values.max()
    gap = {float(a): 3 * s_product(_widths(ds, n_max, a)) - kurtosis_limit(a) for a in ds["ratio"].values if a > 0}
    z_claim(
        "B2",
        "kurtosis = 3 prod(1 + 2/N_l) -> 3 e^{2a}; E R_11^2 = prod(1 + 2/N_l)",
        pairs,
        f"formula {DERIVED}; finite-N minus limit kurtosis at N={n_max}: "
        + ", ".join(f"a={a:g}: {v:.3g}" for a, v in gap.items()),
    )

    # B3: cross moments
    pairs = []
    if D > 1:
        for N, a, widths in cells:
            th = cross_moments(widths)
            c = ds.sel(width=N, ratio=a)
            for name in ("r12_sq", "r11_r22", "cov_sq"):
                pairs.append((float(c[name]), th[name], float(c[f"{name}_se"])))
            pairs.append((float(c["f1f2"]), 0.0, float(c["f1f2_se"])))
    z_claim(
        "B3",
        "E R_12^2 = (s-d)/3, E R_11 R_22 = (s+2d)/3, Cov(f_1^2, f_2^2) = (lambda* K)^2 (s-1) > 0, E f_1 f_2 = 0",
        pairs,
        f"uncorrelated but dependent outputs; formulas {DERIVED}",
    )

    # B4 / B5: log R_11 and log det R
    for cid, name, theory in (
        ("B4", "log_r11", lambda w: log_r11_moments(w)),
        ("B5", "log_det", lambda w: log_det_moments(w, D)),
    ):
        pairs = []
        for N, a, widths in cells:
            mean, var = theory(widths)
            c = ds.sel(width=N, ratio=a)
            pairs += [
                (float(c[f"{name}_mean"]), mean, float(c[f"{name}_mean_se"])),
                (float(c[f"{name}_var"]), var, float(c[f"{name}_var_se"])),
            ]
        label = "log R_11" if name == "log_r11" else "log det R"
        z_claim(
            cid, f"mean and variance of {label} = digamma and trigamma sums", pairs, f"exact finite-N sums, {DERIVED}"
        )

    # B6: a = 0, kurtosis -> 3 and KS distance to the Gaussian -> 0
    if 0.0 in ds["ratio"].values:
        z0 = ds.sel(ratio=0.0)
        ks = z0["ks_gauss"].values
        n_samples = int(ds.attrs["n_samples"])
        critical = 1.63 / np.sqrt(n_samples)  # one-sample KS, 1% level
        k_top = z0.sel(width=n_max)
        k_pred = cross_moments(_widths(ds, n_max, 0.0))["kurtosis"]
        ok = bool(
            ks[-1] <= critical
            and ks[-1] <= ks[0]
            and abs(float(k_top["kurtosis"]) - k_pred) <= 4 * float(k_top["kurtosis_se"])
        )
        claims.append(
            Claim(
                "B6",
                KEY,
                "a = 0 (L fixed): Gaussian NNGP limit",
                float(ks[-1]),
                0.0,
                f"KS <= {critical:.2g} (1% critical value) and decreasing",
                ok,
                "KS distance to N(0,1) by N: "
                + ", ".join(f"{int(n)}: {v:.3g}" for n, v in zip(ds["width"].values, ks, strict=True))
                + f"; kurtosis at N={n_max}: {float(k_top['kurtosis']):.4f} +/- {float(k_top['kurtosis_se']):.2g} (finite-N {k_pred:.4f} -> 3)",
            )
        )

    # B7: brute force and the exact sampler agree in distribution
    pvals = bf["ks_pvalue"]
    worst = float(pvals.min())
    claims.append(
        Claim(
            "B7",
            KEY,
            "the Bartlett representation is exact: brute force and Wishart sampler agree in distribution",
            worst,
            "> 0.01",
            "min p > 0.01",
            bool(worst > 0.01),
            f"two-sample KS p-values for {list(TWO_SAMPLE_STATISTICS)} at N={bf['width'].values.tolist()}, a={bf['ratio'].values.tolist()} "
            f"({pvals.size} tests at a fixed seed; some p <= 0.01 would be expected by chance in about {pvals.size}% of seeds)",
        )
    )

    # B8: D = 1 (f_1 has exactly the D = 1 law): the finite-N law approaches the a-limit. The law
    # of f_1 is a Gaussian scale mixture over R_11, and R_11 -> e^G, G ~ N(-a, 2a), is the
    # statement; the KS distance of f_1 itself is at the sampling floor already at small N (it is
    # recorded as ks_limit), so the check uses log R_11, whose finite-N gap is O(1/N).
    floor = 0.87 / np.sqrt(int(ds.attrs["n_samples"]))  # mean KS distance of an exact sample
    for a in ds["ratio"].values:
        if a == 0:
            continue
        ks = ds["ks_log_r11"].sel(ratio=a).values
        fit = loglog_slope(ds["width"].values, ks)
        ks_f = ds["ks_limit"].sel(ratio=a).values
        claims.append(
            Claim(
                f"B8[a={a:g}]",
                KEY,
                "D = 1: law at (N, L = aN) -> log-normal scale mixture, R_11 -> e^G, G ~ N(-a, 2a)",
                float(ks[-1]),
                0.0,
                "KS of log R_11 decreasing in N (negative log-log slope, last < first)",
                bool(fit.slope < 0 and ks[-1] < ks[0]),
                f"KS(log R_11, N(-a, 2a)) by N={ds['width'].values.tolist()}: {np.round(ks, 4).tolist()}, slope {fit.slope:.2f}; "
                f"KS of f_1 to its limit law: {np.round(ks_f, 4).tolist()} (sampling floor ~{floor:.1g}); limit law {DERIVED}",
            )
        )
    return claims


# ---- figures ---------------------------------------------------------------------------------


def plot_histograms(datasets: Mapping[str, xr.Dataset]):
    """Output histograms at the largest N with the limit density for each a."""
    ds = datasets["proportional"]
    n_max = ds["width"].values.max()
    x = ds["bin"].values
    fig, ax = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    for a, color in zip(ds["ratio"].values, plotting.colors(ds.sizes["ratio"]), strict=True):
        ax.semilogy(
            x,
            ds["hist"].sel(width=n_max, ratio=a),
            "o",
            ms=3,
            color=color,
            label=f"a={a:g} (N={n_max}, L={int(ds['depth'].sel(width=n_max, ratio=a))})",
        )
        ax.semilogy(x, limit_pdf(x, a), color=color, lw=1)
    ax.set(
        xlabel="standardised output f₁(x₁)/√(λ* K₁₁)",
        ylabel="density",
        ylim=(1e-6, 1),
        title="prior of one output; lines: a-limit (a=0: Gaussian)",
    )
    ax.legend(fontsize=8)
    return fig


def plot_kurtosis(datasets: Mapping[str, xr.Dataset]):
    """Kurtosis against a: samples per N, the finite-N formula and the limit 3e^{2a}."""
    ds = datasets["proportional"]
    a_fine = np.linspace(0, ds["ratio"].values.max(), 100)
    fig, ax = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    for N, color in zip(ds["width"].values, plotting.colors(ds.sizes["width"]), strict=True):
        c = ds.sel(width=N)
        ax.errorbar(c["ratio"], c["kurtosis"], yerr=c["kurtosis_se"], fmt="o", color=color, label=f"N={N}")
        depth0 = int(c["depth"].sel(ratio=0.0)) if 0.0 in c["ratio"].values else 1
        ax.plot(a_fine, [3 * s_product([N] * depth_for(N, a, depth0)) for a in a_fine], color=color, lw=0.8, ls=":")
    ax.plot(a_fine, kurtosis_limit(a_fine), "k-", lw=1.5, label="limit 3e^{2a}")
    ax.set(xlabel="a = L/N", ylabel="kurtosis E f⁴/(E f²)²", title="kurtosis; dotted: exact finite-N 3∏(1+2/N)")
    ax.legend(fontsize=8)
    return fig


def plot_joint(datasets: Mapping[str, xr.Dataset]):
    """Two outputs at the largest N and a: uncorrelated, but f_2^2 grows with |f_1|."""
    ds = datasets["proportional"]
    n_max, a_max = ds["width"].values.max(), ds["ratio"].values.max()
    c = ds.sel(width=n_max, ratio=a_max)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    pts = c["scatter"].values
    ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5)
    ax.set(
        xlabel="f₁ (standardised)",
        ylabel="f₂ (standardised)",
        title=f"(a) joint law, N={n_max}, a={a_max:g}: E f₁f₂ = {float(c['f1f2']):.3f}",
    )
    for a, color in zip(ds["ratio"].values, plotting.colors(ds.sizes["ratio"]), strict=True):
        cc = ds.sel(width=n_max, ratio=a)
        ax2.plot(cc["cond_abs_f1"], cc["cond_f2sq"], "o-", color=color, label=f"a={a:g}")
    ax2.axhline(1.0, color="k", lw=0.8, ls="--")
    ax2.set(
        xlabel="|f₁| (bin median)", ylabel="E[f₂² | |f₁|]", title="(b) dependence: E[f₂²|f₁] grows with |f₁| for a > 0"
    )
    ax2.legend(fontsize=8)
    return fig


def plot_log_r(datasets: Mapping[str, xr.Dataset]):
    """Mean and variance of log R_11 and log det R against a, with exact sums and limits."""
    ds = datasets["proportional"]
    D = int(ds.attrs["outputs"])
    a_fine = np.linspace(0, ds["ratio"].values.max(), 50)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for ax, stat in zip(axes, ("mean", "var"), strict=True):
        for name, marker, lim in (
            ("log_r11", "o", (-a_fine, 2 * a_fine)),
            ("log_det", "s", limit_log_det_moments(a_fine, D)),
        ):
            for N, color in zip(ds["width"].values, plotting.colors(ds.sizes["width"]), strict=True):
                c = ds.sel(width=N)
                ax.errorbar(
                    c["ratio"],
                    c[f"{name}_{stat}"],
                    yerr=c[f"{name}_{stat}_se"],
                    fmt=marker,
                    color=color,
                    ms=4,
                    label=f"{name}, N={N}" if stat == "mean" else None,
                )
            ax.plot(a_fine, lim[0 if stat == "mean" else 1], "k-" if name == "log_r11" else "k--", lw=1)
        ax.set(
            xlabel="a = L/N",
            ylabel=f"{stat} of log R₁₁ (o) / log det R (s)",
            title=f"{stat}; lines: a-limits (−a, 2a) and (−aD(D+1)/2, 2aD)",
        )
    axes[0].legend(fontsize=7, ncol=2)
    return fig


_NOTE = " Closed forms and limit laws are derived here from the Bartlett representation, not quoted."
PAPER = Paper(
    key=KEY,
    title="Bassetti, Ladelli, Rotondo (2024)",
    reference=REFERENCE,
    experiments={
        "proportional": Experiment(
            "proportional",
            "prior_sampling",
            per_width_cases("proportional"),
            run_proportional,
            "exact Bartlett sampler over widths N and ratios a = L/N",
        ),
        "brute_force": Experiment(
            "brute_force",
            "prior_sampling",
            per_width_cases("brute_force"),
            run_brute_force,
            "real networks against the exact sampler",
        ),
    },
    figures={
        "histograms": FigureSpec(
            "histograms",
            ("proportional",),
            plot_histograms,
            "Bassetti et al. (2024): prior density of one standardised output of a deep linear network of width N and depth L = aN "
            "(points, exact Bartlett sampler), with the a-limit (lines): a log-normal scale mixture of Gaussians, G ~ N(−a, 2a); a = 0 is the Gaussian NNGP."
            + _NOTE,
        ),
        "kurtosis": FigureSpec(
            "kurtosis",
            ("proportional",),
            plot_kurtosis,
            "Kurtosis of one output against a = L/N: sample estimates ± batch-means SE for each width N, the exact finite-N value 3∏(1+2/N_l) (dotted) "
            "and the proportional limit 3e^{2a} (black)." + _NOTE,
        ),
        "joint": FigureSpec(
            "joint",
            ("proportional",),
            plot_joint,
            "Two outputs at the same input: (a) samples at the largest N and a, uncorrelated (E f₁f₂ ≈ 0); (b) E[f₂² | |f₁|] rises with |f₁| for a > 0: "
            "the outputs are dependent, unlike the a = 0 Gaussian limit." + _NOTE,
        ),
        "log_r": FigureSpec(
            "log_r",
            ("proportional",),
            plot_log_r,
            "Mean and variance of log R₁₁ and log det R against a, for each N (points ± SE); lines: the a-limits N(−a, 2a) and N(−aD(D+1)/2, 2aD)."
            + _NOTE,
        ),
    },
    check_claims=check_claims,
    version="1",
    claim_ids=("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"),
)
