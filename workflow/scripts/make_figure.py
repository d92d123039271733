"""Snakemake adapter: draw one figure. Outside Snakemake use `python -m deeplinear figure`."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    jobs.make_figure(sm.wildcards.paper, sm.wildcards.figure, dict(sm.input.items()), list(sm.output))
