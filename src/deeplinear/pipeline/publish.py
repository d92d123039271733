"""A small, versioned record of a finished run, for committing to the repository.

``python -m deeplinear publish --set scale=paper --results results --figures figures -o
published/paper-scale chizat2022 min2021`` writes, per paper, ``<out>/<paper>/``:

* ``claims.csv``: the paper's rows of the run's claims table;
* ``<figure>.png``: every figure of the paper;
* ``config.yaml``: the config the run used for this paper (global keys and its scale block);
* ``costs.csv``: per experiment job its wall time and peak memory (Snakemake's benchmark files),
  the commit that computed its dataset and, when the run recorded one
  (:func:`deeplinear.pipeline.cost.write_run_estimate`, ``estimate.json`` beside the results
  folder), the seconds the cost model expected before the run started;
* ``RUN.md``: the git commit that produced the datasets, the command, the machine and the
  per-job costs.

and ``<out>/README.md``, an index of the published papers: a table of each record's measured and
estimated CPU time and commits, then their claims (pass/fail, measured, predicted). Files of
papers not named are left as they are, so papers can be published one run at a time.
"""

from __future__ import annotations

import csv
import json
import math
import platform
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deeplinear.pipeline import dataset, registry
from deeplinear.pipeline.cost import RUN_ESTIMATE_NAME, read_benchmark, read_run_estimate

COSTS_FIELDS = ("job", "seconds", "estimated_seconds", "peak_mb", "git_commit")


@dataclass(frozen=True)
class JobRecord:
    """One experiment job of a record: ``kind/experiment/case``, its wall seconds and peak MB, the
    seconds estimated before the run (NaN when the run recorded no estimate) and its commit."""

    job: str
    seconds: float
    peak_mb: float
    estimated_seconds: float = float("nan")
    git_commit: str = "unknown"


def _job_attrs(results: Path, paper: str) -> dict[str, Mapping[str, Any]]:
    """The attributes of every per-job dataset of ``paper``, by ``kind/experiment/case`` (each
    dataset read once: provenance and the per-job records both need them)."""
    return {
        f"{kind}/{nc.parent.name}/{nc.stem}": dataset.read_dataset(nc).attrs
        for kind in registry.KINDS
        for nc in sorted((results / kind / paper).glob("*/*.nc"))
    }


def _job_records(
    results: Path, paper: str, job_attrs: Mapping[str, Mapping[str, Any]], estimate: Mapping[str, Any] | None = None
) -> list[JobRecord]:
    """Every experiment job of ``paper`` with a benchmark file under ``results``."""
    expected = (estimate or {}).get("jobs", {})
    rows = []
    for kind in registry.KINDS:
        for bench in sorted((results / "benchmarks" / kind / paper).glob("*/*.tsv")):
            seconds, peak = read_benchmark(bench)
            experiment, case = bench.parent.name, bench.stem
            job = f"{kind}/{experiment}/{case}"
            commit = str(job_attrs.get(job, {}).get("git_commit", "unknown"))
            estimated = float(expected.get(f"{paper}/{experiment}/{case}", float("nan")))
            rows.append(JobRecord(job, seconds, peak, estimated, commit))
    return rows


def _write_costs(path: Path, records: Sequence[JobRecord]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COSTS_FIELDS)
        for r in records:
            writer.writerow([r.job, f"{r.seconds:.1f}", f"{r.estimated_seconds:.1f}", f"{r.peak_mb:.0f}", r.git_commit])


def _read_costs(path: Path) -> list[JobRecord]:
    with path.open(newline="") as fh:
        return [
            JobRecord(
                r["job"], float(r["seconds"]), float(r["peak_mb"]), float(r["estimated_seconds"]), r["git_commit"]
            )
            for r in csv.DictReader(fh)
        ]


