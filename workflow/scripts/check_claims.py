"""Snakemake adapter: check one paper's claims against its combined datasets."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear import jobs
from deeplinear.logs import job_log

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
