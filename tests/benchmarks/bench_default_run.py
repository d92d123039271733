"""Where a finished run's time went: job-seconds per rule and the share spent starting jobs.

    python tests/benchmarks/bench_default_run.py RESULTS [BEFORE_RESULTS]

Reads Snakemake's benchmark files under ``RESULTS/benchmarks`` (wall seconds of every job) and
prints, per rule, the number of jobs, their total job-seconds and the longest job; with a second
folder, the same columns of that (earlier) run beside them. Then it measures, in fresh
interpreters on this machine, the start-up of each job type (interpreter, Snakemake's script
preamble and the imports the job's script makes before any work; median of three) and prints the
start-up share of the run's job-seconds and the lower bound on its wall time on 2 cores (total
job-seconds / 2). Not a test: the figures go in notes.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from deeplinear.pipeline import registry

#: What each job type imports before its work (its script's imports, and the paper it loads).
STARTUP_CODE = {
    "experiment": "import snakemake.script, torch\nfrom deeplinear.pipeline import jobs, registry\nregistry.paper({paper!r})",
    "combine_experiment": "import snakemake.script\nfrom deeplinear.pipeline import jobs",
    "paper_claims": "import snakemake.script\nfrom deeplinear.pipeline import jobs, registry\nregistry.paper({paper!r})",
    "figures": (
        "import snakemake.script\nfrom deeplinear.pipeline import jobs, registry\nfrom deeplinear import plotting\n"
        "registry.paper({paper!r})"
    ),
    "claims_table": "import snakemake.script\nfrom deeplinear.pipeline import jobs",
    "report_page": "import snakemake.script\nfrom deeplinear.pipeline import report",
}


def job_seconds(results: Path) -> list[tuple[str, str, float]]:
    """``(rule, paper, seconds)`` of every job with a benchmark file under ``results/benchmarks``."""
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        parts = path.relative_to(results / "benchmarks").with_suffix("").parts
        with path.open() as fh:
            seconds = float(list(csv.DictReader(fh, delimiter="\t"))[-1]["s"])
        rule, paper = _rule_and_paper(parts)
        rows.append((rule, paper, seconds))
    return rows


def _rule_and_paper(parts: tuple[str, ...]) -> tuple[str, str]:
    """The rule and paper of a benchmark file from its path (the layout of workflow/rules)."""
    if parts[0] in registry.KINDS:
        return parts[0], parts[1]
    if parts[0] == "combine":
        return "combine_experiment", parts[2]
    if parts[0] == "claims":
        return ("claims_table", "") if parts[1] == "claims_table" else ("paper_claims", parts[1])
    if parts[0] == "figures":
        return ("figures" if len(parts) == 2 else "figure (one per figure)"), parts[1]
    return "report_page", ""


def startup_seconds(kind: str, paper: str) -> float:
    """Median of three fresh-interpreter runs of the job type's imports."""
    key = "experiment" if kind in registry.KINDS else "figures" if kind.startswith("figure") else kind
    code = STARTUP_CODE[key].format(paper=paper or "duhu2019")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_rule(rows: list[tuple[str, str, float]]) -> dict[str, tuple[int, float, float]]:
    table: dict[str, list[float]] = defaultdict(list)
    for rule, _, seconds in rows:
        table[rule].append(seconds)
    return {rule: (len(s), sum(s), max(s)) for rule, s in sorted(table.items(), key=lambda kv: -sum(kv[1]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("before", type=Path, nargs="?")
    args = parser.parse_args()
    rows = job_seconds(args.results)
    now = per_rule(rows)
    before = per_rule(job_seconds(args.before)) if args.before else {}
    print(f"{'rule':<24}{'jobs':>6}{'job-s':>9}{'longest':>9}" + ("   before: jobs  job-s  longest" if before else ""))
    for rule in [*now, *(r for r in before if r not in now)]:
        n, total, longest = now.get(rule, (0, 0.0, 0.0))
        line = f"{rule:<24}{n:>6}{total:>9.1f}{longest:>9.1f}"
        if before:
            b = before.get(rule, (0, 0.0, 0.0))
            line += f"   {b[0]:>12}{b[1]:>7.1f}{b[2]:>9.1f}"
        print(line)
    total = sum(s for _, _, s in rows)
    print(
        f"{'total':<24}{len(rows):>6}{total:>9.1f}"
        + (f"   {sum(b[0] for b in before.values()):>21}{sum(b[1] for b in before.values()):>7.1f}" if before else "")
    )
    cache: dict[tuple[str, str], float] = {}
    startup = 0.0
    for rule, paper, _ in rows:
        key = (rule if rule not in registry.KINDS else "experiment", paper)
        if key not in cache:
            cache[key] = startup_seconds(rule, paper)
        startup += cache[key]
    print(
        f"start-up (imports before any work, measured per job type): {startup:.1f} job-s = {startup / total:.0%} of the run"
    )
    print(f"lower bound on wall time on 2 cores (job-s / 2): {total / 2:.0f} s")


if __name__ == "__main__":
    main()
