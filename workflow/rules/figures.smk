# Figures: one job per paper draws all of that paper's figures (most of a figure job's time is the
# interpreter and library start-up, so one start serves them all). Below, one named target per
# figure of the registry, e.g. `snakemake --cores 2 min2021_implicit_bias`: it runs its paper's
# figure job, which redraws that paper's figures from the cached datasets.


for _paper in PAPERS:

    rule:
        name:
            f"figures_{_paper}"
        input:
            **paper_figure_datasets(_paper),
        output:
            **paper_figure_outputs(_paper),
        log:
            f"results/logs/figures/{_paper}.log",
        benchmark:
            f"results/benchmarks/figures/{_paper}.tsv"
        localrule: True
        conda:
            "../../environment.yml"
        threads: 1
        params:
            paper=_paper,
            captions=paper_figure_captions(_paper),
        script:
            "../scripts/make_figures.py"


# Named targets `<paper>_<figure>`, generated from the registry (no hand-written list to drift).
for _paper, _figure in registry.figure_targets(PAPERS):

    rule:
        name:
            f"{_paper}_{_figure}"
        input:
            figure_files(_paper, _figure),
        localrule: True
