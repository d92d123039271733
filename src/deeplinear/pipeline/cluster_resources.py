"""Each experiment job's ``runtime`` and ``mem_mb``, from the cost model, for SLURM and friends.

A fixed walltime for every job is wrong both ways: it kills the few long jobs and makes the many
short ones wait in long queues. The experiment rules ask for what the cost model
(:mod:`deeplinear.pipeline.cost`) expects of each job, with a margin, and for more on each retry
(Snakemake's ``attempt``), so a job killed at its limit is resubmitted with a larger one::

    runtime_min(job, attempt) = max(RUNTIME_FLOOR_MIN, RUNTIME_MARGIN * seconds / 60) * 2 ** (attempt - 1)
    mem_mb(job, attempt)      = max(MEM_FLOOR_MB, MEM_MARGIN * peak_mb) * 2 ** (attempt - 1)

Local runs ignore both (Snakemake only schedules against ``--resources`` when given).

The expected seconds also set each experiment job's Snakemake ``priority`` (:func:`priority`):
among the jobs that are ready, the longest start first (longest-processing-time-first), so a
long job does not start last and run alone while the other cores idle. The post-processing
rules keep priority 0 and run as their inputs appear, once no experiment job is waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from deeplinear.pipeline import cost

#: The cost model is within about 1.5x of measured times in sample; three times leaves room for a
#: slower node or a busier filesystem.
RUNTIME_MARGIN = 3.0
RUNTIME_FLOOR_MIN = 10
MEM_MARGIN = 1.5
MEM_FLOOR_MB = 1000


def job_estimates(
    config: Mapping[str, Any], calibration: Mapping[str, Any] | None = None
) -> dict[str, cost.JobEstimate]:
    """``paper/experiment/case -> JobEstimate`` for every experiment job of ``config``."""
    calibration = calibration or cost.read_calibration()
    return {e.name: e for e in cost.estimate_jobs(config, calibration) if e.rule not in cost.POST_RULES}


def runtime_minutes(estimate: cost.JobEstimate, attempt: int = 1) -> int:
    """Walltime to request, in minutes (module doc)."""
    minutes = max(RUNTIME_FLOOR_MIN, RUNTIME_MARGIN * estimate.seconds / 60)
    return math.ceil(minutes * 2 ** (attempt - 1))


def priority(estimate: cost.JobEstimate) -> int:
    """Snakemake priority of an experiment job: its expected seconds, rounded (at least 1, above
    the post-processing rules' 0)."""
    return max(1, round(estimate.seconds))


def memory_mb(estimate: cost.JobEstimate, attempt: int = 1) -> int:
    """Memory to request, in MB (module doc)."""
    return math.ceil(max(MEM_FLOOR_MB, MEM_MARGIN * estimate.peak_mb) * 2 ** (attempt - 1))
