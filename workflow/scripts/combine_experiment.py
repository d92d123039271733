"""Snakemake adapter: combine one experiment's per-job datasets."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    jobs.combine(list(sm.input), sm.output[0])
    log.info("combined %d datasets into %s", len(sm.input), sm.output[0])
