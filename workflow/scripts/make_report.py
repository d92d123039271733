"""Snakemake adapter: write results/report.html (claims table, then figures with captions)."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear.logs import job_log
from deeplinear.report import make_report

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    repo = Path(sm.scriptdir).resolve().parents[1]
    path = make_report(
        list(sm.input.claims), list(sm.input.figures), sm.output[0], scale=sm.params.scale, repo_dir=repo
    )
    log.info("wrote %s", path)
