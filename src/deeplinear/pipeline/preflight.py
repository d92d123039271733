"""What is checked before any job starts, so a bad or runaway config costs seconds, not a run.

Two moments, both called from the Snakefile (and the first from the command line too):

* :func:`check_config`, when the workflow is read: every config file parsed with limits
  (:func:`deeplinear.pipeline.configuration.read_config_file`), the merged config validated
  against the schema, and the job table built, which runs each paper's cross-field checks. It
  returns the job table. A refusal is one :class:`ConfigError` line naming the file or key.
* :func:`check_before_start`, once Snakemake knows which jobs it will run (its ``onstart`` hook,
  so dry runs and resumed runs are never refused for work already done): the cost model prices
  those jobs; a job whose peak memory exceeds ``memory_limit_gb`` (``auto``: this machine's
  memory; local runs only, a cluster gets per-job ``mem_mb`` instead), or a run whose wall time
  on the given cores exceeds ``long_run_hours`` without ``confirm_long: true``, is refused
  with the estimate and the way to opt in.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from deeplinear.paper_api import KINDS
from deeplinear.pipeline import configuration, cost, jobs
from deeplinear.pipeline.configuration import ConfigError


def check_config(config: Mapping[str, Any], files: Sequence[str | Path], source: str) -> dict:
    """Read every config file with limits, validate the merged ``config`` and build its job table
    (the papers' cross-field checks); returns the table. Raises :class:`ConfigError`."""
    for path in files:
        configuration.read_config_file(path)
    configuration.validate_config(config, source=source)
    try:
        return jobs.job_table(config)
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise ConfigError(f"invalid config ({source}, scale {config['scale']}): {message}") from None


def machine_memory_gb() -> float:
    """This machine's physical memory in GB (``nan`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return float("nan")


def memory_limit_gb(config: Mapping[str, Any]) -> float:
    """``memory_limit_gb`` of the config, ``auto`` meaning this machine's memory."""
    limit = config.get("memory_limit_gb", "auto")
    return machine_memory_gb() if limit == "auto" else float(limit)


def selected_estimates(
    estimates: Sequence[cost.JobEstimate], experiment_jobs: Iterable[str], post_rule_counts: Mapping[str, int]
) -> list[cost.JobEstimate]:
    """The estimates of the jobs about to run: experiment jobs by name (``paper/experiment/case``),
    post-processing rules by count."""
    wanted = set(experiment_jobs)
    chosen = [e for e in estimates if e.rule not in cost.POST_RULES and e.name in wanted]
    for rule, n in post_rule_counts.items():
        chosen += [e for e in estimates if e.rule == rule][:n]
    return chosen


def check_before_start(
    config: Mapping[str, Any],
    experiment_jobs: Iterable[str],
    post_rule_counts: Mapping[str, int],
    cores: int,
    *,
    local: bool = True,
    calibration: Mapping[str, Any] | None = None,
) -> list[cost.JobEstimate]:
    """Price the jobs about to run and refuse (``ConfigError``) what would exhaust the machine or
    run for longer than ``long_run_hours`` without ``confirm_long`` (module doc)."""
    calibration = calibration or cost.read_calibration()
    chosen = selected_estimates(cost.estimate_jobs(config, calibration), experiment_jobs, post_rule_counts)
    if not chosen:
        return chosen
    limit = memory_limit_gb(config)
    too_big = sorted((e for e in chosen if e.peak_mb / 1e3 > limit), key=lambda e: -e.peak_mb)
    if local and too_big:
        names = ", ".join(f"{e.name} ({e.peak_mb / 1e3:.1f} GB)" for e in too_big[:3])
        raise ConfigError(
            f"{len(too_big)} job(s) need more memory than memory_limit_gb = {limit:.1f} GB (estimated peaks: "
            f"{names}); shrink their grids, run them on a cluster, or raise memory_limit_gb"
        )
    hours = cost.wall_seconds(chosen, cores) / 3600
    if hours > config.get("long_run_hours", 1.0) and not config.get("confirm_long", False):
        raise ConfigError(
            f"this run is estimated at {hours:.1f} h of wall time on {cores} cores or parallel jobs ({len(chosen)} jobs, "
            f"{sum(e.seconds for e in chosen) / 3600:.1f} CPU-hours; cost model calibrated on "
            f"{calibration['machine']}), above long_run_hours = {config.get('long_run_hours', 1.0)}. "
            "To run it anyway add `--config confirm_long=True`; `python -m deeplinear estimate` shows the costliest jobs"
        )
    return chosen


def check_workflow_jobs(workflow, config: Mapping[str, Any]) -> None:
    """Snakemake's ``onstart`` hook: :func:`check_before_start` on the jobs the DAG will run
    (in the controlling process only; a job's own process on a cluster node checks nothing)."""
    if getattr(workflow.exec_mode, "name", "DEFAULT") != "DEFAULT":
        return
    needrun = list(workflow.dag.needrun_jobs())
    experiment_jobs = [
        "{paper}/{experiment}/{case}".format(**job.wildcards) for job in needrun if job.rule.name in KINDS
    ]
    counts = post_rule_counts(job.rule.name for job in needrun)
    check_before_start(config, experiment_jobs, counts, _parallel_jobs(workflow), local=workflow.local_exec)


def _parallel_jobs(workflow) -> int:
    """How many jobs run at once: the cores of a local run, the ``--jobs`` of a cluster run (which
    sets no cores), at least one."""
    from snakemake.exceptions import WorkflowError

    try:
        slots = workflow.cores if workflow.local_exec else workflow.nodes
    except WorkflowError:
        slots = None
    return max(1, int(slots)) if isinstance(slots, int | float) and slots < float("inf") else 1


def post_rule_counts(rule_names: Iterable[str]) -> dict[str, int]:
    """How many jobs of each post-processing rule are about to run."""
    counts = Counter(rule_names)
    return {rule: counts[rule] for rule in cost.POST_RULES if counts[rule]}
