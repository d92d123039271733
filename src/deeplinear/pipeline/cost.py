"""Cost before you run: expected CPU time and peak memory of a config, per rule and in total.

The model. Every experiment declares ``cost(params) -> JobCost(work, memory_bytes)`` (work in
units proportional to its arithmetic, memory the size of its largest arrays; see each paper's
``experiments`` module). A job's time is a start-up overhead plus a calibrated rate times its work,
and its peak memory a baseline plus a calibrated factor times its array bytes::

    seconds(job) = overhead_s + seconds_per_work[experiment] * work(job)
    peak_mb(job) = base_mb + (peak_mb[e] - base_mb) * array_mb(job) / array_mb_at_peak[e]

The other rules (combine, claims, figures (one job per paper), report) cost a constant per job, their median.

A job that runs several cases (``min_job_seconds``, :func:`deeplinear.pipeline.jobs.bundle_cases`)
has the summed work of its cases and the largest of their memories (:func:`job_cost`); the
bundling itself reads the packaged calibration, so the jobs of a config are fixed by the commit.

Before a calibration exists (a new paper, or an experiment that never ran on this machine) a job
is priced by a fallback and flagged ``uncalibrated``: its work is taken as arithmetic operations
at :data:`FALLBACK_WORK_PER_SECOND` and its peak memory as the baseline plus its array bytes; an
experiment without a ``cost`` function costs the start-up overhead. Recalibrate after its first run.

Calibration reads Snakemake's benchmark files (``results/benchmarks/**.tsv``: wall seconds and
max RSS of each job) together with the params each job recorded in its dataset
(``config_json``), so it needs no knowledge of the config that produced them:
``python -m deeplinear calibrate results`` writes :data:`CALIBRATION_FILE`. The rate of an
experiment is the sum over its calibration jobs of ``seconds - overhead`` divided by the sum of
their work (the large jobs, which make the total, set it); its memory above the interpreter's
baseline scales with the array size from the job with the largest peak seen.

The wall-clock estimate on ``cores`` cores schedules each stage (experiments, combines, then
claims and figures, then the tables) longest job first, stage after stage; Snakemake overlaps
stages, so this is an upper estimate when the jobs are many and small.
"""

from __future__ import annotations

import csv
import functools
import heapq
import json
import math
import platform
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).with_name("cost_calibration.json")

#: Params key of a job that runs several cases (:func:`deeplinear.pipeline.jobs.bundle_cases`):
#: case name -> that case's params.
BUNDLE_KEY = "bundled_cases"

#: Work units per second assumed for an uncalibrated experiment: its ``cost().work`` is meant to
#: count arithmetic operations, and one core does of order 1e8 of them per second in these loops.
FALLBACK_WORK_PER_SECOND = 1e8

#: Rules after the experiments, in the order their stages run, with the benchmark files' glob.
POST_RULES = {
    "combine_experiment": "combine/**/*.tsv",
    "paper_claims": "claims/*.tsv",
    "figures": "figures/*.tsv",
    "claims_table": "claims/claims_table.tsv",
    "report_page": "report.tsv",
}
STAGES = (("experiments",), ("combine_experiment",), ("paper_claims", "figures"), ("claims_table", "report_page"))


@dataclass(frozen=True)
class JobEstimate:
    """The expected cost of one job."""

    rule: str
    name: str
    seconds: float
    peak_mb: float
    extrapolated: bool = False  # its work lies outside the calibrated range by more than 10x
    uncalibrated: bool = False  # priced by the fallback: no calibration for its experiment yet


def read_benchmark(path: str | Path) -> tuple[float, float]:
    """``(wall seconds, max RSS in MB)`` of a Snakemake benchmark file (its last repeat)."""
    with Path(path).open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: empty benchmark file")
    row = rows[-1]
    rss = row.get("max_rss", "NA")
    return float(row["s"]), float(rss) if rss not in ("NA", "-", "") else float("nan")


