"""Sirignano & Spiliopoulos (2022): claims S1-S5, each one short function of the combined
datasets ``sgd`` and ``init_law``."""

from __future__ import annotations

import numpy as np

from deeplinear.alterations import altered, shifted_by_se, tilted
from deeplinear.claims import SOURCE_OURS, claim, power_law, z_family
from deeplinear.numerics.stats import loglog_slope
from deeplinear.papers.sirignano2022.analysis import (
    distance_to_ode,
    lambda_min,
    law_widths,
    law_z_scores,
    seed_counts,
)
from deeplinear.papers.sirignano2022.theory import expected_loss, loss_rate_bound

SLOPE_RANGE = (-0.65, -0.35)  # the project's specification for an N^{-1/2} law
WRONG_EXPONENT = 0.3  # the can-fail alterations of S2 and S3: N^{-0.2} instead of N^{-1/2}


def _ode_gap_tilted(ds):
    """h^N - h^ODE scaled by (N / N_min)^0.3 at every logged time (S2's alteration)."""
    x = ds["width"].astype(float)
    ds["h"] = ds["h_ode"] + (ds["h"] - ds["h_ode"]) * (x / x.min()) ** WRONG_EXPONENT
    return ds


def _mean_shifted(k: float):
    """h^N_t at the largest width moved by k standard errors of its seed mean at t > 0 (S4's alteration)."""

    def transform(ds):
        top = ds["width"] == law_widths(ds).max()
        later = ds["log_point"] > 0
        se = ds["h"].std("seed", ddof=1) / np.sqrt(ds["h"].count("seed"))
        ds["h"] = ds["h"] + (k * se).where(top & later, 0.0)
        return ds

    return transform


def _loss_over_bound(factor: float):
    """Every run's loss at t >= 1 rescaled so that its seed mean is ``factor`` times Theorem 1.3's
    bound (S5[bound]'s alteration)."""

    def transform(ds):
        lam = lambda_min(ds["A"].values)
        mean = ds["loss"].mean("seed")
        bound = loss_rate_bound(mean.isel(log_point=0), lam, ds["time"])
        later = ds["log_point"] > 0
        ds["loss"] = (ds["loss"] * factor * bound / mean).where(later, ds["loss"])
        return ds

    return transform


@claim(
    "S1",
    "Theorem 1.2: g^N_0 -> N(0, Sigma_G) (covariance on the training set)",
    alteration=shifted_by_se("init_law", {"cov": "cov_se"}, 6.0),
)
def s1(datasets):
    init = datasets["init_law"]
    z = ((init["cov"] - init["sigma_g"]) / init["cov_se"]).values
    kurt = init["kurtosis"].mean("train").values
    kurt_pred = init["kurtosis_pred"].mean("train").values
    kfit = loglog_slope(init["width"].values, np.abs(kurt))
    se_kurt = np.sqrt(24 / init.attrs["n_samples"])
    note = (
        f"{init.attrs['n_samples']} networks per width N = {init['width'].values.tolist()}; covariance entries vs "
        "Sigma_G (quadrature). Excess kurtosis (mean over inputs) "
        + ", ".join(
            f"N={int(n)}: {k:.3f} (exact {kp:.3f})"
            for n, k, kp in zip(init["width"].values, kurt, kurt_pred, strict=True)
        )
        + f"; SE about {se_kurt:.3f}; log-log slope {kfit.slope:.2f} (predicted -1; the exact 1/N law is derived "
        "here, not quoted)"
    )
    return z_family(z, note=note)


@claim(
    "S1[kurtosis]",
    "g^N_0 is not Gaussian at finite N: excess kurtosis = exact 1/N law (derived)",
    alteration=shifted_by_se("init_law", {"kurtosis": "kurtosis_se"}, 6.0),
)
def s1_kurtosis(datasets):
    """z-tests of the excess kurtosis against the exact finite-N law at every width and input
    (Holm at 0.01), provided at least one width resolves it from the Gaussian value 0 (|predicted|
    > 3 SE). (Until revision 2 only the widths with |predicted| > 3 SE were tested: N = 1 alone at
    the default scale.)"""
    init = datasets["init_law"]
    kurt, pred, se = (init[name].values for name in ("kurtosis", "kurtosis_pred", "kurtosis_se"))  # (width, train)
    resolved = np.abs(pred) > 3 * se
    if not resolved.any():
        raise ValueError("no width where the predicted excess kurtosis exceeds 3 standard errors")
    widths = init["width"].values[resolved.any(axis=1)].tolist()
    note = (
        f"every width N = {init['width'].values.tolist()} tested (delta-method SE from the sample moments); the law "
        f"is resolved from Gaussian (|predicted| > 3 SE) at N = {widths}; the exact finite-N law is derived here, not "
        "quoted"
    )
    return z_family((kurt - pred) / se, note=note)


