# Shared definitions: the job table built from the validated config, path patterns, wildcard
# constraints and the input functions the rules use. All logic lives in the deeplinear package.
# JOBS, the job table, is built (and checked) by the Snakefile's preflight before this file.
from deeplinear.pipeline import cluster_resources, jobs, registry

PAPERS = jobs.papers_in(config)


wildcard_constraints:
    kind="|".join(registry.KINDS),
    paper="|".join(registry.PAPER_MODULES),
    experiment=r"[a-z][a-z0-9_]*",
    case=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",
    figure=r"[a-z][a-z0-9_]*",


# Path patterns, the single place where result locations are spelled out.
JOB_NC = "results/{kind}/{paper}/{experiment}/{case}.nc"
EXPERIMENT_NC = "results/{kind}/{paper}/{experiment}.nc"
CLAIMS_JSON = "results/claims/{paper}.json"
FIGURE_FILE = "figures/{paper}/{figure}.{ext}"
FIGURE_EXTS = ("pdf", "png")
REPORT_HTML = "results/report.html"

# Experiment jobs ask for a GPU only when the config says device: cuda (on SLURM: --gpus=1).
GPUS_PER_JOB = 1 if config["device"] == "cuda" else 0


def job_record(wildcards):
    """The job table's Job of one experiment job (what its script runs)."""
    key = (wildcards.paper, wildcards.experiment, wildcards.case)
    if key not in JOBS:
        raise ValueError(
            "no job paper={} experiment={} case={} at scale {}".format(
                *key, config["scale"]
            )
        )
    return JOBS[key]


# Each experiment job's expected time and memory (cost model), for its runtime and mem_mb.
ESTIMATES = cluster_resources.job_estimates(config)


def _estimate(wildcards):
    return ESTIMATES[
        "{}/{}/{}".format(wildcards.paper, wildcards.experiment, wildcards.case)
    ]


def job_runtime(wildcards, attempt):
    """Walltime in minutes: the estimate with a margin, doubling on each retry."""
    return cluster_resources.runtime_minutes(_estimate(wildcards), attempt)


def job_priority(wildcards):
    """Longest expected job first among the ready ones (cost model; cluster_resources.priority)."""
    return cluster_resources.priority(_estimate(wildcards))


def job_mem_mb(wildcards, attempt):
    """Memory in MB: the estimated peak with a margin, doubling on each retry."""
    return cluster_resources.memory_mb(_estimate(wildcards), attempt)


def job_params(wildcards):
    """The resolved params of one experiment job (every number it uses)."""
    return job_record(wildcards).params


def experiment_kind(paper, experiment):
    return registry.experiment(paper, experiment).kind


def experiment_job_files(wildcards):
    """The per-job datasets that one experiment combines."""
    cases = [
        case
        for (paper, experiment, case) in JOBS
        if (paper, experiment) == (wildcards.paper, wildcards.experiment)
    ]
    return expand(
        JOB_NC,
        kind=wildcards.kind,
        paper=wildcards.paper,
        experiment=wildcards.experiment,
        case=cases,
    )


def experiment_files(paper, experiments):
    """``{experiment: combined dataset path}`` for the given experiments of a paper."""
    return {
        name: EXPERIMENT_NC.format(
            kind=experiment_kind(paper, name), paper=paper, experiment=name
        )
        for name in experiments
    }


def paper_datasets(wildcards):
    """All combined datasets of a paper, named by experiment (for its claims)."""
    return experiment_files(
        wildcards.paper, registry.paper(wildcards.paper).experiments
    )


def paper_figure_datasets(paper):
    """The combined datasets that a paper's figures read, named by experiment."""
    figures = registry.paper(paper).figures.values()
    return experiment_files(
        paper, sorted({e for spec in figures for e in spec.experiments})
    )


def paper_figure_outputs(paper):
    """Every figure of a paper as named outputs ``<figure>_pdf`` and ``<figure>_png``; the PNGs
    are marked for Snakemake's report, labelled by paper and figure."""
    outputs = {}
    for figure in registry.paper(paper).figures:
        pdf, png = figure_files(paper, figure)  # FIGURE_EXTS order
        outputs[f"{figure}_pdf"] = pdf
        outputs[f"{figure}_png"] = report(
            png,
            caption="../report/figure.rst",
            category=paper,
            labels={"paper": paper, "figure": figure},
        )
    return outputs


def paper_figure_captions(paper):
    """``{figure: caption}`` of a paper (Snakemake's report shows them under each of its PNGs)."""
    return {name: spec.caption for name, spec in registry.paper(paper).figures.items()}


def figure_files(paper, figure):
    """The PDF and PNG of one figure (what a named figure target asks for)."""
    return expand(FIGURE_FILE, paper=paper, figure=figure, ext=FIGURE_EXTS)


def all_experiment_files():
    """Every combined dataset of the config's papers (so a lost one is rebuilt by `rule all`)."""
    return [
        path
        for paper in PAPERS
        for path in experiment_files(paper, registry.paper(paper).experiments).values()
    ]


def all_figure_pngs():
    """The PNG of every figure of the config's papers (what the report page embeds)."""
    return [path for path in all_figure_files() if path.endswith(".png")]


def all_figure_files():
    return [
        path
        for paper in PAPERS
        for figure in registry.paper(paper).figures
        for path in figure_files(paper, figure)
    ]
