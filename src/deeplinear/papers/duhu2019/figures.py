"""Du & Hu (2019): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.numerics.stats import bootstrap_loglog_slope, loglog_slope
from deeplinear.papers.duhu2019.analysis import (
    best_narrow_median,
    critical_width,
    critical_width_interpolated,
    depth_law_design,
    fit_depth_law,
    fraction_converged,
    median_t_eps,
    narrow_width,
    theorem_bound_curve,
)
from deeplinear.plotting import plt

# ---- figures -----------------------------------------------------------------------------------


def _width_label(w) -> str:
    """A width as a tick label: plain up to 4096, a power of ten (10⁴) or 10^k-style beyond."""
    w = int(w)
    if w <= 4096:
        return str(w)
    k = round(float(np.log10(w)))
    digits = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"10{str(k).translate(digits)}" if 10**k == w else f"{w:.0e}"


def _log2_ticks(ax, widths):
    ax.set_xticks(np.arange(len(widths)))
    ax.set_xticklabels([_width_label(w) for w in widths])


def plot_phase_diagram(datasets: Mapping[str, xr.Dataset]):
    """Heatmap of log10 median T_eps over (width, depth) with the fraction converged."""
    ds = datasets["phase_diagram"]
    t = median_t_eps(ds).transpose("depth", "width")
    frac = fraction_converged(ds).transpose("depth", "width")
    values = np.log10(np.where(np.isfinite(t.values), t.values, np.nan))
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    im = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    for (i, j), f in np.ndenumerate(frac.values):
        text = "capped" if not np.isfinite(t.values[i, j]) else f"{f:.0%}" if f < 1 else ""
        ax.text(j, i, text, ha="center", va="center", fontsize=6, color="w" if not np.isfinite(values[i, j]) else "k")
    ax.set_facecolor("0.3")
    _log2_ticks(ax, ds["width"].values)
    ax.set_yticks(np.arange(ds.sizes["depth"]))
    ax.set_yticklabels([str(int(L)) for L in ds["depth"].values])
    mstar = critical_width(ds)
    idx = [list(ds["width"].values).index(w) if np.isfinite(w) else np.nan for w in mstar.values]
    ax.plot(idx, np.arange(ds.sizes["depth"]), "r*", ms=9, label="m*(L)")
    widths = ds["width"].values.astype(float)
    for j in np.flatnonzero(widths[1:] / widths[:-1] != 2):  # where the grid stops doubling
        ax.axvline(j + 0.5, color="w", lw=2.5)
    ax.set(
        xlabel="width m (one column per grid width, not to scale; white lines: the grid stops doubling)",
        ylabel="depth L",
        title="log₁₀ median T_ε at the theorem's η (grey: median capped)",
    )
    fig.colorbar(im, ax=ax, label="log₁₀ median T_ε [steps]")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_critical_width(datasets: Mapping[str, xr.Dataset]):
    """m*(L) against L on log-log axes: the grid width, the crossing interpolated between grid
    widths (the claim D3's statistic) and the line m = 4L, with the slope of the interpolated m*."""
    ds = datasets["phase_diagram"]
    grid = critical_width(ds)
    mstar = critical_width_interpolated(ds)
    deep = (mstar["depth"] > 1) & mstar.notnull()
    grid, mstar = grid.where(deep, drop=True), mstar.where(deep, drop=True)
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    L = mstar["depth"].values
    ax.loglog(L, grid.values, "s", mfc="none", color="0.5", label="m*(L), grid width")
    ax.loglog(L, mstar.values, "o-", label="m*(L), interpolated crossing")
    title = "width where median T_ε(L) first ≤ 2 T_ε(L=1)"
    if L.size:
        ax.loglog(L, 4 * L, ":", color="0.3", lw=1, label="m = 4L")
        plotting.label_log_ticks(ax, L)
    if L.size >= 2:
        fit = loglog_slope(L, mstar.values)
        title += f"\nlog-log slope of the interpolated m*: {fit.slope:.2f}"
    ax.set(xlabel="depth L", ylabel="m*(L) [width]", title=title)
    ax.legend(fontsize=8)
    return fig


def plot_narrow(datasets: Mapping[str, xr.Dataset]):
    """Median gradient-flow time against depth for widths 1 and 2 at each depth's fastest step-size
    factor, both thresholds, with the joint fit ``ln T = a + bL + c ln L``; censored medians are
    drawn as lower bounds."""
    ds = datasets["narrow"]
    epsilons = sorted(ds["epsilon"].values, reverse=True)
    fig, axes = plt.subplots(1, len(epsilons), figsize=(5 * len(epsilons), 4), constrained_layout=True, squeeze=False)
    rates = []
    for ax, eps in zip(axes[0], epsilons, strict=True):
        for m, color in zip(ds["width"].values, plotting.colors(ds.sizes["width"]), strict=True):
            sub = narrow_width(ds, int(m))
            median, censored = best_narrow_median(sub, float(eps))
            L, t, cens = sub["depth"].values, median.isel(width=0).values, censored.isel(width=0).values
            ax.semilogy(L[~cens], t[~cens], "o", color=color, ms=4, label=f"m = {int(m)}: median")
            if cens.any():
                ax.semilogy(L[cens], t[cens], "^", color=color, mfc="none", ms=6, label=f"m = {int(m)}: > lower bound")
            if (~cens).sum() >= 4:
                coef = fit_depth_law(L[~cens], np.log(t[~cens]))
                grid = np.linspace(L.min(), L.max(), 200)
                ax.semilogy(grid, np.exp(depth_law_design(grid) @ coef), "-", color=color, lw=1)
                if eps == epsilons[-1]:
                    rates.append(f"m={int(m)}: b = {coef[1]:.2f}")
        ax.set(xlabel="depth L", ylabel="median time to ε [gradient-flow units, steps × ηL]", title=f"ε = {eps:g}")
        ax.legend(fontsize=7)
    fig.suptitle("narrow nets, fit ln T = a + bL + c ln L: " + ", ".join(rates) + " per layer", fontsize=10)
    return fig


def plot_wide_rate(datasets: Mapping[str, xr.Dataset]):
    """Claim D1b: mean over seeds of |late slope / wide-limit slope - 1| against L/m, with the fit."""
    from deeplinear.papers.duhu2019.claims import wide_slope_deviation

    ds = datasets["phase_diagram"]
    ratio, samples, stacked = wide_slope_deviation(ds)
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    depths = np.unique(stacked["depth"].values)
    for L, color in zip(depths, plotting.colors(depths.size), strict=True):
        sel = stacked["depth"].values == L
        ax.loglog(ratio[sel], np.nanmean(samples[sel], axis=1), "o", color=color, label=f"L = {int(L)}")
    title = "late slope vs wide limit: too few wide cells to fit"
    if np.unique(ratio).size >= 3:
        fit = bootstrap_loglog_slope(ratio, samples)
        grid = np.geomspace(ratio.min(), ratio.max(), 50)
        mean = np.nanmean(samples, axis=1)
        intercept = np.mean(np.log(mean) - fit.slope * np.log(ratio))
        ax.loglog(grid, np.exp(intercept) * grid**fit.slope, "k-", lw=1, label=f"fit: slope {fit.slope:.2f}")
        plotting.power_law_guide(ax, ratio, mean, 0.5, "slope 1/2")
        title = f"|late-slope ratio − 1| ∝ (L/m)^{fit.slope:.2f} (95% CI [{fit.low:.2f}, {fit.high:.2f}])"
    ax.set(xlabel="L / m", ylabel="mean over seeds of |late slope / wide-limit slope − 1|", title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_loss_curves(datasets: Mapping[str, xr.Dataset]):
    """Loss / loss(0) against step for the deepest depth and several widths, with the bound."""
    ds = datasets["phase_diagram"]
    L = int(ds["depth"].values.max())
    sub = ds.sel(depth=L, lr_factor=1.0)
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    widths = sub["width"].values
    for m, color in zip(widths, plotting.colors(len(widths)), strict=True):
        rel = (sub["loss"] / sub["loss"].isel(log_point=0)).sel(width=m).median("seed")
        ax.loglog(np.maximum(ds["step"], 1), rel, color=color, lw=1, label=f"m = {int(m)}")
    bound = theorem_bound_curve(ds).sel(depth=L)
    ax.loglog(np.maximum(ds["step"], 1), bound, "k--", lw=1.5, label="Theorem 4.1 bound")
    ax.axhline(ds.attrs["epsilon"], color="0.5", lw=1, ls=":", label="ε")
    ax.set(
        xlabel="GD step t (0 drawn at 1)",
        ylabel="median loss(t) / loss(0)",
        title=f"L = {L}: loss against the theorem's rate",
        ylim=(ds.attrs["epsilon"] / 100, 10),
    )
    ax.legend(fontsize=6, ncol=2)
    return fig


def plot_gram(datasets: Mapping[str, xr.Dataset]):
    """Normalised lambda_min(P(0)) and lambda_max(P(0)) over (width, depth), at the widths where
    they were computed (brute-force cells; the reduction does not form P(0))."""
    ds = datasets["phase_diagram"]
    computed = ds["gram_min_init"].where(ds["depth"] > 1).notnull().any(("depth", "seed"))
    if computed.any():
        ds = ds.sel(width=ds["width"].values[computed.values])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, name, title in zip(
        axes,
        ("gram_min_init", "gram_max_init"),
        ("λ̂_min(P(0)) / (L λ_r(XᵀX)/d_out)", "λ_max(P(0)) / (L λ_max(XᵀX)/d_out)"),
        strict=True,
    ):
        v = ds[name].median("seed").transpose("depth", "width")
        im = ax.imshow(np.log10(v.values), origin="lower", aspect="auto", cmap="coolwarm", vmin=-2, vmax=2)
        _log2_ticks(ax, ds["width"].values)
        ax.set_yticks(np.arange(ds.sizes["depth"]))
        ax.set_yticklabels([str(int(L)) for L in ds["depth"].values])
        ax.set(xlabel="width m", ylabel="depth L", title=title)
        fig.colorbar(im, ax=ax, label="log₁₀ (median over seeds); wide limit 0")
    return fig


CAPTIONS = {
    "phase_diagram": "Du & Hu (2019): phase diagram. Colour: log₁₀ of the median over seeds of T_ε, the first GD "
    "step with loss ≤ ε·loss(0), at the theorem's step η = d_out/(3L‖XᵀX‖); grey cells: median capped; text: "
    "fraction of seeds converged where below 100%. Stars: m*(L), the smallest width with median T_ε ≤ "
    "2·T_ε(L=1) and all seeds converged (our rule; the paper has no experiments). The width axis has one "
    "column per grid width, not to scale: white lines mark where the grid stops doubling (e.g. 512 | 1000 | 10⁴).",
    "critical_width": "Du & Hu (2019): m*(L), the width where the median T_ε first falls to 2 T_ε(L=1) with all "
    "seeds converged (our rule), against depth on log-log axes: open squares the grid width, dots the crossing "
    "interpolated in ln m between grid widths (claim D3's statistic), dotted the line m = 4L (Theorem 4.1 needs "
    "m = Ω(L)). Where the dots bend below the line, m* grows slower than linearly over those depths.",
    "narrow": "Du & Hu (2019) / Shamir (2018): narrow nets (widths 1 and 2) at every depth. Median over seeds of "
    "the gradient-flow time (steps × ηL) to loss ≤ ε·loss(0), at each depth's fastest step-size factor of the grid; "
    "left ε = 1e-2 (escape from the saddle), right the final ε. Open triangles: censored medians (more than half "
    "the seeds stopped before ε: a lower bound). Lines: least-squares fit ln T = a + bL + c ln L over the known "
    "medians; b > 0 is exponential growth in depth.",
    "wide_rate": "Du & Hu (2019), beyond the paper (claim D1b): how fast the late rate of wide nets approaches the "
    "wide limit. Each point: mean over seeds of |s/s∞ − 1|, with s the slope of ln loss between ε·loss(0) and "
    "late_ε·loss(0) and s∞ = 2 ln(1 − ηLλ_r/d_out); cells with m ≥ 8L. Runs whose window is not yet dominated by "
    "the slowest mode (its two halves' slopes differ by more than 10 %) are left out. Black: log-log fit with its "
    "seed-bootstrap interval; grey: slope 1/2.",
    "loss_curves": "Du & Hu (2019): median loss(t)/loss(0) over seeds at the largest depth for each width, "
    "against Theorem 4.1's bound (1 − ηLλ_r(XᵀX)/(4d_out))ᵗ (dashed); dotted: the target ε.",
    "gram": "Du & Hu (2019): the Gram operator P(0) at initialisation. Left: its smallest eigenvalue on the "
    "column space of X, right: its largest, both divided by the wide-limit values L·λ(XᵀX)/d_out; median "
    "over seeds, log₁₀ colour scale (0 = wide limit). Brute-force widths only: the cells run by the exact "
    "reduction (m ≥ reduction_min_width) do not form P(0).",
}