@claim(
    "S2",
    "Theorem 1.2: ||h^N_T - h_T|| = O(N^{-1/2}) (paired with the run's own h^N_0)",
    alteration=altered(
        "sgd", f"h^N - h^ODE scaled by (N/N_min)^{WRONG_EXPONENT}: the distance decays as N^-0.2", _ode_gap_tilted
    ),
)
def s2(datasets):
    ds = datasets["sgd"]
    dist = distance_to_ode(ds)
    note = (
        "seed mean over N = "
        + str(ds["width"].values.tolist())
        + " (means "
        + ", ".join(f"{v:.3g}" for v in dist.mean("seed").values)
        + f"; T = {float(ds['time'].isel(log_point=-1).max()):g})"
    )
    return power_law(
        ds["width"].values, dist.transpose("width", "seed").values, -0.5, SLOPE_RANGE, source=SOURCE_OURS, note=note
    )


@claim(
    "S3",
    "parameters move O(N^{-1/2}): max_i |C^i_T - C^i_0| ~ N^{-1/2}",
    alteration=tilted("sgd", "c_movement", "width", WRONG_EXPONENT),
)
def s3(datasets):
    ds = datasets["sgd"]
    wfit = loglog_slope(ds["width"].values, ds["w_movement"].mean("seed").values)
    note = (
        f"seed mean of max_i |C_T - C_0|; for max_i ||W_T - W_0||: {wfit.slope:.3f}; the max over N neurons adds a "
        "slowly growing factor"
    )
    movement = ds["c_movement"].transpose("width", "seed").values
    return power_law(ds["width"].values, movement, -0.5, SLOPE_RANGE, source=SOURCE_OURS, note=note)


@claim(
    "S4",
    "Theorem 1.2: h_t ~ N((I - e^{-At}) Y, e^{-At} Sigma_G e^{-At}) across seeds",
    alteration=altered(
        "sgd", "h^N_t at the tested N shifted by 8 SE of its seed mean at every t > 0", _mean_shifted(8.0)
    ),
)
def s4(datasets):
    ds = datasets["sgd"]
    top = int(law_widths(ds).max())
    times, z_mean, z_cov = law_z_scores(ds, top)
    note = (
        f"N = {top} (the largest width with the most seeds), {int(seed_counts(ds).sel(width=top))} seeds, "
        f"{len(times)} logged times: max |z| of the mean "
        f"{float(np.abs(z_mean[1:]).max()):.2f} and of the covariance entries {float(np.abs(z_cov).max()):.2f} "
        "(correlated tests); the law ignores the O(N^-1/2) finite-width bias"
    )
    return z_family(np.concatenate([z_mean[1:].ravel(), z_cov.ravel()]), note=note)


S5_SHIFT = 1.5  # S5's alteration: the seed-mean loss 50 % above the expected loss
S5_BOUND_EXCESS = 1.5  # S5[bound]'s alteration: the loss 50 % above Theorem 1.3's bound


def _loss_mean_and_se(ds, width):
    loss = ds["loss"].sel(width=width)
    return loss.mean("seed").values, loss.std("seed", ddof=1).values / np.sqrt(loss.count("seed").values)


