"""A sixth paper takes three edits: its package, one registry line, its config.yaml section.

The test copies the repository, makes exactly those edits with the toy paper of
``tests/fixtures/toy_paper`` (a prior-sampling experiment, one claim, one figure) and runs its jobs,
claim and figure through Snakemake in the copy. Nothing else is touched: the schema, job table,
claim and figure rules, named figure targets, smoke config, cost estimate and report all follow
from the registry.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_import_layers import violations

from conftest import ROOT, copy_checkout, run_snakemake, write_config

pytestmark = pytest.mark.workflow

FIXTURE = ROOT / "tests" / "fixtures" / "toy_paper"
KEY = "toy2025"


def add_toy_paper(repo: Path) -> list[Path]:
    """The three edits, in a copy of the repository; returns the paths they touched."""
    package = repo / "src" / "deeplinear" / "papers" / KEY
    shutil.copytree(FIXTURE / KEY, package)  # 1. the paper's package
    registry = repo / "src" / "deeplinear" / "pipeline" / "registry.py"
    text = registry.read_text()
    start = text.index("PAPER_MODULES: dict[str, str] = {")
    end = text.index("\n}", start)
    registry.write_text(text[:end] + f'\n    "{KEY}": "deeplinear.papers.{KEY}",' + text[end:])  # 2. one line
    config = repo / "config.yaml"
    text, n = re.subn(r"^papers: \[(.*)\]", rf"papers: [\1, {KEY}]", config.read_text(), count=1, flags=re.M)
    assert n == 1
    config.write_text(text + (FIXTURE / "config.yaml").read_text())  # 3. its section (and its key in `papers`)
    return [package, registry, config]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    copy = copy_checkout(tmp_path_factory.mktemp("sixth") / "repo")
    add_toy_paper(copy)
    return copy


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m deeplinear ...`` on the copy's library."""
    env = dict(os.environ, PYTHONPATH=str(repo / "src"))
    return subprocess.run(
        [sys.executable, "-m", "deeplinear", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_copy_has_the_toy_paper_in_its_job_table_and_estimate(repo):
    listed = run_cli(repo, "jobs")
    assert listed.returncode == 0, listed.stderr
    assert f"prior_sampling/{KEY}/prior_variance/m_32" in listed.stdout.splitlines()
    estimate = run_cli(repo, "estimate", "--set", f"papers=[{KEY}]")
    assert estimate.returncode == 0, estimate.stderr
    assert f"no calibration yet for {KEY}/prior_variance" in estimate.stdout  # the cost fallback


def test_the_toy_paper_obeys_the_import_layers(repo):
    assert violations(repo / "src" / "deeplinear") == []


def test_the_toy_paper_runs_end_to_end_through_snakemake(repo, tmp_path):
    smoke = {
        "scale": "quick",
        "papers": [KEY],
        KEY: {"quick": yaml.safe_load((FIXTURE / KEY / "smoke.yaml").read_text())},
    }
    configfile = write_config(smoke, tmp_path / "toy.yaml")
    work = tmp_path / "work"
    rules = run_snakemake(work, "--list-rules", configfile=configfile, snakefile=repo / "Snakefile")
    assert rules.returncode == 0, rules.stderr[-3000:]
    assert f"{KEY}_prior_variance" in rules.stdout.split()  # its named figure target, generated
    result = run_snakemake(work, "--cores", "2", configfile=configfile, snakefile=repo / "Snakefile")
    assert result.returncode == 0, result.stderr[-5000:]
    assert len(list((work / f"results/prior_sampling/{KEY}/prior_variance").glob("*.nc"))) == 2
    rows = list(csv.DictReader((work / "results/claims.csv").open()))
    assert [(r["id"], r["paper"]) for r in rows] == [("T1", KEY)]
    assert rows[0]["passed"] == "true", rows[0]  # exact law, 2,000 networks per width: Holm at 0.01
    contract = run_cli(repo, "can-fail", KEY, "--results", str(work / "results"), "--config", str(configfile))
    assert contract.returncode == 0, contract.stdout + contract.stderr
    assert "1 of 1 claims hold their can-fail contract" in contract.stdout
    assert (work / f"figures/{KEY}/prior_variance.png").stat().st_size > 10_000
    page = (work / "results/report.html").read_text()
    assert f'<figure id="figure-{KEY}-prior_variance">' in page
