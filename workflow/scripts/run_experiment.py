"""Snakemake adapter: run one experiment job. Outside Snakemake use `python -m deeplinear run`."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    job = sm.params.job  # the Job of the job table (common.smk), not rebuilt here
    log.info("running %s/%s/%s with params %s", job.paper, job.experiment, job.case, jobs.params_json(job))
    jobs.run_job(job, sm.output[0], threads=sm.threads, progress=True, rule=sm.rule, wildcards=dict(sm.wildcards))
    log.info("wrote %s", sm.output[0])
