# Combine each experiment's per-job datasets into one hypercube along the scan dimensions.


rule combine_experiment:
    input:
        experiment_job_files,
    output:
        "results/{kind}/{paper}/{experiment}.nc",
    log:
        "results/logs/combine/{kind}/{paper}/{experiment}.log",
    benchmark:
        "results/benchmarks/combine/{kind}/{paper}/{experiment}.tsv"
    threads: 1
    localrule: True
    script:
        "../scripts/combine_experiment.py"
