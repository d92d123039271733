"""Snakemake adapter: write results/report.html (claims table, then figures with captions)."""

from pathlib import Path

from deeplinear.pipeline.logs import job_log
from deeplinear.pipeline.report import make_report

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    repo = Path(sm.scriptdir).resolve().parents[1]
    path = make_report(
        list(sm.input.claims), list(sm.input.figures), sm.output[0], scale=sm.params.scale, repo_dir=repo
    )
    log.info("wrote %s", path)
