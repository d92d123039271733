"""A small, versioned record of a finished run, for committing to the repository.

``python -m deeplinear publish --set scale=paper --results results --figures figures -o
published/paper-scale chizat2022 min2021`` writes, per paper, ``<out>/<paper>/``:

* ``claims.csv``: the paper's rows of the run's claims table;
* ``<figure>.png``: every figure of the paper;
* ``config.yaml``: the config the run used for this paper (global keys and its scale block);
* ``RUN.md``: the git commit that produced the datasets, the command, the machine and the
  per-job wall time and peak memory from Snakemake's benchmark files.

and ``<out>/README.md``, an index of the published papers with their claims (pass/fail, measured,
predicted). Files of papers not named are left as they are, so papers can be published one run
at a time.
"""

from __future__ import annotations

import csv
import json
import platform
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deeplinear.pipeline import dataset, registry
from deeplinear.pipeline.cost import read_benchmark


def _job_records(results: Path, paper: str) -> list[tuple[str, float, float]]:
    """``(kind/experiment/case, seconds, peak MB)`` of every experiment job of ``paper``."""
    rows = []
    for kind in registry.KINDS:
        for bench in sorted((results / "benchmarks" / kind / paper).glob("*/*.tsv")):
            seconds, peak = read_benchmark(bench)
            rows.append((f"{kind}/{bench.parent.name}/{bench.stem}", seconds, peak))
    return rows


def _provenance(results: Path, paper: str) -> dict[str, str]:
    """Library versions from one of the paper's combined datasets, and the git commits recorded by
    its per-job datasets (``"<commit> (<n> jobs), ..."`` when a run resumed across commits)."""
    import collections

    combined = sorted(nc for kind in registry.KINDS for nc in (results / kind / paper).glob("*.nc"))
    if not combined:
        raise FileNotFoundError(f"no combined dataset of {paper} under {results}")
    attrs = dataset.read_dataset(combined[0]).attrs
    keys = ("torch_version", "numpy_version", "python_version", "device")
    out = {k: str(attrs.get(k, "unknown")) for k in keys}
    commits, dirty, versions = collections.Counter(), set(), collections.Counter()
    for kind in registry.KINDS:
        for nc in (results / kind / paper).glob("*/*.nc"):
            job = dataset.read_dataset(nc).attrs
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
    that ran it, a note for RUN.md, and whether datasets of mixed numerics versions may be published."""

    config: Mapping[str, Any]
    results: Path
    figures: Path
    command: str
    note: str = ""
    allow_mixed: bool = False


def publish_paper(paper: str, run: FinishedRun, out: Path) -> Path:
    """Write the record of one paper (see the module doc); returns its folder. Datasets made by
    different numerics versions (the paper's or the shared one) are refused unless
    ``run.allow_mixed``, and then RUN.md says which jobs came from which version."""
    config, results, figures = run.config, run.results, run.figures
    spec = registry.paper(paper)
    prov = _provenance(results, paper)
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
    jobs = _job_records(results, paper)
    (folder / "RUN.md").write_text(_run_md(spec, config["scale"], prov, jobs, rows, run.command, run.note))
    return folder


def _run_md(spec, scale: str, prov: Mapping[str, str], jobs: list, rows: list, command: str, note: str) -> str:
    """RUN.md of one paper's record: provenance, command, machine, claims count, per-job costs."""
    lines = [
        f"# {spec.title}: {scale}-scale run",
        "",
        f"- Reference: {spec.reference}",
        f"- Code: git commit {prov['git_commit']} (uncommitted changes: {prov['git_dirty']})",
        f"- Numerics versions: {prov['numerics_versions']}"
        + (" (MIXED: published with --allow-mixed)" if prov["mixed_versions"] == "True" else ""),
        f"- Command: `{command}`",
        f"- Machine: {platform.machine()}, device {prov['device']}; Python {prov['python_version']}, "
        f"torch {prov['torch_version']}, numpy {prov['numpy_version']}",
        f"- Claims: {sum(r['passed'] == 'true' for r in rows)} of {len(rows)} passed (`claims.csv`)",
        f"- Experiment jobs: {len(jobs)}, {sum(s for _, s, _ in jobs) / 60:.1f} CPU-min in all "
        "(wall time of each job, one thread each, from Snakemake's benchmark files)",
        "",
        "| job | wall time (s) | peak memory (MB) |",
        "|---|---|---|",
        *(f"| {name} | {s:.1f} | {p:.0f} |" for name, s, p in jobs),
        "",
        "Figures: " + ", ".join(f"[{n}]({n}.png)" for n in spec.figures),
        "",
    ]
    if note:
        lines += ["## Note", "", note, ""]
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
) -> list[Path]:
    """Publish each named paper's record (with ``note`` in its RUN.md) and rewrite the index."""
    run = FinishedRun(config, Path(results), Path(figures), command, note, allow_mixed)
    folders = [publish_paper(p, run, Path(out)) for p in papers]
    write_index(Path(out))
    return folders
