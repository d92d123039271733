"""Snakemake adapter: run one experiment job. Outside Snakemake use `python -m deeplinear run`."""

import sys
from pathlib import Path

# the checkout's library first (scriptdir is workflow/rules/../scripts: resolve before climbing)
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))  # noqa: F821
from deeplinear import jobs, registry
from deeplinear.logs import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]) as log:
    w = sm.wildcards
    kind = registry.experiment(w.paper, w.experiment).kind
    job = jobs.Job(kind, w.paper, w.experiment, w.case, dict(sm.params.job))
    log.info("running %s/%s/%s with params %s", w.paper, w.experiment, w.case, jobs.params_json(job))
    jobs.run_job(job, sm.output[0], threads=sm.threads, progress=True, rule=sm.rule, wildcards=dict(w))
    log.info("wrote %s", sm.output[0])
