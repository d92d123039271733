# Reproduction pipeline for theory papers on deep linear networks.
# `snakemake --cores all` builds every dataset, claim check and figure of config.yaml;
# see README.md for single figures, paper scale and clusters.

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

# This checkout's library first, whatever deeplinear is installed: here, and (through PYTHONPATH,
# which local and SLURM jobs inherit) in every job's script. The one place the path is set.
LIBRARY = str(Path(workflow.basedir) / "src")
sys.path.insert(0, LIBRARY)
os.environ.update(
    PYTHONPATH=os.pathsep.join([LIBRARY, *filter(None, [os.environ.get("PYTHONPATH")])])
)
from deeplinear.pipeline import preflight
from deeplinear.pipeline.configuration import ConfigError, read_config_file

min_version("9.0")


# The repository's config.yaml is the default even when --directory points elsewhere;
# --configfile/--config values are merged over it. Parsed here first, with limits, so that a
# YAML error names the file, line and column.
DEFAULT_CONFIG = Path(workflow.basedir) / "config.yaml"
try:
    read_config_file(DEFAULT_CONFIG)
except ConfigError as error:
    raise ConfigError(
        str(error)
    ) from None  # one line: the message, not the library's stack


configfile: DEFAULT_CONFIG


# Every --configfile read again with limits, the schema (global keys plus each paper's
# config.schema.yaml) and the papers' cross-field checks: a bad config stops here, before any job.
try:
    JOBS = preflight.check_config(
        config,
        workflow.overwrite_configfiles,
        source="config.yaml and --configfile/--config overrides",
    )
except ConfigError as error:
    raise ConfigError(str(error)) from None


# Once the jobs to run are known (not in dry runs): their memory and total time, from the cost model.
onstart:
    try:
        preflight.check_workflow_jobs(workflow, config)
    except ConfigError as error:
        raise ConfigError(str(error)) from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/width_scaling.smk"
include: "workflow/rules/depth_scaling.smk"
include: "workflow/rules/prior_sampling.smk"
include: "workflow/rules/combine.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/claims.csv",
        REPORT_HTML,
        all_figure_files(),
        all_experiment_files(),
