"""Snakemake adapter: draw every figure of one paper. Outside Snakemake use `python -m deeplinear figure`."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    outputs = dict(sm.output.items())  # "<figure>_pdf", "<figure>_png" (common.smk)
    paths = {figure: [outputs[f"{figure}_pdf"], outputs[f"{figure}_png"]] for figure in sm.params.captions}
    jobs.make_figures(sm.params.paper, dict(sm.input.items()), paths)
    log.info("drew %d figures of %s", len(paths), sm.params.paper)
