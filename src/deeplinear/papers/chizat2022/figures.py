"""Chizat et al. (2022): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.numerics.stats import seed_mean_and_se
from deeplinear.papers.chizat2022.analysis import (
    WORD_MIN_WIDTH,
    fluctuation_constant,
    limit_convergence_fit,
    sup_distance_to_limit,
)
from deeplinear.plotting import plt

# ---- figures ---------------------------------------------------------------------------------


def _every_other_width(ds: xr.Dataset) -> np.ndarray:
    """A readable subset of the widths for line plots: every other width, always the largest."""
    widths = ds["width"].values
    return np.unique(np.append(widths[::2], widths[-1]))


def plot_limit_distance(datasets: Mapping[str, xr.Dataset]):
    """(a) sup_t distance to the limit against width, exact sampler and brute force, with the
    fitted C m^{-1/2}; (a') the fluctuation constant sqrt(m) E sup with its 95 % intervals."""
    fw, bf = datasets["finite_width"], datasets["brute_force"]
    const = fluctuation_constant(fw)
    c_top = float(const["mean"].isel(width=-1))
    fig, (ax, ax_c) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ds, fmt, label in ((fw, "o", "exact Krylov sampler"), (bf, "s", "brute force (m x m matrices)")):
        mean, se = seed_mean_and_se(sup_distance_to_limit(ds))
        ax.errorbar(ds["width"], mean, yerr=se, fmt=fmt, ms=5, mfc="none" if fmt == "s" else None, label=label)
    m = np.geomspace(min(fw["width"].min(), bf["width"].min()), fw["width"].max(), 50)
    ax.plot(m, c_top / np.sqrt(m), "k--", lw=1, label=f"{c_top:.3g}·m^(−1/2) (constant at the largest m)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="width m",
        ylabel="E sup_t ‖β_m(t) − β_∞(t)‖_F",
        title="(a) distance to the exact limit falls as m^(−1/2)",
    )
    ax.legend(fontsize=7)
    ax_c.errorbar(
        const["width"], const["mean"], yerr=1.96 * const["se"], fmt="o", ms=4, label="√m · E sup (95 % interval)"
    )
    ax_c.axhline(c_top, color="k", ls="--", lw=1, label=f"value at m = {fw['width'].values.max():g}")
    ax_c.set(
        xscale="log",
        xlabel="width m",
        ylabel="√m · E sup_t ‖β_m(t) − β_∞(t)‖_F",
        title="(a′) the fluctuation constant settles",
    )
    ax_c.legend(fontsize=7)
    return fig


def plot_risk(datasets: Mapping[str, xr.Dataset]):
    """(b) risk against step for several widths (seed 0) with the exact limit overlaid."""
    fw, lim = datasets["finite_width"], datasets["limit"]
    widths = _every_other_width(fw)
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    for m, color in zip(widths, plotting.colors(len(widths)), strict=True):
        ax.semilogy(fw["step"], fw["risk"].sel(width=m).isel(seed=0), color=color, lw=1, label=f"m = {m:g}")
    ax.semilogy(lim["step"], lim["risk_limit"], "k--", lw=1.5, label="exact limit m = ∞")
    ax.set(xlabel="GD step t", ylabel="risk R(β(t))", title="(b) risk; dashed: infinite-width limit")
    ax.legend(fontsize=7)
    return fig


def plot_min_norm(datasets: Mapping[str, xr.Dataset]):
    """(c) distance to C Sigma^+ (limit: exponential) and the finite-m null-space part."""
    fw, lim = datasets["finite_width"], datasets["limit"]
    fit = limit_convergence_fit(lim)
    fig, (ax, ax_null) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    widths = _every_other_width(fw)
    for m, color in zip(widths, plotting.colors(len(widths)), strict=True):
        ax.semilogy(
            fw["step"], fw["distance_to_min_norm"].sel(width=m).mean("seed"), color=color, lw=1, label=f"m = {m:g}"
        )
        ax_null.semilogy(
            fw["step"], fw["null_space_norm"].sel(width=m).mean("seed"), color=color, lw=1, label=f"m = {m:g}"
        )
    steps = lim["step"].values
    ax.semilogy(steps, lim["distance_to_min_norm_limit"], "k-", lw=2, alpha=0.5, label="exact limit")
    ax.semilogy(
        steps,
        np.exp(fit["intercept"] + fit["rate"] * steps),
        "k:",
        lw=1,
        label=f"fitted exponential (not a prediction), rate {-fit['rate']:.3g}/step",
    )
    ax.set(
        xlabel="GD step t",
        ylabel="‖β(t) − CΣ⁺‖_F",
        title="(c) distance to the min-norm minimiser; dotted: a fit to the limit",
    )
    ax_null.set(
        xlabel="GD step t",
        ylabel="‖β(t)(I − P_X)‖_F",
        title=f"null-space part (mean over seeds); limit ≤ {float(lim['null_space_norm_limit'].max()):.1g}",
    )
    ax.legend(fontsize=7)
    ax_null.legend(fontsize=7)
    return fig


def plot_words(datasets: Mapping[str, xr.Dataset]):
    """(d) word Gram deviation against width (RMS and max entry), with the m^{-1/2} line."""
    fw, bf = datasets["finite_width"], datasets["brute_force"]
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for name, fmt, label in (("word_gram_rms_deviation", "o", "RMS entry"), ("word_gram_deviation", "^", "max entry")):
        mean, se = seed_mean_and_se(fw[name])
        ax.errorbar(fw["width"], mean, yerr=se, fmt=fmt, ms=4, label=f"{label}, exact sampler")
        bmean, bse = seed_mean_and_se(bf[name])
        ax.errorbar(bf["width"], bmean, yerr=bse, fmt="s", mfc="none", ms=6, color="0.3", label=f"{label}, brute force")
        plotting.power_law_guide(ax, fw["width"].values, mean, -0.5, None)
    ax.axvline(WORD_MIN_WIDTH, color="0.6", lw=0.8, ls=":", label=f"C7 fit from m = {WORD_MIN_WIDTH}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="width m",
        ylabel="|WᵀW − I| (mean ± SE over seeds)",
        title="(d) Gaussian words at init: Gram → I as m^(−1/2)",
    )
    ax.legend(fontsize=6)
    return fig


_CAPTION_TAIL = (
    " Model: β = V M U with U, V entries N(0, 1/m), M(0) = Z/√m, GD with one width-independent step η "
    "on all blocks. The parameterisation and the Gaussian-word limit construction (operator Λ on "
    "truncated path bases, exact for T steps when R ≥ T + 2) are a reconstruction consistent with "
    "the paper's rigorous setting, not quoted from it."
)
CAPTIONS = {
    "limit_distance": "Chizat et al. (2022), (a): mean over seeds (± SE) of the sup over the T GD steps of "
    "‖β_m(t) − β_∞(t)‖_F against width m, from the exact Krylov sampler (circles, widths far beyond brute force) "
    "and from brute-force training with every m × m matrix in memory (squares); dashed: C·m^{−1/2} with C the "
    "fluctuation constant at the largest width (our fit). (a′) √m times the distance with 95 % intervals: it "
    "settles to a finite constant (beyond the paper). β_∞ is the exact infinite-width trajectory." + _CAPTION_TAIL,
    "risk": "Chizat et al. (2022), (b): risk ‖Xβᵀ − Y‖²/(2n) against GD step for several widths (seed 0, exact "
    "sampler); "
    "dashed: the exact infinite-width limit." + _CAPTION_TAIL,
    "min_norm": "Chizat et al. (2022), (c): left, ‖β(t) − CΣ⁺‖_F (mean over seeds) and the exact limit, "
    "which decays exponentially to the minimum-norm risk minimiser (dotted: a log-linear fit to the limit curve, "
    "not a predicted rate; claim C6 tests that the decay is exponential); right, the "
    "null-space part ‖β(I − P_X)‖ at finite m, which the limit keeps at zero." + _CAPTION_TAIL,
    "words": "Chizat et al. (2022), (d): law of the weights. Deviation of the Gram matrix of the Gaussian words "
    "w(σ, r) (built from the initial U, V and M₀ = Z/√m) from the identity: RMS entry and largest entry, mean ± SE "
    "over seeds, from the exact sampler's Krylov coordinates (filled) and from brute force (open squares), with "
    "m^{−1/2} lines anchored at the data; claim C7 fits the RMS entry from m = 512 on." + _CAPTION_TAIL,
}
