# Figures: one generic rule draws any registered figure from its combined datasets; below it,
# one named target per figure of the registry, e.g. `snakemake --cores 2 min2021_implicit_bias`.


rule figure:
    input:
        unpack(figure_datasets),
    output:
        pdf="figures/{paper}/{figure}.pdf",
        png=report(
            "figures/{paper}/{figure}.png",
            caption="../report/figure.rst",
            category="{paper}",
            labels={"paper": "{paper}", "figure": "{figure}"},
        ),
    log:
        "results/logs/figures/{paper}/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{paper}/{figure}.tsv"
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        caption=figure_caption,
    script:
        "../scripts/make_figure.py"


# Named targets `<paper>_<figure>`, generated from the registry (no hand-written list to drift).
for _paper, _figure in registry.figure_targets(PAPERS):

    rule:
        name:
            f"{_paper}_{_figure}"
        input:
            figure_files(_paper, _figure),
        localrule: True