def job_cost(cost_fn, params: Mapping[str, Any]):
    """``cost_fn(params)`` of one job; a job running several cases costs the sum of their work,
    and the largest of their array memories (they run one after another)."""
    from deeplinear.paper_api import JobCost

    if BUNDLE_KEY not in params:
        return cost_fn(params)
    parts = [cost_fn(p) for p in params[BUNDLE_KEY].values()]
    return JobCost(sum(c.work for c in parts), max(c.memory_bytes for c in parts))


def case_seconds_function(paper: str, experiment: str, calibration: Mapping[str, Any] | None = None):
    """``params -> seconds`` of one case of an experiment without the start-up overhead (the
    calibrated rate times its work), or ``None`` for an experiment without a cost function or a
    calibration (its estimates are guesses until it has run once: its cases are not bundled)."""
    from deeplinear.pipeline import registry

    cost_fn = registry.experiment(paper, experiment).cost
    if cost_fn is None:
        return None
    if calibration is None:
        if not CALIBRATION_FILE.exists():
            return None
        calibration = _packaged_calibration()
    fit = calibration["experiments"].get(f"{paper}/{experiment}")
    if fit is None:
        return None
    rate = fit["seconds_per_work"]
    return lambda params: rate * cost_fn(params).work


@functools.cache
def _packaged_calibration() -> dict[str, Any]:
    """The calibration packaged with the code, read once per process (the job table asks per experiment)."""
    return read_calibration(CALIBRATION_FILE)


def _experiment_samples(results: Path) -> list[tuple[str, dict[str, Any], float, float]]:
    """``(paper/experiment, params, seconds, peak MB)`` of every experiment job with both a
    benchmark file and its dataset under ``results``."""
    from deeplinear.pipeline import dataset, jobs, registry

    samples = []
    for kind in registry.KINDS:
        for bench in sorted((results / "benchmarks" / kind).glob("*/*/*.tsv")):
            paper, experiment, case = bench.parts[-3], bench.parts[-2], bench.stem
            nc = jobs.job_dataset_path(results, kind, paper, experiment, case)
            if not nc.exists() or paper not in registry.PAPER_MODULES:
                continue
            params = json.loads(dataset.read_dataset(nc).attrs["config_json"])
            seconds, peak = read_benchmark(bench)
            samples.append((f"{paper}/{experiment}", params, seconds, peak))
    return samples


def calibrate(results_dirs: Iterable[str | Path]) -> dict[str, Any]:
    """Fit the model to the benchmark files of one or more finished runs (see the module doc)."""
    from deeplinear.pipeline import registry

    samples, post = [], {rule: [] for rule in POST_RULES}
    for results in map(Path, results_dirs):
        samples += _experiment_samples(results)
        for rule, pattern in POST_RULES.items():
            files = sorted((results / "benchmarks").glob(pattern))
            if rule == "paper_claims":
                files = [f for f in files if f.stem != "claims_table"]
            post[rule] += [read_benchmark(f) for f in files]
    if not samples:
        raise ValueError("no experiment benchmark files with datasets found; run the workflow first")
    overhead = min(s for _, _, s, _ in samples)
    base_mb = min(p for _, _, _, p in samples if math.isfinite(p))
    experiments: dict[str, dict[str, Any]] = {}
    by_key: dict[str, list] = {}
    for key, params, seconds, peak in samples:
        by_key.setdefault(key, []).append((params, seconds, peak))
    for key, rows in sorted(by_key.items()):
        paper, name = key.split("/")
        fit = _fit_experiment(registry.experiment(paper, name).cost, rows, overhead, base_mb)
        if fit is not None:
            experiments[key] = fit
    return {
        "machine": f"{platform.machine()}, {_cpu_count()} cores, Python {platform.python_version()}",
        "overhead_s": overhead,
        "base_mb": base_mb,
        "experiments": experiments,
        "rules": {
            rule: {
                "seconds": statistics.median(s for s, _ in rows),
                "peak_mb": max((p for _, p in rows if math.isfinite(p)), default=base_mb),
                "n_jobs": len(rows),
            }
            for rule, rows in post.items()
            if rows
        },
    }


