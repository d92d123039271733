"""Shared figure helpers. Plotting functions take Datasets and return Figures; no numerics here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deeplinear.atomic_files import atomic_path
from deeplinear.numerics import run_status


class _LazyPyplot:
    """``matplotlib.pyplot``, imported (with the file-only Agg backend) on first use, so that
    importing a paper package for an experiment job does not pay for matplotlib."""

    def __getattr__(self, name: str):
        import matplotlib

        matplotlib.use("Agg")  # figures are files; never open a window (also on a cluster node)
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


#: Use as ``from deeplinear.plotting import plt``.
plt = _LazyPyplot()

#: Fixed metadata so the same data give byte-identical PDFs and PNGs.
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": "deeplinear", "Creator": "deeplinear"}
PNG_METADATA = {"Software": "deeplinear"}


def colors(n: int) -> list:
    """``n`` distinguishable colours from the default cycle (viridis beyond ten)."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    return list(plt.cm.viridis([i / max(1, n - 1) for i in range(n)]))


def save_figure(fig, paths: list[str | Path]) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, then close it. Every figure
    uses constrained layout, which keeps its artists inside the canvas, so the canvas is saved as
    it is (``bbox_inches="tight"`` would draw each figure twice per file to measure it)."""
    try:
        for path in map(Path, paths):
            metadata = PDF_METADATA if path.suffix == ".pdf" else PNG_METADATA if path.suffix == ".png" else None
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=150, metadata=metadata)
    finally:
        plt.close(fig)


def leave_out_diverged(ds):
    """``(ds', n)``: ``ds`` with every float variable that spans the dims of its ``status`` flag set
    to NaN where the run diverged, and the number ``n`` of diverged runs.

    Figures draw ``ds'``, so a diverged run (loss not finite or above 1e8 x loss(0), see
    :func:`deeplinear.variables.status_attrs`) never appears as data; :func:`note_left_out` says so on
    the figure. A dataset without a status flag, or without a diverged run, is returned as is.
    """

    if "status" not in ds:
        return ds, 0
    diverged = ds["status"] == run_status.DIVERGED
    n = int(diverged.sum())
    if n == 0:
        return ds, 0
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if name != "status" and var.dtype.kind == "f" and set(diverged.dims) <= set(var.dims):
            out[name] = var.where(~diverged)
    return out, n


def note_left_out(fig, n_diverged: int) -> None:
    """A red line under the figure: how many diverged runs were left out of it (the figure's
    bottom label, for which constrained layout makes room)."""
    fig.supxlabel(
        f"{n_diverged} diverged run{'s' if n_diverged != 1 else ''} left out of this figure\n"
        "(loss not finite or > 1e8 x loss(0))",
        color="C3",
        fontsize="medium",
    )


def label_log_ticks(ax, values, axis: str = "x") -> None:
    """Label a log axis at exactly ``values`` (e.g. the widths of a scan) in plain numbers."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(list(values)))
    target.set_major_formatter(ScalarFormatter())
    target.set_minor_locator(NullLocator())


def power_law_guide(ax, x, y, slope: float, label: str, **style) -> None:
    """Draw ``c x^slope`` on log axes, anchored at the data: ``log c = mean(log y) - slope mean(log x)``.

    Default style: a thin black dashed line; ``style`` overrides it (e.g. ``color=``).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    anchor = np.exp(np.mean(np.log(y)) - slope * np.mean(np.log(x)))
    ax.loglog(x, anchor * x**slope, **{"color": "k", "ls": "--", "lw": 1, **style}, label=label)


def scaling_figure(
    x, mean, se, *, slope: float, slope_label: str, label: str, xlabel: str, ylabel: str, title: str, fmt: str = "o-"
):
    """One log-log panel: ``mean ± se`` against ``x`` with the predicted ``x^slope`` guide."""
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    ax.errorbar(x, mean, yerr=se, fmt=fmt, label=label)
    power_law_guide(ax, x, mean, slope, slope_label)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=title)
    label_log_ticks(ax, x)
    ax.legend(fontsize=8)
    return fig
