"""Claim records: a measured number set against a theorem's prediction, with the tolerance used.

``results/claims/<paper>.json`` holds a list of records; ``results/claims.csv`` has one row per
claim with exactly the fields of :class:`Claim`, ``passed`` written as ``true``/``false``.
A failing claim is a result, never an error.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Claim:
    """One automatic check of a paper's claim.

    ``measured`` and ``predicted`` are numbers where the claim is quantitative, otherwise short
    strings (e.g. an ordering); ``tolerance`` states the acceptance rule in words or as a number.
    """

    id: str
    paper: str
    theorem: str
    measured: float | str
    predicted: float | str
    tolerance: float | str
    passed: bool
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.passed))
        for name in ("measured", "predicted", "tolerance"):
            value = getattr(self, name)
            if isinstance(value, np.generic):
                object.__setattr__(self, name, value.item())


CLAIM_FIELDS = tuple(f.name for f in fields(Claim))


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them readable
    return value


def write_claims_json(claims: Sequence[Claim], path: str | Path) -> Path:
    """Write the records as a JSON list, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{k: _json_number(v) for k, v in asdict(c).items()} for c in claims]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_claims_json(path: str | Path) -> list[Claim]:
    """Read records written by :func:`write_claims_json`."""
    records = json.loads(Path(path).read_text())
    out = []
    for r in records:
        for k in ("measured", "predicted", "tolerance"):
            if r[k] in ("nan", "inf", "-inf"):
                r[k] = float(r[k])
        out.append(Claim(**r))
    return out


def _csv_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_claims_csv(claims: Iterable[Claim], path: str | Path) -> Path:
    """One row per claim, columns exactly the Claim fields, ``passed`` as ``true``/``false``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CLAIM_FIELDS)
        for c in claims:
            writer.writerow([_csv_value(getattr(c, f)) for f in CLAIM_FIELDS])
    os.replace(tmp, path)
    return path


# ---- small statistics helpers used by several papers' claims ---------------------------------


@dataclass(frozen=True)
class LineFit:
    """Least-squares line ``y = slope * x + intercept`` with the slope's standard error and R^2."""

    slope: float
    intercept: float
    slope_se: float
    r_squared: float


def fit_line(x: Sequence[float], y: Sequence[float]) -> LineFit:
    """Ordinary least squares of ``y`` on ``x`` (at least 3 finite points)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return LineFit(math.nan, math.nan, math.nan, math.nan)
    A = np.vstack([x, np.ones_like(x)]).T
    (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - (slope * x + intercept)
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    dof = x.size - 2
    slope_se = math.sqrt(ss_res / dof / float(((x - x.mean()) ** 2).sum())) if dof > 0 else math.nan
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    return LineFit(float(slope), float(intercept), slope_se, r2)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> LineFit:
    """Slope of ``log y`` against ``log x`` (a power-law exponent)."""
    return fit_line(np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64)))
