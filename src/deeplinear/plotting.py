"""Shared figure helpers. Plotting functions take Datasets and return Figures; no numerics here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


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
    """Save ``fig`` to each path (format from the suffix), atomically, then close it."""
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
        metadata = PDF_METADATA if path.suffix == ".pdf" else PNG_METADATA if path.suffix == ".png" else None
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata=metadata)
        os.replace(tmp, path)
    plt.close(fig)


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
