# The run's report: one static HTML page (no JavaScript) opening with the claims table, then
# every figure with its caption. `snakemake --report` still gives Snakemake's interactive page.


rule report_page:
    input:
        claims=expand(CLAIMS_JSON, paper=PAPERS),
        figures=all_figure_pngs(),
    output:
        REPORT_HTML,
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        scale=config["scale"],
    script:
        "../scripts/make_report.py"
