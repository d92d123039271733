"""Bassetti et al. (2024): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.papers.bassetti2024.theory import (
    depth_for,
    kurtosis_limit,
    limit_log_det_moments,
    limit_pdf,
    log_det_moments,
    log_r11_moments,
    s_product,
)
from deeplinear.plotting import plt

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
        ax2.plot(cc["cond_abs_f1"], cc["cond_f2sq"], "o", color=color, label=f"a={a:g}")
        if "cond_f2sq_pred" in cc:
            ax2.plot(cc["cond_abs_f1"], cc["cond_f2sq_pred"], "-", color=color, lw=1)
    ax2.axhline(1.0, color="k", lw=0.8, ls="--")
    ax2.set(
        xlabel="|f₁| (bin median)",
        ylabel="E[f₂² | |f₁|]",
        title="(b) E[f₂²|f₁] grows with |f₁| for a > 0\n(lines: the exact Gaussian mixture)",
    )
    ax2.legend(fontsize=8)
    return fig


def _exact_log_moments(name: str, widths: list[int], dim: int) -> tuple[float, float]:
    """Exact finite-N mean and variance of log R_11 or log det R."""
    return log_r11_moments(widths) if name == "log_r11" else log_det_moments(widths, dim)


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
                depth0 = int(c["depth"].sel(ratio=0.0)) if 0.0 in c["ratio"].values else 1
                exact = [
                    _exact_log_moments(name, [int(N)] * depth_for(int(N), a, depth0), D)[0 if stat == "mean" else 1]
                    for a in a_fine
                ]
                ax.plot(a_fine, exact, color=color, lw=0.8, ls=":")
            ax.plot(a_fine, lim[0 if stat == "mean" else 1], "k-" if name == "log_r11" else "k--", lw=1)
        ax.set(
            xlabel="a = L/N",
            ylabel=f"{stat} of log R₁₁ (o) / log det R (s)",
            title=f"{stat} matches the exact finite-N sums (dotted)\nblack: a-limits (−a, 2a), (−aD(D+1)/2, 2aD)",
        )
    axes[0].legend(fontsize=7, ncol=2)
    return fig


NOTE = " Closed forms and limit laws are derived here from the Bartlett representation, not quoted."

CAPTIONS = {
    "histograms": (
        "Bassetti et al. (2024): prior density of one standardised output of a deep linear network of width N and depth L = aN "
        "(points, exact Bartlett sampler), with the a-limit (lines): a log-normal scale mixture of Gaussians, G ~ N(−a, 2a); a = 0 is the Gaussian NNGP."
        + NOTE
    ),
    "kurtosis": (
        "Kurtosis of one output against a = L/N: sample estimates ± batch-means SE for each width N, the exact finite-N value 3∏(1+2/N_l) (dotted) "
        "and the proportional limit 3e^{2a} (black)." + NOTE
    ),
    "joint": (
        "Two outputs at the same input: (a) samples at the largest N and a, uncorrelated (E f₁f₂ ≈ 0); (b) E[f₂² | |f₁|] "
        "in quantile bins of |f₁| (points) rises with |f₁| for a > 0: the outputs are dependent, unlike the a = 0 "
        "Gaussian limit; lines: the prediction of the exact Gaussian mixture f | R ~ N(0, λ* R ⊗ K) for the same bins "
        "(the exact conditional expectation given (f₁, R), averaged over the draws in each bin)." + NOTE
    ),
    "log_r": (
        "Mean and variance of log R₁₁ and log det R against a, for each N (points ± SE), with the exact finite-N "
        "digamma and trigamma sums (dotted, one per N) and the a-limits N(−a, 2a) and N(−aD(D+1)/2, 2aD) (black)."
        + NOTE
    ),
}
