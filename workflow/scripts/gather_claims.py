"""Snakemake adapter: gather every paper's claims into results/claims.csv."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear import jobs
from deeplinear.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    records = jobs.gather_claims(list(sm.input), sm.output[0])
    log.info("%d claims, %d passed", len(records), sum(c.passed for c in records))
