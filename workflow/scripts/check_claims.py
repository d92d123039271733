"""Snakemake adapter: check one paper's claims against its combined datasets."""

from deeplinear.pipeline import jobs
from deeplinear.pipeline.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    records = jobs.check_paper_claims(sm.wildcards.paper, dict(sm.input.items()), sm.output[0])
    for c in records:
        log.info(
            "%s %s: measured %s, predicted %s (%s)",
            c.id,
            "PASSED" if c.passed else "FAILED",
            c.measured,
            c.predicted,
            c.tolerance,
        )
