"""Snakemake adapter: combine one experiment's per-job datasets."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear import jobs
from deeplinear.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    jobs.combine(list(sm.input), sm.output[0])
    log.info("combined %d datasets into %s", len(sm.input), sm.output[0])