def _provenance(results: Path, paper: str, job_attrs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Library versions from one of the paper's combined datasets, and the git commits recorded by
    its per-job datasets, ``job_attrs`` (``"<commit> (<n> jobs), ..."`` when a run resumed across
    commits)."""
    import collections

    combined = sorted(nc for kind in registry.KINDS for nc in (results / kind / paper).glob("*.nc"))
    if not combined:
        raise FileNotFoundError(f"no combined dataset of {paper} under {results}")
    attrs = dataset.read_dataset(combined[0]).attrs
    keys = ("torch_version", "numpy_version", "python_version", "device")
    out = {k: str(attrs.get(k, "unknown")) for k in keys}
    commits, dirty, versions = collections.Counter(), set(), collections.Counter()
    for job in job_attrs.values():
        commits[str(job.get("git_commit", "unknown"))] += 1
        dirty.add(str(job.get("git_dirty", "unknown")))
        versions[str(json.loads(job.get("config_json", "{}")).get("numerics_version", "unknown"))] += 1
    out["git_commit"] = ", ".join(f"{c} ({n} jobs)" for c, n in commits.most_common()) or "unknown"
    out["git_dirty"] = ", ".join(sorted(dirty)) or "unknown"
    out["numerics_versions"] = ", ".join(f"{v} ({n} jobs)" for v, n in versions.most_common()) or "unknown"
    out["mixed_versions"] = str(len(versions) > 1)
    return out


def _claims_rows(claims_csv: Path, paper: str) -> tuple[list[str], list[dict[str, str]]]:
    with claims_csv.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), [row for row in reader if row["paper"] == paper]


@dataclass(frozen=True)
class FinishedRun:
    """What a record is made from: the run's config, its results and figures folders, the command
    that ran it, a note for RUN.md, whether datasets of mixed numerics versions may be
    published, and the per-job estimate recorded before the run (if any)."""

    config: Mapping[str, Any]
    results: Path
    figures: Path
    command: str
    note: str = ""
    allow_mixed: bool = False
    estimate: Mapping[str, Any] | None = None


def publish_paper(paper: str, run: FinishedRun, out: Path) -> Path:
    """Write the record of one paper (see the module doc); returns its folder. Datasets made by
    different numerics versions (the paper's or the shared one) are refused unless
    ``run.allow_mixed``, and then RUN.md says which jobs came from which version."""
    config, results, figures = run.config, run.results, run.figures
    spec = registry.paper(paper)
    job_attrs = _job_attrs(results, paper)
    prov = _provenance(results, paper, job_attrs)
    if prov["mixed_versions"] == "True" and not run.allow_mixed:
        raise ValueError(
            f"{paper}: the datasets under {results} come from different numerics versions "
            f"({prov['numerics_versions']}); rerun the stale jobs (Snakemake reruns them, the version is a "
            "param) or pass --allow-mixed to publish them anyway, said in RUN.md"
        )
    folder = out / paper
    folder.mkdir(parents=True, exist_ok=True)
    fields, rows = _claims_rows(results / "claims.csv", paper)
    if not rows:
        raise ValueError(f"{results / 'claims.csv'} has no claims of {paper}")
    with (folder / "claims.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for name in spec.figures:
        shutil.copyfile(figures / paper / f"{name}.png", folder / f"{name}.png")
    used = {k: config[k] for k in ("scale", "base_seed", "device")}
    used[paper] = {config["scale"]: config[paper][config["scale"]]}
    (folder / "config.yaml").write_text(yaml.safe_dump(used, sort_keys=False))
    jobs = _job_records(results, paper, job_attrs, run.estimate)
    _write_costs(folder / "costs.csv", jobs)
    (folder / "RUN.md").write_text(_run_md(spec, config["scale"], prov, jobs, rows, run))
    return folder


def _estimate_line(jobs: Sequence[JobRecord], estimate: Mapping[str, Any] | None) -> str:
    """RUN.md's line comparing the measured CPU time with the estimate made before the run."""
    if estimate is None or not jobs or any(math.isnan(j.estimated_seconds) for j in jobs):
        return "- Estimated before the run: not recorded for every job"
    measured, expected = sum(j.seconds for j in jobs), sum(j.estimated_seconds for j in jobs)
    return (
        f"- Estimated before the run: {expected / 60:.1f} CPU-min, by the cost model of commit "
        f"{estimate.get('commit', 'unknown')} (calibrated on {estimate.get('calibrated_on', 'unknown')}); "
        f"measured / estimated = {measured / expected:.2f}"
    )


def _run_md(spec, scale: str, prov: Mapping[str, str], jobs: Sequence[JobRecord], rows: list, run: FinishedRun) -> str:
    """RUN.md of one paper's record: provenance, command, machine, claims count, per-job costs."""
    lines = [
        f"# {spec.title}: {scale}-scale run",
        "",
        f"- Reference: {spec.reference}",
        f"- Code: git commit {prov['git_commit']} (uncommitted changes: {prov['git_dirty']})",
        f"- Numerics versions: {prov['numerics_versions']}"
        + (" (MIXED: published with --allow-mixed)" if prov["mixed_versions"] == "True" else ""),
        f"- Command: `{run.command}`",
        f"- Machine: {platform.machine()}, device {prov['device']}; Python {prov['python_version']}, "
        f"torch {prov['torch_version']}, numpy {prov['numpy_version']}",
        f"- Claims: {sum(r['passed'] == 'true' for r in rows)} of {len(rows)} passed (`claims.csv`)",
        f"- Experiment jobs: {len(jobs)}, {sum(j.seconds for j in jobs) / 60:.1f} CPU-min in all "
        "(wall time of each job, one thread each, from Snakemake's benchmark files; `costs.csv`)",
        _estimate_line(jobs, run.estimate),
        "",
        "| job | wall time (s) | estimated before the run (s) | peak memory (MB) |",
        "|---|---|---|---|",
        *(f"| {j.job} | {j.seconds:.1f} | {j.estimated_seconds:.1f} | {j.peak_mb:.0f} |" for j in jobs),
        "",
        "Figures: " + ", ".join(f"[{n}]({n}.png)" for n in spec.figures),
        "",
    ]
    if run.note:
        lines += ["## Note", "", run.note, ""]
    return "\n".join(lines)


def write_index(out: Path) -> Path:
    """``<out>/README.md``: every published paper's claims, from the records present in ``out``."""
    lines = [
        "# Published runs",
        "",
        "Each folder is one paper's record of a finished run: `claims.csv`, the figures as PNG, the",
        "`config.yaml` it ran with and `RUN.md` (commit, command, per-job cost). Written by",
        "`python -m deeplinear publish`; see the repository README for what was run and why.",
        "",
        *_cost_table(out),
    ]
    for key in registry.PAPER_MODULES:
        folder = out / key
        if not (folder / "claims.csv").exists():
            continue
        _, rows = _claims_rows(folder / "claims.csv", key)
        scale = yaml.safe_load((folder / "config.yaml").read_text())["scale"]
        lines += [
            f"## [{registry.paper(key).title}]({key}/RUN.md) ({scale} scale)",
            "",
            "| claim | passed | measured | predicted | tolerance |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['id']} | {'yes' if r['passed'] == 'true' else '**no**'} | {_short(r['measured'])} | "
                f"{_short(r['predicted'])} | {r['tolerance'].replace('|', chr(92) + '|')} |"
            )
        lines.append("")
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path


def _cost_table(out: Path) -> list[str]:
    """The index's table of each record's measured and estimated CPU time (from its ``costs.csv``);
    empty when no record has one."""
    rows, measured_all, expected_all = [], 0.0, 0.0
    for key in registry.PAPER_MODULES:
        if not (out / key / "costs.csv").exists():
            continue
        records = _read_costs(out / key / "costs.csv")
        measured, expected = sum(r.seconds for r in records), sum(r.estimated_seconds for r in records)
        measured_all, expected_all = measured_all + measured, expected_all + expected
        commits = ", ".join(sorted({r.git_commit[:7] for r in records}))
        rows.append(
            f"| [{key}]({key}/RUN.md) | {len(records)} | {measured / 60:.1f} | {expected / 60:.1f} | "
            f"{measured / expected:.2f} | {commits} |"
        )
    if not rows:
        return []
    return [
        "## Cost",
        "",
        "CPU time of the experiment jobs (one thread each): measured, and as the cost model estimated it",
        "before the run (`python -m deeplinear estimate`; nan where the run recorded no estimate).",
        "",
        "| paper | jobs | measured (CPU-min) | estimated (CPU-min) | measured / estimated | commit |",
        "|---|---|---|---|---|---|",
        *rows,
        f"| all | | {measured_all / 60:.1f} | {expected_all / 60:.1f} | {measured_all / expected_all:.2f} | |",
        "",
    ]


def _short(value: str) -> str:
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value.replace("|", "\\|")


def publish(
    papers: Sequence[str],
    config: Mapping[str, Any],
    results: Path,
    figures: Path,
    out: Path,
    command: str,
    note: str = "",
    *,
    allow_mixed: bool = False,
    estimate: Path | None = None,
) -> list[Path]:
    """Publish each named paper's record (with ``note`` in its RUN.md) and rewrite the index. The
    run's estimate is read from ``estimate`` (default: ``estimate.json`` beside ``results``)."""
    estimate_file = Path(estimate) if estimate else Path(results).parent / RUN_ESTIMATE_NAME
    run = FinishedRun(
        config, Path(results), Path(figures), command, note, allow_mixed, read_run_estimate(estimate_file)
    )
    folders = [publish_paper(p, run, Path(out)) for p in papers]
    write_index(Path(out))
    return folders
