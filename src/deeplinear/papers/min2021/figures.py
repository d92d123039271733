"""Min et al. (2021): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.numerics import run_status
from deeplinear.papers.min2021.theory import init_error_norm_expected
from deeplinear.plotting import plt

# ---- figures -----------------------------------------------------------------------------------


def plot_imbalance(datasets: Mapping[str, xr.Dataset]):
    """Loss against time for the four inits with the Theorem 1 bound; rate against the v2 bound."""
    ds = datasets["imbalance"]
    ds = ds.sel(lr=ds["lr"].max()).isel(seed=0)
    fig, (ax_loss, ax_rate) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for i, color in zip(ds["init"].values, plotting.colors(ds.sizes["init"]), strict=True):
        d = ds.sel(init=i)
        keep = (d["step"] <= d["stop_step"]).values
        t = d["time"].values[keep]
        label = f"{d['init_label'].item()} (c={float(d['c']):.2g})"
        ax_loss.semilogy(t, d["excess_loss"].values[keep], color=color, label=label)
        ax_loss.semilogy(t, d["theorem1_bound"].values[keep], color=color, ls="--", lw=1)
        ax_rate.semilogy(t, d["rate"].values[keep], color=color, label=label)
        ax_rate.semilogy(t, d["v2_bound"].values[keep], color=color, ls="--", lw=1)
    ax_loss.set(xlabel="time t = η·step", ylabel="excess loss L(t) − L*", title="(a) loss; dashed: Theorem 1 bound")
    ax_rate.set(
        xlabel="time t = η·step", ylabel="rate −dL̃/dt / L̃  [1/time]", title="(b) rate; dashed: v2 Prop. 1 bound"
    )
    ax_loss.legend(fontsize=8)
    return fig


def plot_implicit_bias(datasets: Mapping[str, xr.Dataset]):
    """Distance to the min-norm solution against width, per alpha, exact reduction (filled) and
    brute force (open), with the predicted slopes; diverged or capped runs are left out."""
    ds, brute = datasets["implicit_bias"], datasets["implicit_bias_brute"]
    h = ds["width"].values
    fig, (ax, ax_init) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    dims = (int(ds.attrs["input_dim"]), int(ds.attrs["rank"]), int(ds.attrs["output_dim"]))
    converged = run_status.CONVERGED
    left_out = int((ds["status"] != converged).sum() + (brute["status"] != converged).sum())
    for alpha, color in zip(ds["alpha"].values, plotting.colors(ds.sizes["alpha"]), strict=True):
        d = ds["distance_to_min_norm"].sel(alpha=alpha).where(ds["status"].sel(alpha=alpha) == converged)
        n = d.notnull().sum("seed")
        mean, se = d.mean("seed").values, (d.std("seed") / np.sqrt(n)).values
        ax.errorbar(h, mean, yerr=se, fmt="o-", ms=4, color=color, label=f"α={alpha:g}")
        b = brute["distance_to_min_norm"].sel(alpha=alpha).where(brute["status"].sel(alpha=alpha) == converged)
        ax.loglog(brute["width"], b.mean("seed"), "s", mfc="none", ms=8, color=color)
        slope = -(2 * alpha - 0.5)
        plotting.power_law_guide(ax, h, mean, slope, f"theory slope {slope:g}", color=color)
        ax.loglog(h, ds["prop1_error_norm"].sel(alpha=alpha).mean("seed"), "x", color=color, ms=7)
        i = ds["init_error_norm"].sel(alpha=alpha)
        ax_init.loglog(h, i.mean("seed"), "o", color=color, ms=4, label=f"α={alpha:g}")
        ax_init.loglog(h, init_error_norm_expected(*dims, h, alpha), color=color, lw=1)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="width h",
        ylabel="‖U(∞)V(∞)ᵀ − Θ̂‖_F",
        title="(a) distance to the min-norm solution falls as h^(−(2α−½))\n"
        f"(x: Prop. 1 error; squares: brute force; {left_out} unconverged runs left out)",
    )
    ax_init.set(xlabel="width h", ylabel="‖U₂(0)V(0)ᵀ‖_F", title="(b) init error; line: √((D−r)·m·h^(1−4α))")
    ax.legend(fontsize=7, ncol=2)
    ax_init.legend(fontsize=8)
    return fig


CAPTION_IMBALANCE = (
    "Min et al. (2021), Figure 1 reproduced: GD (step η, time t = η·step) from four initialisations "
    "of a two-layer linear network (D=input dim, h=width, m=1 output) with the same product scale: "
    "three scale pairs (σU, σV) and an init balanced in the whole input space (UᵀU = VᵀV); since D > n "
    "the paper's imbalance Λ₀ = U₁ᵀU₁ − VᵀV on the row space of X is not zero for it (its c is the "
    "smallest, not 0). (a) Excess loss; dashed: the "
    "Theorem 1 bound exp(−2λ_r(Σx)ct)(L(0)−L*) with c from the initial imbalance Λ₀. (b) The "
    "instantaneous rate ‖∇L‖²/(L−L*) against the v2 Prop. 1 margin bound (dashed). More imbalance "
    "(larger c) converges faster; curves end when a run reached its target loss."
)
CAPTION_IMPLICIT_BIAS = (
    "Min et al. (2021), Figure 2 reproduced: distance of the trained product U V^T to the minimum-norm "
    "solution Θ̂ against width h for init entries N(0, h^{−2α}); points are means over seeds ± SE from the "
    "exact two-layer reduction (r + m_out hidden coordinates, any h), open squares brute-force training at "
    "small h; runs that diverged or hit the step cap are left out (their number is in the title); "
    "dashed lines the Theorem 2 slope −(2α−½) anchored at the data, crosses the exact Prop. 1 "
    "error ‖Φ₂U₂(0)V(∞)ᵀ‖. (b) ‖U₂(0)V(0)ᵀ‖ with its exact mean-square line √((D−r)m h^{1−4α}) "
    "(derived here, not quoted)."
)
