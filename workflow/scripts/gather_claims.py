"""Snakemake adapter: gather every paper's claims into results/claims.csv."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    records = jobs.gather_claims(list(sm.input), sm.output[0])
    log.info("%d claims, %d passed", len(records), sum(c.passed for c in records))
