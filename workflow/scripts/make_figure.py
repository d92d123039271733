"""Snakemake adapter: draw one figure. Outside Snakemake use `python -m deeplinear figure`."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear import jobs
from deeplinear.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    jobs.make_figure(sm.wildcards.paper, sm.wildcards.figure, dict(sm.input.items()), list(sm.output))
