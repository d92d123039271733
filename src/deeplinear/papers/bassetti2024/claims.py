"""Bassetti et al. (2024): claims B1-B8, each one short function of the combined datasets
``proportional`` (exact sampler) and ``brute_force`` (real networks).

Every closed form and limit law used here is derived from the Bartlett representation, not
quoted from the paper; each note says so. Families of z-tests and KS tests are tested with
Holm-Bonferroni at family-wise level 0.01.
"""

from __future__ import annotations

import numpy as np

from deeplinear.alterations import altered, scaled, shifted_by_se
from deeplinear.claims import SOURCE_OURS, SOURCE_STATISTICS, all_of, claim, p_family, z_family
from deeplinear.numerics.stats import fit_line
from deeplinear.papers.bassetti2024.about import DERIVED
from deeplinear.papers.bassetti2024.analysis import (
    TWO_SAMPLE_STATISTICS,
    cells,
    layer_widths,
    second_moment_triples,
    z_scores,
)
from deeplinear.papers.bassetti2024.theory import (
    cross_moments,
    kurtosis_limit,
    log_det_moments,
    log_r11_moments,
    s_product,
)

KS_CRITICAL_1PCT = 1.63  # one-sample KS at the 1% level: D > 1.63 / sqrt(n)
KS_MEAN_FLOOR = 0.87  # mean KS distance of an exact sample of size n: about 0.87 / sqrt(n)


def _gap_grows_with_n(ds):
    """KS(log R_11) reversed along N: the gap to the limit law grows with N (B8's alteration)."""
    ds["ks_log_r11"] = ds["ks_log_r11"].isel(width=slice(None, None, -1)).assign_coords(width=ds["width"])
    return ds


def _shifted(*names: str):
    return shifted_by_se("proportional", {n: f"{n}_se" for n in names}, 6.0)


@claim(
    "B1",
    "E f_i(x) f_j(x') = lambda* delta_ij K(x, x') (no kernel renormalisation)",
    alteration=_shifted("m2"),
)
def b1(datasets):
    ds, bf = datasets["proportional"], datasets["brute_force"]
    z = z_scores(second_moment_triples(ds) + second_moment_triples(bf))
    note = "entries over the exact-sampler and brute-force cells; z = (measured - predicted) / batch-means SE"
    return z_family(z, note=note)


@claim(
    "B2",
    "kurtosis = 3 prod(1 + 2/N_l) -> 3 e^{2a}; E R_11^2 = prod(1 + 2/N_l)",
    alteration=_shifted("kurtosis", "r11_sq"),
)
def b2(datasets):
    ds = datasets["proportional"]
    triples = []
    for N, a, widths in cells(ds):
        th, c = cross_moments(widths), ds.sel(width=N, ratio=a)
        triples += [
            (float(c["kurtosis"]), th["kurtosis"], float(c["kurtosis_se"])),
            (float(c["r11_sq"]), th["r11_sq"], float(c["r11_sq_se"])),
        ]
    n_max = ds["width"].values.max()
    gap = {float(a): 3 * s_product(layer_widths(ds, n_max, a)) - kurtosis_limit(a) for a in ds["ratio"].values if a > 0}
    note = f"formula {DERIVED}; finite-N minus limit kurtosis at N={n_max}: " + ", ".join(
        f"a={a:g}: {v:.3g}" for a, v in gap.items()
    )
    return z_family(z_scores(triples), note=note)


@claim(
    "B3",
    "E R_12^2 = (s-d)/3, E R_11 R_22 = (s+2d)/3, Cov(f_1^2, f_2^2) = (lambda* K)^2 (s-1) > 0, E f_1 f_2 = 0",
    alteration=_shifted("r12_sq", "r11_r22", "cov_sq", "f1f2"),
)
def b3(datasets):
    ds = datasets["proportional"]
    if int(ds.attrs["outputs"]) < 2:
        raise ValueError("needs at least two outputs (outputs >= 2)")
    triples = []
    for N, a, widths in cells(ds):
        th, c = cross_moments(widths), ds.sel(width=N, ratio=a)
        triples += [(float(c[name]), th[name], float(c[f"{name}_se"])) for name in ("r12_sq", "r11_r22", "cov_sq")]
        triples.append((float(c["f1f2"]), 0.0, float(c["f1f2_se"])))
    return z_family(z_scores(triples), note=f"uncorrelated but dependent outputs; formulas {DERIVED}")


def _log_moment_claim(ds, name: str, theory) -> object:
    triples = []
    for N, a, widths in cells(ds):
        mean, var = theory(widths)
        c = ds.sel(width=N, ratio=a)
        triples += [
            (float(c[f"{name}_mean"]), mean, float(c[f"{name}_mean_se"])),
            (float(c[f"{name}_var"]), var, float(c[f"{name}_var_se"])),
        ]
    return z_family(z_scores(triples), note=f"exact finite-N sums, {DERIVED}")


@claim(
    "B4",
    "mean and variance of log R_11 = digamma and trigamma sums",
    alteration=_shifted("log_r11_mean", "log_r11_var"),
)
def b4(datasets):
    return _log_moment_claim(datasets["proportional"], "log_r11", log_r11_moments)


