"""Claims as data: a measured number set against a theorem's prediction, with the tolerance used.

Three layers:

* :class:`Claim`, the record. ``results/claims/<paper>.json`` holds a list of records;
  ``results/claims.csv`` has one row per claim with exactly the fields of :class:`Claim`,
  ``passed`` written as ``true``/``false``. A failing claim is a result, never an error.
* The vocabulary: small functions for the kinds of check the papers use (:func:`identity`,
  :func:`at_most`, :func:`above`, :func:`within`, :func:`same_order`, :func:`all_of`, :func:`power_law`,
  :func:`z_family`, :func:`p_family`, :func:`worst_over_time`). Each returns an
  :class:`Outcome` whose ``passed`` follows from the measured value and the :class:`Tolerance` by
  construction, and each tolerance names its source (the paper, a statistical level, floating
  point, or our choice).
* :func:`claim`, a decorator that turns a function of the paper's combined datasets into a
  :class:`ClaimCheck`: id and theorem once, the computation in a few lines. A computation that
  raises becomes a failed record with the error in its note, so a claims job always completes.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from deeplinear.alterations import Alteration
from deeplinear.atomic_files import atomic_path
from deeplinear.numerics import stats
from deeplinear.numerics.stats import LineFit, fit_line, loglog_slope  # noqa: F401 (re-exported)


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
    records = [{k: _json_number(v) for k, v in asdict(c).items()} for c in claims]
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(records, indent=2) + "\n")
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
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CLAIM_FIELDS)
        for c in claims:
            writer.writerow([_csv_value(getattr(c, f)) for f in CLAIM_FIELDS])
    return path


# ---- tolerances and outcomes -------------------------------------------------------------------

#: Where a tolerance comes from (recorded with every claim).
SOURCE_PAPER = "the paper's statement"
SOURCE_STATISTICS = "statistical level"
SOURCE_NUMERICS = "floating-point accuracy"
SOURCE_OURS = "our choice"
SOURCES = (SOURCE_PAPER, SOURCE_STATISTICS, SOURCE_NUMERICS, SOURCE_OURS)


@dataclass(frozen=True)
class Tolerance:
    """An acceptance rule in words and where its numbers come from."""

    rule: str
    source: str

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"tolerance source must be one of {SOURCES}, got {self.source!r}")

    def __str__(self) -> str:
        return f"{self.rule} [{self.source}]"


@dataclass(frozen=True)
class Outcome:
    """What one check measured, what was predicted, the rule applied and its verdict.

    Built by the vocabulary functions below, which compute ``passed`` from ``measured`` and the
    rule; a NaN measurement never passes.
    """

    measured: float | str
    predicted: float | str
    tolerance: Tolerance
    passed: bool
    note: str = ""
    #: the test's design, for power analysis (not written to the record): ``("z", n_tests, alpha)``,
    #: ``("p", n_tests, alpha)``, ``("slope", low, high, slope_se)`` or ``()`` for a deterministic rule
    design: tuple = ()


def _finite(x) -> bool:
    return isinstance(x, int | float | np.number) and math.isfinite(float(x))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def identity(
    measured: float, predicted: float, atol: float, *, source: str = SOURCE_NUMERICS, note: str = ""
) -> Outcome:
    """An exact identity checked to an absolute tolerance: ``|measured - predicted| <= atol``."""
    measured = float(measured)
    passed = _finite(measured) and abs(measured - predicted) <= atol
    return Outcome(measured, predicted, Tolerance(f"|measured - predicted| <= {atol:g}", source), passed, note)


def at_most(
    measured: float, bound: float, *, source: str, note: str = "", predicted: float | str | None = None
) -> Outcome:
    """An upper bound: ``measured <= bound``."""
    measured = float(measured)
    passed = _finite(measured) and measured <= bound
    pred = bound if predicted is None else predicted
    return Outcome(measured, pred, Tolerance(f"measured <= {bound:g}", source), passed, note)


def above(
    measured: float, bound: float, *, source: str, note: str = "", predicted: float | str | None = None
) -> Outcome:
    """A strict lower bound: ``measured > bound``."""
    measured = float(measured)
    passed = _finite(measured) and measured > bound
    pred = f"> {bound:g}" if predicted is None else predicted
    return Outcome(measured, pred, Tolerance(f"measured > {bound:g}", source), passed, note)


def within(measured: float, low: float, high: float, *, predicted: float | str, source: str, note: str = "") -> Outcome:
    """An interval: ``low <= measured <= high``."""
    measured = float(measured)
    passed = _finite(measured) and low <= measured <= high
    return Outcome(measured, predicted, Tolerance(f"measured in [{low:g}, {high:g}]", source), passed, note)


def same_order(
    measured: Sequence[str],
    predicted: Sequence[str],
    *,
    source: str,
    note: str = "",
    also: bool = True,
    also_rule: str = "",
) -> Outcome:
    """Two orderings agree (``measured`` and ``predicted`` list the same labels, first to last);
    ``also`` adds a further condition stated in ``also_rule``."""
    passed = list(measured) == list(predicted) and bool(also)
    rule = "same order" + (f" and {also_rule}" if also_rule else "")
    return Outcome(" > ".join(measured), " > ".join(predicted), Tolerance(rule, source), passed, note)


def all_of(
    measured: float | str,
    predicted: float | str,
    conditions: Mapping[str, bool],
    *,
    source: str,
    note: str = "",
    design: tuple = (),
) -> Outcome:
    """A compound check: passes when every named condition holds (the rule lists them, the note
    names those that failed); ``design`` names the statistical test among them, if one decides it."""
    failed = [name for name, ok in conditions.items() if not ok]
    passed = bool(conditions) and not failed
    extra = f"failed: {', '.join(failed)}" if failed else ""
    return Outcome(measured, predicted, Tolerance(" and ".join(conditions), source), passed, _join(extra, note), design)


def power_law(
    x: Sequence[float],
    samples: np.ndarray,
    predicted: float,
    tolerance: float | tuple[float, float],
    *,
    source: str,
    note: str = "",
    n_boot: int = stats.N_BOOTSTRAP,
) -> Outcome:
    """A power-law exponent: the log-log slope of the seed mean of ``samples`` (len(x), n_seeds)
    against ``x``. Passes when the point estimate is within ``predicted ± tolerance`` (or in the
    interval ``tolerance = (low, high)``); the note carries the 95 % bootstrap interval over seeds.
    """
    fit = stats.bootstrap_loglog_slope(x, samples, n_boot=n_boot)
    if isinstance(tolerance, tuple):
        low, high = tolerance
        rule = f"slope in [{low:g}, {high:g}]"
    else:
        low, high = predicted - tolerance, predicted + tolerance
        rule = f"|slope - ({predicted:g})| <= {tolerance:g}"
    passed = _finite(fit.slope) and low <= fit.slope <= high
    spread = (fit.high - fit.low) / (2 * 1.96)  # the seed-sampling SD of the slope, from its bootstrap interval
    design = ("slope", low, high, spread if _finite(spread) else fit.slope_se)
    return Outcome(
        fit.slope, predicted, Tolerance(rule, source), passed, _join(fit.describe(), note, _power_note(design)), design
    )


def _power_note(design: tuple) -> str:
    """The smallest violation the test detects with probability 0.9, from its exact null law
    (closed forms of :mod:`deeplinear.numerics.stats`; ``python -m deeplinear can-fail`` prints the
    same figures by simulation)."""
    kind = design[0] if design else ""
    if kind in ("z", "p"):
        _, n, alpha = design
        one, every = stats.detectable_shift(n, alpha), stats.detectable_shift(n, alpha, every=True)
        unit = "SE" if kind == "z" else "SE (z-equivalent)"
        return f"detectable with power 0.9: one test off by {one:.2f} {unit}, or every test by {every:.2f}"
    if kind == "slope":
        _, low, high, sd = design
        error = stats.detectable_exponent_error(low, high, sd)
        if not _finite(error):
            return ""
        if not math.isfinite(low):
            return f"detectable with power 0.9: exponent {error:.3f} above the bound"
        return f"detectable with power 0.9: exponent off by {error:.3f}"
    return ""


def z_family(z: Sequence[float], *, alpha: float = 0.01, note: str = "") -> Outcome:
    """A family of z-tests of exact predictions, Holm-Bonferroni at family-wise level ``alpha``.

    Passes when Holm rejects none of the hypotheses, i.e. when the largest ``|z|`` is below the
    Bonferroni critical value of the family. Measured: the largest ``|z|``.
    """
    z = np.asarray(z, dtype=np.float64).ravel()
    rejected = stats.holm_rejections(stats.two_sided_p(z), alpha)
    finite = np.isfinite(z)
    worst = float(np.abs(z[finite]).max()) if finite.any() else math.nan
    crit = stats.bonferroni_z(z.size, alpha)
    passed = bool(finite.all() and not rejected.any())
    rule = f"Holm at alpha={alpha:g} over {z.size} tests rejects none (max |z| < {crit:.2f})"
    extra = f"{int(rejected.sum())} of {z.size} rejected" + ("" if finite.all() else f"; {int((~finite).sum())} NaN")
    design = ("z", z.size, alpha)
    return Outcome(
        worst, 0.0, Tolerance(rule, SOURCE_STATISTICS), passed, _join(extra, note, _power_note(design)), design
    )


def p_family(p_values: Sequence[float], *, alpha: float = 0.01, note: str = "") -> Outcome:
    """A family of tests given by p-values, Holm-Bonferroni at family-wise level ``alpha``.
    Measured: the smallest p-value."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    rejected = stats.holm_rejections(p, alpha)
    finite = np.isfinite(p)
    smallest = float(p[finite].min()) if finite.any() else math.nan
    passed = bool(finite.all() and not rejected.any())
    rule = f"Holm at alpha={alpha:g} over {p.size} tests rejects none (min p > {alpha / max(p.size, 1):.2g})"
    extra = f"{int(rejected.sum())} of {p.size} rejected"
    return Outcome(
        smallest,
        f"> {alpha:g} (family-wise)",
        Tolerance(rule, SOURCE_STATISTICS),
        passed,
        _join(extra, note, _power_note(("p", p.size, alpha))),
        ("p", p.size, alpha),
    )


