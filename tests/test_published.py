"""The committed paper-scale records agree with each other: the index is what `publish` generates
from the per-paper files (never edited by hand), and each RUN.md's counts match its claims.csv
and costs.csv."""

from __future__ import annotations

import csv
import re
import shutil

import pytest

from conftest import ROOT
from deeplinear.pipeline import publish, registry

PUBLISHED = ROOT / "published" / "paper-scale"
RECORDS = [key for key in registry.PAPER_MODULES if (PUBLISHED / key / "claims.csv").exists()]


def test_the_index_is_generated_from_the_records(tmp_path):
    copy = shutil.copytree(PUBLISHED, tmp_path / "published")
    (copy / "README.md").unlink()
    assert publish.write_index(copy).read_text() == (PUBLISHED / "README.md").read_text()


@pytest.mark.parametrize("key", RECORDS)
def test_a_records_run_md_counts_its_claims_and_jobs(key):
    run = (PUBLISHED / key / "RUN.md").read_text()
    with (PUBLISHED / key / "claims.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    passed = sum(r["passed"] == "true" for r in rows)
    assert f"- Claims: {passed} of {len(rows)} passed" in run
    costs = PUBLISHED / key / "costs.csv"
    if costs.exists():
        records = publish._read_costs(costs)
        cpu_min = sum(r.seconds for r in records) / 60
        assert re.search(rf"- Experiment jobs: {len(records)}, {cpu_min:.1f} CPU-min in all", run)
        assert all(f"| {r.job} | {r.seconds:.1f} |" in run for r in records)
