# Combine each experiment's per-job datasets into one hypercube along the scan dimensions.


rule combine_experiment:
    input:
        experiment_job_files,
    output:
        EXPERIMENT_NC,
    log:
        "results/logs/combine/{kind}/{paper}/{experiment}.log",
    benchmark:
        "results/benchmarks/combine/{kind}/{paper}/{experiment}.tsv"
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    script:
        "../scripts/combine_experiment.py"
