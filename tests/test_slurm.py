"""The SLURM profile against a real single-node SLURM cluster (tests/slurm/cluster.sh).

.ci/run installs and starts the cluster before the test suite; elsewhere these tests skip with
the reason. Every snakemake call runs under a hard timeout that kills its process group.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run_snakemake, smoke_config
from deeplinear.pipeline import dataset, jobs

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

#: A handful of jobs that cover the three experiment rules (depth_scaling, prior_sampling,
#: width_scaling): Du & Hu and Sirignano-Spiliopoulos on the smoke config.
SLURM_PAPERS = ["duhu2019", "sirignano2022"]


def _cluster_ready() -> str | None:
    """None if a SLURM cluster answers with an idle node, else the reason to skip."""
    if shutil.which("sbatch") is None:
        return "sbatch not found: run `bash tests/slurm/cluster.sh install && bash tests/slurm/cluster.sh start`"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if not re.search(r"^(idle|mix)", states, re.M):
        return f"no idle SLURM node (sinfo: {states.strip() or 'no answer'}); start tests/slurm/cluster.sh"
    return None


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    reason = _cluster_ready()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("slurm")
    result = run_snakemake(
        workdir,
        "--workflow-profile",
        str(ROOT / "profiles" / "slurm"),
        # test overrides: this cluster has no accounting (squeue, not sacct), 2 CPUs, and we
        # do not want to wait 20 s before the first status check
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--set-threads",
        "width_scaling=1",
        "depth_scaling=1",
        "prior_sampling=1",
        "--set-resources",
        "width_scaling:mem_mb=1000",
        "width_scaling:runtime=10",
        "depth_scaling:mem_mb=1000",
        "depth_scaling:runtime=10",
        "prior_sampling:mem_mb=1000",
        "prior_sampling:runtime=10",
        "--latency-wait",
        "5",
        "--config",
        f"papers=[{','.join(SLURM_PAPERS)}]",
        timeout=1800,  # about 4 min on a quiet 2-core machine: a wide margin for a busy one
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir, result.stdout + result.stderr


def test_experiment_jobs_went_through_sbatch(slurm_run):
    workdir, output = slurm_run
    job_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    n_jobs = sum(
        len(list((workdir / "results" / kind).glob("*/*/*.nc")))
        for kind in ("width_scaling", "depth_scaling", "prior_sampling")
    )
    expected = len(jobs.job_table({**smoke_config(), "papers": SLURM_PAPERS}))
    assert n_jobs == expected and len(job_ids) == n_jobs  # every experiment job, and only those
    logs = {p.stem for p in (workdir / "results/logs/slurm").rglob("*.log")}
    assert set(job_ids) <= logs  # one SLURM log per job, named by its job id
    states = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i %T"], capture_output=True, text=True, timeout=20
    ).stdout
    finished = dict(line.split() for line in states.splitlines())
    assert all(finished.get(j) == "COMPLETED" for j in job_ids), states


def test_slurm_datasets_equal_a_local_run(slurm_run, smoke_run):
    workdir, _ = slurm_run
    paths = sorted(
        p
        for p in (smoke_run / "results").rglob("*.nc")
        if p.parent.name in SLURM_PAPERS or p.parents[1].name in SLURM_PAPERS
    )
    assert len(paths) >= len(SLURM_PAPERS)
    for path in paths:
        a = dataset.read_dataset(path)
        b = dataset.read_dataset(workdir / path.relative_to(smoke_run))
        assert dataset.stable_view(a).identical(dataset.stable_view(b)), path
    for paper in SLURM_PAPERS:
        claims = f"results/claims/{paper}.json"
        assert (smoke_run / claims).read_text() == (workdir / claims).read_text()
