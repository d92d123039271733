"""Min et al. (2021): claims M1-M6, each one short function of the combined datasets
``imbalance`` and ``implicit_bias``."""

from __future__ import annotations

import numpy as np

from deeplinear import engine
from deeplinear.claims import (
    SOURCE_NUMERICS,
    SOURCE_OURS,
    SOURCE_PAPER,
    above,
    at_most,
    claim,
    power_law,
    same_order,
    within,
    worst_over_time,
)
from deeplinear.papers.min2021.analysis import time_to_fraction, usable_points
from deeplinear.papers.min2021.experiments import INIT_BALANCED

CONVERGED = engine.STATUS_CODES[engine.STATUS_CONVERGED]
DIVERGED = engine.STATUS_CODES[engine.STATUS_DIVERGED]


def _theorem_lr(imb):
    """The imbalance experiment at the paper's step (the largest step of the lr scan)."""
    return imb.sel(lr=imb["lr"].max())


@claim("M1", "U_2 = Phi_2^T U is frozen under GD")
def m1(datasets):
    imb, ib = datasets["imbalance"], datasets["implicit_bias"]
    drift = float(max(imb["u2_drift"].max(), ib["u2_final_drift"].max()))
    diverged = int((imb["status"] == DIVERGED).sum() + (ib["status"] == DIVERGED).sum())
    note = "max over all runs and logged steps of ||U_2(k) - U_2(0)|| / ||U_2(0)||"
    return at_most(
        drift,
        1e-12,
        predicted=0.0,
        source=SOURCE_NUMERICS,
        note=note + (f"; {diverged} diverged runs" if diverged else ""),
    )


@claim("M2", "imbalance Lambda is conserved by the flow; GD drift is O(eta)")
def m2(datasets):
    imb = datasets["imbalance"]
    lrs = np.sort(imb["lr"].values)
    if lrs.size < 2:
        raise ValueError("needs two step sizes (lr_factors) in the imbalance experiment")
    final = imb["lambda_drift"].isel(log_point=-1)
    ratios = ((final.sel(lr=lrs[-1]) / final.sel(lr=lrs[0])) * (lrs[0] / lrs[-1]) * 2).values.ravel()
    worst = float(ratios[np.argmax(np.abs(ratios - 2))])
    note = (
        f"drift(eta)/drift(eta/2) at t={float(imb['time'].isel(log_point=-1).max()):g} per init and seed (worst "
        f"shown; all: {np.round(ratios, 3).tolist()}), eta ratio {lrs[-1] / lrs[0]:g} rescaled to 2"
    )
    return within(worst, 1.8, 2.2, predicted=2.0, source=SOURCE_OURS, note=note)


@claim("M3", "Theorem 1: L(t)-L* <= exp(-2 lambda_r(Sigma_x) c t)(L(0)-L*)")
def m3(datasets):
    base = _theorem_lr(datasets["imbalance"])
    ratio = (base["excess_loss"] / base["theorem1_bound"]).where(usable_points(base))
    step = base["step"].broadcast_like(ratio)
    note = "over inits and seeds until each run stopped; GD with small eta stands in for the flow (1% slack)"
    return worst_over_time(ratio.values, step.values, slack=0.01, source=SOURCE_OURS, note=note)


@claim("M3[ordering]", "Theorem 1: more imbalance (larger c) converges faster; balanced slowest")
def m3_ordering(datasets):
    base = _theorem_lr(datasets["imbalance"])
    t_conv = time_to_fraction(base, 1e-6)  # (seed, init)
    c_mean = base["c"].mean("seed")
    measured = np.argsort(t_conv.mean("seed").values)  # fastest first
    predicted = np.argsort(-c_mean.values)
    labels = base["init_label"].values
    note = "order by mean time to reach 1e-6 of the initial excess loss (fastest first) vs order by c = " + ", ".join(
        f"{lab}: {v:.3g}" for lab, v in zip(labels, c_mean.values, strict=True)
    )
    return same_order(
        labels[measured].tolist(),
        labels[predicted].tolist(),
        also=labels[measured[-1]] == INIT_BALANCED,
        also_rule="balanced last",
        source=SOURCE_PAPER,
        note=note,
    )


@claim("M4", "Theorem 2: ||U V^T - Theta_hat|| = O(h^{-(2 alpha - 1/2)})")
def m4(datasets):
    ib = datasets["implicit_bias"]
    dist = ib["distance_to_min_norm"].where(ib["status"] == CONVERGED)
    widths = ib["width"].values
    return {
        f"alpha={alpha:g}": power_law(
            widths,
            dist.sel(alpha=alpha).transpose("width", "seed").values,
            -(2 * alpha - 0.5),
            0.05,
            source=SOURCE_OURS,
            note=f"log-log slope of the seed-mean distance over h = {widths.tolist()}; converged runs only",
        )
        for alpha in ib["alpha"].values
    }


@claim("M5", "Theorem 2 proof: c = lambda_r(Lambda0) + lambda_m(-Lambda0) >= h^{1-2 alpha}")
def m5(datasets):
    ib = datasets["implicit_bias"]
    out = {}
    for alpha in ib["alpha"].values:
        per_width = (ib["c"].sel(alpha=alpha) / ib["width"] ** (1 - 2 * alpha)).min("seed")
        by_width = ", ".join(
            f"h={int(h)}: {float(v):.3f}" for h, v in zip(ib["width"].values, per_width.values, strict=True)
        )
        out[f"alpha={alpha:g}"] = above(
            float(per_width.min()),
            1.0,
            source=SOURCE_PAPER,
            note=f"min over seeds of c / h^(1-2 alpha) per width: {by_width}",
        )
    return out


@claim("M6", "v2 Prop. 1: -dL~/dt / L~ >= lambda_r(Sigma_x)[...] (margin-based rate)")
def m6(datasets):
    base = _theorem_lr(datasets["imbalance"])
    ok = (base["rate"] >= base["v2_bound"] * (1 - 1e-9)).where(usable_points(base) & np.isfinite(base["rate"]))
    frac = float(ok.sum() / np.isfinite(ok).sum())
    note = (
        "fraction of logged steps (all inits, until each run stopped) where ||grad L||^2/(L-L*) >= bound; the bound "
        "is evaluated at the current Lambda"
    )
    return within(frac, 0.95, 1.0, predicted=">= 0.95", source=SOURCE_OURS, note=note)


CLAIMS = (m1, m2, m3, m3_ordering, m4, m5, m6)
