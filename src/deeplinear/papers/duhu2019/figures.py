"""Du & Hu (2019): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.papers.duhu2019.analysis import (
    best_median_t_eps,
    critical_width,
    fraction_converged,
    median_t_eps,
    theorem_bound_curve,
)
from deeplinear.plotting import plt

# ---- figures -----------------------------------------------------------------------------------


def _log2_ticks(ax, widths):
    ax.set_xticks(np.arange(len(widths)))
    ax.set_xticklabels([str(int(w)) for w in widths])


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
    ax.set(xlabel="width m", ylabel="depth L", title="log₁₀ median T_ε at the theorem's η (grey: median capped)")
    fig.colorbar(im, ax=ax, label="log₁₀ median T_ε [steps]")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_critical_width(datasets: Mapping[str, xr.Dataset]):
    """m*(L) against L on log-log axes with a slope-1 guide."""
    ds = datasets["phase_diagram"]
    mstar = critical_width(ds).dropna("depth")
    mstar = mstar.where(mstar["depth"] > 1, drop=True)
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    L = mstar["depth"].values
    ax.loglog(L, mstar.values, "o-", label="m*(L) (grid widths)")
    if L.size:
        plotting.power_law_guide(ax, L, mstar.values, 1.0, "slope 1")
        plotting.label_log_ticks(ax, L)
    ax.set(xlabel="depth L", ylabel="m*(L) [width]", title="smallest width with T_ε(L) ≤ 2 T_ε(L=1)")
    ax.legend(fontsize=8)
    return fig


def plot_narrow(datasets: Mapping[str, xr.Dataset]):
    """ln median T_eps against L for widths 1-2 (best step-size multiplier)."""
    ds = datasets["phase_diagram"]
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    narrow = [m for m in ds["width"].values if m <= 2]
    for m, color in zip(narrow, plotting.colors(len(narrow)), strict=True):
        t = best_median_t_eps(ds).sel(width=m)
        ax.plot(ds["depth"], np.log(t.where(np.isfinite(t))), "o-", color=color, label=f"m = {int(m)} (best η factor)")
        t1 = median_t_eps(ds).sel(width=m)
        ax.plot(ds["depth"], np.log(t1.where(np.isfinite(t1))), "x:", color=color, label=f"m = {int(m)} (theorem η)")
    ax.axhline(np.log(ds.attrs["max_steps"]), color="0.5", lw=1, ls="--", label="step cap")
    ax.set(xlabel="depth L", ylabel="ln median T_ε", title="narrow nets: exponential slowdown in L")
    ax.legend(fontsize=7)
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
    """Normalised lambda_min(P(0)) and lambda_max(P(0)) over (width, depth)."""
    ds = datasets["phase_diagram"]
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
    "2·T_ε(L=1) and all seeds converged (our rule; the paper has no experiments).",
    "critical_width": "Du & Hu (2019): m*(L) against depth on log-log axes with a slope-1 guide (Theorem 4.1 "
    "needs m = Ω(L)). m* is restricted to the power-of-two width grid; the rule defining it is our choice.",
    "narrow": "Du & Hu (2019) / Shamir (2018): ln median T_ε against depth for widths 1 and 2, at the best "
    "step-size multiplier of the grid (circles) and at the theorem's η (crosses); missing points are capped. "
    "A straight line in L means exp(Ω(L)) steps.",
    "loss_curves": "Du & Hu (2019): median loss(t)/loss(0) over seeds at the largest depth for each width, "
    "against Theorem 4.1's bound (1 − ηLλ_r(XᵀX)/(4d_out))ᵗ (dashed); dotted: the target ε.",
    "gram": "Du & Hu (2019): the Gram operator P(0) at initialisation. Left: its smallest eigenvalue on the "
    "column space of X, right: its largest, both divided by the wide-limit values L·λ(XᵀX)/d_out; median "
    "over seeds, log₁₀ colour scale (0 = wide limit).",
}