@claim(
    "S5",
    "Theorem 1.2: the loss follows the random ODE's exact expected loss up to O(N^{-1/2})",
    alteration=altered(
        "sgd", f"every run's loss multiplied by {S5_SHIFT:g}", lambda ds: ds.assign(loss=ds["loss"] * S5_SHIFT)
    ),
)
def s5_expected(datasets):
    """z-tests of the seed-mean loss against the exact expected loss of the random ODE, at every
    width and logged t >= 1, plus one per time pooled over the widths (inverse-variance weights),
    Holm at 0.01. (Until revision 2 of the claims the rule was a relative error within 5/sqrt(N),
    12.5-50 %, against measured errors of 1.6-5.7 %: no power.) The O(N^-1/2) finite-width bias is
    part of what is tested: it must be below the seeds' resolution."""
    ds = datasets["sgd"]
    z, per_width, pooled_num, pooled_den = [], [], 0.0, 0.0
    for n in law_widths(ds):
        exact = expected_loss(ds["A"].values, ds["y"].values, ds["sigma_g"].values, ds["time"].sel(width=n).values)
        mean, se = _loss_mean_and_se(ds, n)
        z.append(((mean - exact) / se)[1:])
        pooled_num = pooled_num + ((mean - exact) / se**2)[1:]
        pooled_den = pooled_den + (1 / se**2)[1:]
        per_width.append(
            f"N={int(n)}: {np.abs((mean - exact) / exact)[1:].max():.3f} (SE {(se / exact)[1:].max():.3f})"
        )
    pooled = pooled_num / np.sqrt(pooled_den)
    note = (
        f"z = (seed-mean loss - E loss) / SE over {ds.sizes['seed']} seeds at every width that ran them "
        f"(N = {law_widths(ds).tolist()}) and logged t >= 1, and pooled "
        "over widths per time (max |pooled z| "
        f"{float(np.abs(pooled).max()):.2f}); E loss = (||e^(-At)Y||^2 + tr(e^(-At) Sigma_G e^(-At)))/(2M), derived "
        "here, not quoted; worst relative error per width: " + ", ".join(per_width)
    )
    return z_family(np.concatenate([*z, pooled]), note=note)


@claim(
    "S5[bound]",
    "Theorem 1.3: A positive definite => training loss -> 0 at rate e^{-2 lambda_min(A) t}",
    alteration=altered(
        "sgd",
        f"every run's loss at t >= 1 rescaled to {S5_BOUND_EXCESS:g} x the bound (seed mean)",
        _loss_over_bound(S5_BOUND_EXCESS),
    ),
)
def s5_bound(datasets):
    """lambda_min(A) > 0, and one-sided z-tests that the seed-mean loss does not exceed
    e^{-2 lambda_min t} loss(0): z = (ratio - 1) / SE(ratio) at every width and logged t >= 1 and
    pooled over the widths per time (inverse-variance weights), Holm at 0.01 (a negative z counts as 0). (Until revision 2 the rule was ratio <= 1 + 5/sqrt(N),
    an allowance above 1 against a measured 0.40.)"""
    ds = datasets["sgd"]
    widths = law_widths(ds)
    lam = lambda_min(ds["A"].values)
    z, worst, pooled_num, pooled_den, means = [], [], 0.0, 0.0, {}
    for n in widths:
        mean, se = _loss_mean_and_se(ds, n)
        means[n] = mean
        bound = loss_rate_bound(mean[0], lam, ds["time"].sel(width=n).values)
        ratio, ratio_se = mean / bound, se / bound
        z.append(np.maximum((ratio - 1) / ratio_se, 0.0)[1:])
        pooled_num = pooled_num + ((ratio - 1) / ratio_se**2)[1:]
        pooled_den = pooled_den + (1 / ratio_se**2)[1:]
        worst.append(f"N={int(n)}: {ratio[1:].max():.3f}")
    z.append(np.maximum(pooled_num / np.sqrt(pooled_den), 0.0))
    top_mean = means[widths.max()]
    if not lam > 0:
        raise ValueError(f"lambda_min(A) = {lam:.3g} is not positive: Theorem 1.3 does not apply")
    note = (
        f"lambda_min(A) = {lam:.4g} (quadrature) > 0; max over logged t >= 1 of seed-mean loss / (e^(-2 lambda_min t) "
        "loss(0)) per N: " + ", ".join(worst) + f"; final seed-mean loss at N={int(widths.max())}: {top_mean[-1]:.3g}; "
        "one-sided z-tests (two-sided p of max(z, 0): level 0.005 per side)"
    )
    outcome = z_family(np.concatenate(z), note=note)
    return outcome


CLAIMS = (s1, s1_kurtosis, s2, s3, s4, s5_expected, s5_bound)