def worst_over_time(ratio: np.ndarray, time: np.ndarray, *, slack: float = 0.0, source: str, note: str = "") -> Outcome:
    """A bound checked where it bites: the worst ``measured / bound`` ratio over logged times
    ``t >= 1`` (at ``t = 0`` a bound anchored at the initial value holds with equality).

    ``ratio`` has the logged times on its last axis and ``time`` (broadcastable to it) gives them;
    callers pass unique runs only. Passes when the worst ratio is ``<= 1 + slack``.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    late = np.broadcast_to(np.asarray(time, dtype=np.float64), ratio.shape) >= 1
    values = ratio[late & np.isfinite(ratio)]
    worst = float(values.max()) if values.size else math.nan
    rule = f"max over steps t >= 1 of measured/bound <= {1 + slack:g}"
    passed = _finite(worst) and worst <= 1 + slack
    return Outcome(worst, 1.0, Tolerance(rule, source), passed, _join(f"{values.size} (run, t >= 1) points", note))


# ---- claim checks ----------------------------------------------------------------------------------

Datasets = Mapping[str, "object"]  # experiment name -> combined xarray Dataset


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of a paper: its id, the statement it tests, and the function that tests it.

    ``compute(datasets)`` returns one :class:`Outcome`, or ``{qualifier: Outcome}`` when the claim
    is stated for several parameter values (records ``<id>[<qualifier>]``).
    """

    id: str
    theorem: str
    compute: Callable[[Datasets], Outcome | Mapping[str, Outcome]]
    alteration: Alteration | None = None

    def outcomes(self, datasets: Datasets) -> dict[str, Outcome]:
        """The check's outcomes by record id (``<id>`` or ``<id>[<qualifier>]``); raises when the
        computation does or produces nothing."""
        result = self.compute(datasets)
        items = list(result.items()) if isinstance(result, Mapping) else [("", result)]
        if not items:
            raise ValueError("the check produced no outcome (no data for it in these datasets?)")
        return {f"{self.id}[{q}]" if q else self.id: o for q, o in items}

    def records(self, paper: str, outcomes: Mapping[str, Outcome]) -> list[Claim]:
        """The :class:`Claim` records of :meth:`outcomes`."""
        return [
            Claim(rid, paper, self.theorem, o.measured, o.predicted, str(o.tolerance), o.passed, o.note)
            for rid, o in outcomes.items()
        ]

    def evaluate(self, paper: str, datasets: Datasets) -> list[Claim]:
        """Run the check; an exception or an empty result becomes one failed record."""
        try:
            outcomes = self.outcomes(datasets)
        except Exception as exc:  # a broken claim is a failed claim, never a failed job
            note = f"claim computation failed: {type(exc).__name__}: {exc}"
            return [Claim(self.id, paper, self.theorem, math.nan, math.nan, "", False, note)]
        return self.records(paper, outcomes)


