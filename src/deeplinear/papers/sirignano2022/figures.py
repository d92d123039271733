"""Sirignano & Spiliopoulos (2022): the figures (datasets -> matplotlib Figure) and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from deeplinear import plotting
from deeplinear.papers.sirignano2022.analysis import distance_to_ode, lambda_min, law_widths, width_run
from deeplinear.papers.sirignano2022.theory import expected_loss, loss_rate_bound, ode_law
from deeplinear.plotting import plt

# ---- figures -----------------------------------------------------------------------------------


def plot_ode_distance(datasets: Mapping[str, xr.Dataset]):
    ds = datasets["sgd"]
    d = distance_to_ode(ds)
    return plotting.scaling_figure(
        ds["width"].values,
        d.mean("seed").values,
        (d.std("seed") / np.sqrt(d.count("seed"))).values,
        slope=-0.5,
        slope_label="slope −1/2",
        label="‖h^N_T − h_T‖ (mean ± SE)",
        xlabel="width N",
        ylabel="‖h^N_T − h_T‖ on the training set",
        title="distance to the paired random ODE",
    )


def plot_law(datasets: Mapping[str, xr.Dataset]):
    ds = datasets["sgd"]
    top = int(law_widths(ds).max())  # the width S4 tests
    sub = width_run(ds, top)
    times = sub["time"].values
    mean_pred, cov_pred = ode_law(sub["A"].values, sub["y"].values, sub["sigma_g"].values, times)
    h = sub["h"].transpose("log_point", "seed", "train").values
    fig, (ax_m, ax_v) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for j, color in zip(range(h.shape[-1]), plotting.colors(h.shape[-1]), strict=True):
        se = h[:, :, j].std(1, ddof=1) / np.sqrt(h.shape[1])
        ax_m.errorbar(times, h[:, :, j].mean(1), yerr=se, fmt="o", ms=3, color=color, label=f"x_{j}")
        ax_m.plot(times, mean_pred[:, j], color=color, lw=1)
        ax_v.plot(times, h[:, :, j].var(1, ddof=1), "o", ms=3, color=color)
        ax_v.plot(times, cov_pred[:, j, j], color=color, lw=1)
    ax_m.set(
        xlabel="time t = k/N", ylabel="mean over seeds of h^N_t(x_j)", title=f"N = {top}: mean; lines: (I − e^(−At))Ŷ"
    )
    ax_v.set(xlabel="time t = k/N", ylabel="variance over seeds", title="variance; lines: diag e^(−At) Σ_G e^(−At)")
    ax_m.legend(fontsize=7)
    return fig


def plot_movement(datasets: Mapping[str, xr.Dataset]):
    ds = datasets["sgd"]
    widths = ds["width"].values
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    for name, label in (("c_movement", "max_i |C_T − C_0|"), ("w_movement", "max_i ‖W_T − W_0‖")):
        v = ds[name].mean("seed").values
        ax.loglog(widths, v, "o-", label=label)
    plotting.power_law_guide(ax, widths, ds["c_movement"].mean("seed").values, -0.5, "slope −1/2")
    ax.set(xlabel="width N", ylabel="parameter movement (mean over seeds)", title="lazy training")
    plotting.label_log_ticks(ax, widths)
    ax.legend(fontsize=8)
    return fig


def plot_loss(datasets: Mapping[str, xr.Dataset]):
    """Seed-mean loss against time with a band of the middle 80 % of seeds, the random ODE's exact
    expected loss and the e^{-2 lambda_min t} bound."""
    ds = datasets["sgd"]
    lam = lambda_min(ds["A"].values)
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    for n, color in zip(ds["width"].values, plotting.colors(ds.sizes["width"]), strict=True):
        sub = ds.sel(width=n)
        loss = sub["loss"].mean("seed")
        t = sub["time"].values
        ax.fill_between(
            t, sub["loss"].quantile(0.1, "seed"), sub["loss"].quantile(0.9, "seed"), color=color, alpha=0.12, lw=0
        )
        ax.semilogy(t, loss, color=color, lw=1, label=f"N = {int(n)}")
        ax.semilogy(t, loss_rate_bound(float(loss.isel(log_point=0)), lam, t), color=color, ls="--", lw=0.8)
    top = ds.sel(width=ds["width"].max())
    t = top["time"].values
    exact = expected_loss(ds["A"].values, ds["y"].values, ds["sigma_g"].values, t)
    ax.semilogy(t, exact, "k-", lw=2, alpha=0.6, label="E loss of the random ODE (exact)")
    ax.set(
        xlabel="time t = k/N",
        ylabel="training loss (mean over seeds; band: 10–90 %)",
        title=f"loss follows the random ODE's exact expectation\n(dashed: e^(−2λ_min t)·loss(0), λ_min = {lam:.3g})",
    )
    ax.legend(fontsize=7)
    return fig


_TAIL = (
    " Network g^N(x) = N^(−1/2) Σ C^i σ(W^i·x), C ~ U[−1, 1], W ~ N(0, I); SGD with batch one and step "
    "α N^(−3/2) for ⌊TN⌋ steps; A and Σ_G by Gauss–Hermite quadrature."
)
CAPTIONS = {
    "ode_distance": "Sirignano & Spiliopoulos (2022): distance on the training set between the SGD output h^N_T and "
    "the random ODE h_T = Ŷ + e^(−AT)(h^N_0 − Ŷ) started from the same run's h^N_0, against width N (mean ± SE "
    "over seeds), with the predicted N^(−1/2) line." + _TAIL,
    "law": "Sirignano & Spiliopoulos (2022): at the largest width, the mean (left, ± SE) and variance (right) over "
    "seeds of h^N_t(x_j) for each training input, against the Gaussian law of the random ODE (lines)." + _TAIL,
    "movement": "Sirignano & Spiliopoulos (2022): largest parameter movement over the neurons at time T against "
    "width N (mean over seeds), with an N^(−1/2) line: the parameters' law is frozen in the limit." + _TAIL,
    "loss": "Sirignano & Spiliopoulos (2022): training loss (mean over seeds, log scale; band: 10–90 % of seeds) "
    "against time t = k/N for each width, with the exact expected loss of the random ODE, "
    "(‖e^{−At}Ŷ‖² + tr(e^{−At}Σ_G e^{−At}))/(2M) (black, derived here, not quoted), and e^(−2 λ_min(A) t)·loss(0) "
    "(dashed, Theorem 1.3's rate for the limit)." + _TAIL,
}