def _fit_experiment(cost_fn, rows: list, overhead: float, base_mb: float) -> dict[str, Any] | None:
    """Rate and memory of one experiment from its calibration jobs ``(params, seconds, peak MB)``;
    ``None`` without a cost function or without a job it can price."""
    if cost_fn is None:
        return None
    usable = []
    for row in rows:
        try:
            usable.append((job_cost(cost_fn, row[0]), row))
        except KeyError:  # a dataset of an older version whose params lack a key: skip it
            continue
    if not usable:
        return None
    costs, rows = [c for c, _ in usable], [r for _, r in usable]
    # ratio of sums: the large jobs, which make the total, set the rate
    total_work = sum(c.work for c in costs)
    rate = sum(max(s - overhead, 0.0) for _, s, _ in rows) / total_work if total_work > 0 else 0.0
    peaks = [(peak, c.memory_bytes) for c, (_, _, peak) in zip(costs, rows, strict=True) if math.isfinite(peak)]
    peak_max, bytes_at_peak = max(peaks) if peaks else (base_mb, 1.0)
    return {
        "seconds_per_work": rate,
        "peak_mb": peak_max,
        "array_mb_at_peak": max(bytes_at_peak, 1.0) / 1e6,
        "work_range": [min(c.work for c in costs), max(c.work for c in costs)],
        "n_jobs": len(rows),
        "seconds_range": [min(s for _, s, _ in rows), max(s for _, s, _ in rows)],
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_calibration(calibration: Mapping[str, Any], path: str | Path = CALIBRATION_FILE) -> Path:
    path = Path(path)
    path.write_text(json.dumps(calibration, indent=1, sort_keys=True) + "\n")
    return path


def read_calibration(path: str | Path = CALIBRATION_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no cost calibration; make one with `python -m deeplinear calibrate results`")
    return json.loads(path.read_text())


def estimate_jobs(config: Mapping[str, Any], calibration: Mapping[str, Any]) -> list[JobEstimate]:
    """The expected seconds and peak memory of every job of ``config`` (all rules)."""
    from deeplinear.pipeline import jobs, registry

    overhead, base_mb = calibration["overhead_s"], calibration["base_mb"]
    estimates = []
    table = jobs.job_table(config)
    for (paper, experiment, case), job in table.items():
        fit = calibration["experiments"].get(f"{paper}/{experiment}")
        cost_fn = registry.experiment(paper, experiment).cost
        name = f"{paper}/{experiment}/{case}"
        if fit is None or cost_fn is None:
            estimates.append(_fallback_estimate(job.kind, name, cost_fn, job.params, overhead, base_mb))
            continue
        cost = job_cost(cost_fn, job.params)
        lo, hi = fit["work_range"]
        estimates.append(
            JobEstimate(
                job.kind,
                name,
                overhead + fit["seconds_per_work"] * cost.work,
                base_mb + (fit["peak_mb"] - base_mb) * cost.memory_bytes / 1e6 / fit["array_mb_at_peak"],
                extrapolated=not (lo / 10 <= cost.work <= hi * 10),
            )
        )
    papers = jobs.papers_in(config)
    counts = {
        "combine_experiment": len({(p, e) for (p, e, _) in table}),
        "paper_claims": len(papers),
        "figures": len(papers),
        "claims_table": 1,
        "report_page": 1,
    }
    for rule, n in counts.items():
        fit = calibration["rules"].get(rule, {"seconds": overhead, "peak_mb": base_mb})
        estimates += [JobEstimate(rule, f"{rule}#{i}", fit["seconds"], fit["peak_mb"]) for i in range(n)]
    return estimates


def _fallback_estimate(kind: str, name: str, cost_fn, params: Mapping[str, Any], overhead: float, base_mb: float):
    """An uncalibrated job's estimate (module doc): work at :data:`FALLBACK_WORK_PER_SECOND`."""
    if cost_fn is None:
        return JobEstimate(kind, name, overhead, base_mb, uncalibrated=True)
    cost = job_cost(cost_fn, params)
    return JobEstimate(
        kind,
        name,
        overhead + cost.work / FALLBACK_WORK_PER_SECOND,
        base_mb + cost.memory_bytes / 1e6,
        uncalibrated=True,
    )


#: The per-job estimate a run records before its first job starts (``reproduce`` writes it in its
#: workdir, beside ``results/``; ``publish`` sets it beside the measured times).
RUN_ESTIMATE_NAME = "estimate.json"


def run_estimate(config: Mapping[str, Any], calibration: Mapping[str, Any], commit: str) -> dict[str, Any]:
    """The record of what the cost model of ``commit`` expects of every experiment job of
    ``config``: ``{"commit", "calibrated_on", "jobs": {"paper/experiment/case": seconds}}``.
    Written before a run, it makes the later comparison with the measured times out of sample."""
    return {
        "commit": commit,
        "calibrated_on": calibration["machine"],
        "jobs": {e.name: round(e.seconds, 1) for e in estimate_jobs(config, calibration) if e.rule not in POST_RULES},
    }


def write_run_estimate(workdir: str | Path, config: Mapping[str, Any], calibration: Mapping[str, Any]) -> Path:
    """``<workdir>/estimate.json`` (:func:`run_estimate`) unless it exists: a resumed run keeps the
    estimate made when it first started."""
    from deeplinear.pipeline.dataset import git_state

    path = Path(workdir) / RUN_ESTIMATE_NAME
    if not path.exists():
        record = run_estimate(config, calibration, git_state(Path(__file__).parent)[0])
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def read_run_estimate(path: str | Path) -> dict[str, Any] | None:
    """A run's recorded estimate (:func:`write_run_estimate`), or None when there is none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def schedule_seconds(durations: Sequence[float], cores: int) -> float:
    """Makespan of ``durations`` on ``cores`` workers, longest job first."""
    finish = [0.0] * max(1, cores)
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(finish, finish[0] + d)
    return max(finish)


def wall_seconds(estimates: Sequence[JobEstimate], cores: int) -> float:
    """Estimated wall time: the stages one after another, each scheduled on ``cores``."""
    total = 0.0
    for stage in STAGES:
        if stage == ("experiments",):
            durations = [e.seconds for e in estimates if e.rule not in POST_RULES]
        else:
            durations = [e.seconds for e in estimates if e.rule in stage]
        total += schedule_seconds(durations, cores)
    return total


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_estimate(estimates: Sequence[JobEstimate], calibration: Mapping[str, Any], cores: int) -> str:
    """The per-rule table, the totals and the jobs outside the calibrated range."""
    rules = list(dict.fromkeys(e.rule for e in estimates))
    lines = [f"{'rule':<20} {'jobs':>5} {'CPU time':>10} {'longest job':>12} {'peak memory':>12}"]
    for rule in rules:
        sub = [e for e in estimates if e.rule == rule]
        lines.append(
            f"{rule:<20} {len(sub):>5} {_duration(sum(e.seconds for e in sub)):>10} "
            f"{_duration(max(e.seconds for e in sub)):>12} {max(e.peak_mb for e in sub) / 1e3:>9.1f} GB"
        )
    total = sum(e.seconds for e in estimates)
    lines.append(
        f"{'total':<20} {len(estimates):>5} {_duration(total):>10} "
        f"{_duration(max(e.seconds for e in estimates)):>12} {max(e.peak_mb for e in estimates) / 1e3:>9.1f} GB"
    )
    lines.append(f"estimated wall time on {cores} cores: {_duration(wall_seconds(estimates, cores))}")
    slowest = sorted((e for e in estimates if e.rule not in POST_RULES), key=lambda e: -e.seconds)[:5]
    lines.append("slowest jobs: " + ", ".join(f"{e.name} {_duration(e.seconds)}" for e in slowest))
    far = [e.name for e in estimates if e.extrapolated]
    if far:
        lines.append(
            f"{len(far)} jobs lie more than 10x outside the calibrated work range (less reliable): "
            + ", ".join(far[:8])
            + (" ..." if len(far) > 8 else "")
        )
    loose = sorted({e.name.rsplit("/", 1)[0] for e in estimates if e.uncalibrated})
    if loose:
        lines.append(
            f"no calibration yet for {', '.join(loose)}: priced at {FALLBACK_WORK_PER_SECOND:.0e} work units/s "
            "(a rough guess; run them once and `python -m deeplinear calibrate results`)"
        )
    lines.append(f"calibrated on: {calibration['machine']}")
    return "\n".join(lines)