def claim(
    claim_id: str, theorem: str, *, alteration: Alteration | None = None
) -> Callable[[Callable[[Datasets], Outcome | Mapping[str, Outcome]]], ClaimCheck]:
    """Decorator: ``@claim("M1", "U_2 is frozen", alteration=...)`` over ``def m1(datasets) -> Outcome``.

    ``alteration`` is the claim's can-fail contract (see :class:`Alteration`); every registered
    claim declares one (the contract test enforces it)."""

    def wrap(fn: Callable[[Datasets], Outcome | Mapping[str, Outcome]]) -> ClaimCheck:
        return ClaimCheck(claim_id, theorem, fn, alteration)

    return wrap


def evaluate_claims(paper: str, checks: Sequence[ClaimCheck], datasets: Datasets) -> list[Claim]:
    """Every check of a paper, in order. Record ids are unique and each belongs to its check."""
    records: list[Claim] = []
    for check in checks:
        for record in check.evaluate(paper, datasets):
            if record.id != check.id and not record.id.startswith(f"{check.id}["):
                raise ValueError(f"claim check {check.id} produced a record with id {record.id}")
            records.append(record)
    ids = [r.id for r in records]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{paper}: duplicate claim ids {duplicates}")
    return records


@dataclass(frozen=True)
class CanFail:
    """One claim's can-fail contract evaluated on a set of datasets: its records on the unaltered
    and on the altered datasets. ``holds`` when every unaltered record passes and every altered
    record fails."""

    claim_id: str
    alteration: str
    unaltered: tuple[Claim, ...]
    altered: tuple[Claim, ...]

    @property
    def passes_unaltered(self) -> bool:
        return bool(self.unaltered) and all(r.passed for r in self.unaltered)

    @property
    def fails_altered(self) -> bool:
        return bool(self.altered) and not any(r.passed for r in self.altered)

    @property
    def holds(self) -> bool:
        return self.passes_unaltered and self.fails_altered


def check_can_fail(
    paper: str, check: ClaimCheck, datasets: Datasets, unaltered: Sequence[Claim] | None = None
) -> CanFail:
    """Evaluate ``check`` on ``datasets`` (unless its ``unaltered`` records are given) and on its
    alteration of them (a check without an alteration fails the contract: its altered records are
    empty)."""
    unaltered = tuple(check.evaluate(paper, datasets) if unaltered is None else unaltered)
    if check.alteration is None:
        return CanFail(check.id, "(none declared)", unaltered, ())
    altered_records = tuple(check.evaluate(paper, check.alteration(datasets)))
    return CanFail(check.id, check.alteration.description, unaltered, altered_records)
