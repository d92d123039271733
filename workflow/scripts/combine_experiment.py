"""Snakemake adapter: combine one experiment's per-job datasets."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (for --sdm conda)
from deeplinear import jobs
from deeplinear.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    jobs.combine(list(sm.input), sm.output[0])
    log.info("combined %d datasets into %s", len(sm.input), sm.output[0])
