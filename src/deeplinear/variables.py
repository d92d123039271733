"""Attributes of dataset variables, the one place they are spelled (paper API).

Every variable a runner stores carries CF-style ``long_name`` and ``units``
(:func:`attrs`); a run-outcome variable carries CF flag attributes over the codes of
:mod:`deeplinear.numerics.run_status` (:func:`status_attrs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deeplinear.numerics import run_status


def attrs(long_name: str, units: str = "1", **extra: Any) -> dict[str, Any]:
    """``{"long_name": ..., "units": ...}`` plus any extra attributes (``units="1"``: dimensionless)."""
    return {"long_name": long_name, "units": units, **extra}


def status_attrs(capped_means: str | None = None, *, not_run: bool = False) -> dict[str, Any]:
    """CF flag attributes of a ``status`` variable holding :data:`deeplinear.numerics.run_status.CODES`.

    ``capped_means`` adds a ``comment`` saying what ``capped`` means for this experiment (and how a
    run is judged diverged); ``not_run`` declares :data:`~deeplinear.numerics.run_status.NOT_RUN` too.
    """
    values = [run_status.NOT_RUN] * not_run + list(run_status.CODES.values())
    meanings = "not_run " * not_run + run_status.FLAG_MEANINGS
    out = attrs("run outcome", flag_values=np.array(values, dtype=np.int8), flag_meanings=meanings)
    if capped_means is not None:
        out["comment"] = f"capped: {capped_means}; diverged: loss not finite or above 1e8 x loss(0)"
    return out