@claim(
    "B5",
    "mean and variance of log det R = digamma and trigamma sums",
    alteration=_shifted("log_det_mean", "log_det_var"),
)
def b5(datasets):
    ds = datasets["proportional"]
    return _log_moment_claim(ds, "log_det", lambda w: log_det_moments(w, int(ds.attrs["outputs"])))


@claim("B6", "a = 0 (L fixed): Gaussian NNGP limit", alteration=_shifted("kurtosis"))
def b6(datasets):
    ds = datasets["proportional"]
    if 0.0 not in ds["ratio"].values:
        raise ValueError("needs the ratio a = 0 in the grid")
    z0 = ds.sel(ratio=0.0)
    ks = z0["ks_gauss"].values
    critical = KS_CRITICAL_1PCT / np.sqrt(int(ds.attrs["n_samples"]))
    n_max = ds["width"].values.max()
    top = z0.sel(width=n_max)
    k_pred = cross_moments(layer_widths(ds, n_max, 0.0))["kurtosis"]
    conditions = {
        f"KS <= {critical:.2g} (1% critical value)": ks[-1] <= critical,
        "KS at the largest N <= KS at the smallest": ks[-1] <= ks[0],
        "kurtosis within 4 SE of its finite-N value": abs(float(top["kurtosis"]) - k_pred)
        <= 4 * float(top["kurtosis_se"]),
    }
    note = (
        "KS distance to N(0,1) by N: "
        + ", ".join(f"{int(n)}: {v:.3g}" for n, v in zip(ds["width"].values, ks, strict=True))
        + f"; kurtosis at N={n_max}: {float(top['kurtosis']):.4f} +/- {float(top['kurtosis_se']):.2g} "
        f"(finite-N {k_pred:.4f} -> 3)"
    )
    return all_of(float(ks[-1]), 0.0, conditions, source=SOURCE_STATISTICS, note=note)


@claim(
    "B7",
    "the Bartlett representation is exact: brute force and Wishart sampler agree in distribution",
    alteration=scaled(
        "brute_force", "ks_pvalue", 1e-4, "the p-values a swapped law gives: the dataset stores p-values only"
    ),
)
def b7(datasets):
    bf = datasets["brute_force"]
    note = (
        f"two-sample KS p-values for {list(TWO_SAMPLE_STATISTICS)} at N={bf['width'].values.tolist()}, "
        f"a={bf['ratio'].values.tolist()}"
    )
    return p_family(bf["ks_pvalue"].values, note=note)


@claim(
    "B8",
    "D = 1: law at (N, L = aN) -> log-normal scale mixture, R_11 -> e^G, G ~ N(-a, 2a)",
    alteration=altered("proportional", "KS(log R_11) reversed along N: the gap grows with N", _gap_grows_with_n),
)
def b8(datasets):
    """Per ratio a > 0: the KS distance of log R_11 to the limit law N(-a, 2a), minus its sampling
    floor, shrinks with N, and at the largest N the one-sample KS test against the limit law does
    not reject (exact Kolmogorov p-value, Bonferroni over the ratios at 0.01). (Until revision 2 only
    the first condition: once the data reach the sampling floor it passes for any limit law the
    samples approach; the test at the largest N rejects a wrong limit law.)"""
    from scipy.stats import kstwo

    # f_1 has exactly the D = 1 law: a Gaussian scale mixture over R_11, and R_11 -> e^G is the
    # statement. The KS distance of f_1 itself is at the sampling floor already at small N
    # (recorded as ks_limit), so the check uses log R_11, whose finite-N gap is O(1/N), and
    # compares it with the floor: the mean KS distance of an exact sample of the limit law itself.
    ds = datasets["proportional"]
    n = int(ds.attrs["n_samples"])
    floor = KS_MEAN_FLOOR / np.sqrt(n)
    widths = ds["width"].values
    ratios = ds["ratio"].values[ds["ratio"].values > 0]
    level = 0.01 / len(ratios)
    out = {}
    for a in ratios:
        ks = ds["ks_log_r11"].sel(ratio=a).values
        excess = ks - floor
        fit = fit_line(np.log(widths), excess)
        p_top = float(kstwo.sf(ks[-1], n))
        note = (
            f"KS(log R_11, N(-a, 2a)) minus its sampling floor {floor:.2g} (mean KS of an exact sample of that size) "
            f"by N={widths.tolist()}: {np.round(excess, 4).tolist()}, slope {fit.slope:.2g} per ln N; at N={widths[-1]} "
            f"KS {ks[-1]:.4f}, p = {p_top:.3g} ({n} draws); KS of f_1 to its limit law: "
            f"{np.round(ds['ks_limit'].sel(ratio=a).values, 4).tolist()}; limit law {DERIVED}"
        )
        conditions = {
            "excess shrinks with N (slope < 0)": fit.slope < 0,
            "last excess < first excess": excess[-1] < excess[0],
            f"KS test at the largest N does not reject the limit law (p > {level:.2g})": p_top > level,
        }
        out[f"a={a:g}"] = all_of(float(excess[-1]), 0.0, conditions, source=SOURCE_OURS, note=note)
    return out


CLAIMS = (b1, b2, b3, b4, b5, b6, b7, b8)
