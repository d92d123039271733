"""Cluster jobs ask for the time and memory the cost model expects, with a margin, more on retry."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT, run_snakemake
from deeplinear.pipeline import cluster_resources, cost


def _paper_config(papers: list[str]) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return {**config, "scale": "paper", "papers": papers}


def test_requests_follow_the_estimate_with_a_margin_and_grow_on_retry():
    estimates = cluster_resources.job_estimates(_paper_config(["sirignano2022"]))
    longest = max(estimates.values(), key=lambda e: e.seconds)
    first = cluster_resources.runtime_minutes(longest)
    assert first >= cluster_resources.RUNTIME_MARGIN * longest.seconds / 60 > 60
    assert cluster_resources.runtime_minutes(longest, attempt=2) >= 2 * first - 1
    assert cluster_resources.memory_mb(longest) >= cluster_resources.MEM_MARGIN * longest.peak_mb
    assert cluster_resources.memory_mb(longest, attempt=3) >= 4 * cluster_resources.memory_mb(longest) - 3
    small = cost.JobEstimate("width_scaling", "x/y/z", seconds=1.0, peak_mb=10.0)
    assert cluster_resources.runtime_minutes(small) == cluster_resources.RUNTIME_FLOOR_MIN
    assert cluster_resources.memory_mb(small) == cluster_resources.MEM_FLOOR_MB
    assert cluster_resources.priority(longest) == round(longest.seconds) > cluster_resources.priority(small) == 1


@pytest.mark.workflow
def test_a_dry_run_lists_each_jobs_runtime_and_memory_from_the_estimate(tmp_path):
    config = _paper_config(["sirignano2022"])
    dry = run_snakemake(
        tmp_path, "-n", "--cores", "2", "--config", "scale=paper", "papers=[sirignano2022]", configfile=None
    )
    assert dry.returncode == 0, dry.stderr[-3000:]
    found = dict(re.findall(r"case=(\S+)\n(?:\s+priority: \d+\n)?\s+resources: .*?runtime=(\d+)", dry.stdout))
    estimates = cluster_resources.job_estimates(config)
    expected = {
        name.rsplit("/", 1)[1]: str(cluster_resources.runtime_minutes(e))
        for name, e in estimates.items()
        if name.startswith("sirignano2022/sgd/")
    }
    assert expected and all(found[case] == minutes for case, minutes in expected.items()), (found, expected)
    assert len(set(expected.values())) > 1  # not one fixed walltime for every job
    priorities = dict(re.findall(r"case=(\S+)\n\s+priority: (\d+)", dry.stdout))
    expected_priority = {
        name.rsplit("/", 1)[1]: str(cluster_resources.priority(e))
        for name, e in estimates.items()
        if name.startswith("sirignano2022/sgd/")
    }
    assert all(priorities[case] == p for case, p in expected_priority.items()), (priorities, expected_priority)
    longest = max(expected_priority, key=lambda case: int(expected_priority[case]))
    assert longest == "N_100000"  # the longest job starts first among the ready ones
