"""Bassetti et al. (2024): the cells of the combined datasets and z-scores of their statistics
against the exact finite-N closed forms, shared by claims."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import xarray as xr

#: The statistics of the outputs ``f`` (S, D, P) whose laws the brute-force check compares
#: (two-sample KS, real networks against the exact sampler), by name.
TWO_SAMPLE_STATISTICS = {
    "f1(x1)": lambda f: f[:, 0, 0],
    "f2(x2)": lambda f: f[:, -1, -1],
    "f1(x1) f2(x1)": lambda f: f[:, 0, 0] * f[:, -1, 0],
    "||f||^2": lambda f: np.sum(f**2, axis=(1, 2)),
}


def layer_widths(ds: xr.Dataset, N: int, a: float) -> list[int]:
    """The hidden widths ``[N] * L`` of cell ``(N, a)`` (its depth is stored in the dataset)."""
    return [int(N)] * int(ds["depth"].sel(width=N, ratio=a))


def cells(ds: xr.Dataset) -> Iterator[tuple[int, float, list[int]]]:
    """``(N, a, hidden widths)`` for every cell of the (width, ratio) grid."""
    for N in ds["width"].values:
        for a in ds["ratio"].values:
            yield int(N), float(a), layer_widths(ds, N, a)


def z_scores(triples: list[tuple[float, float, float]]) -> np.ndarray:
    """``(measured - predicted) / se`` for each ``(measured, predicted, se)`` triple."""
    return np.array([(m - p) / se for m, p, se in triples], dtype=np.float64)


def second_moment_triples(source: xr.Dataset) -> list[tuple[float, float, float]]:
    """``E f_i(x_a) f_j(x_b) / lambda*`` against :math:`\\delta_{ij} K_{ab}` for every entry with a
    positive standard error, over every cell of ``source``."""
    D = int(source.attrs["outputs"])
    pred = np.einsum("ij,ab->ijab", np.eye(D), source["kernel"].values)
    triples = []
    for N in source["width"].values:
        for a in source["ratio"].values:
            m = source["m2"].sel(width=N, ratio=a).values
            se = source["m2_se"].sel(width=N, ratio=a).values
            triples += [(m[idx], pred[idx], se[idx]) for idx in np.ndindex(m.shape) if se[idx] > 0]
    return triples
