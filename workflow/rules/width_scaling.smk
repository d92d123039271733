# Width-scaling experiments (P1, P3, P5): one job per grid case, one NetCDF file per job.


rule width_scaling:
    output:
        "results/width_scaling/{paper}/{experiment}/{case}.nc",
    log:
        "results/logs/width_scaling/{paper}/{experiment}/{case}.log",
    benchmark:
        "results/benchmarks/width_scaling/{paper}/{experiment}/{case}.tsv"
    priority: job_priority
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        # from the cost model, growing on each retry (deeplinear.pipeline.cluster_resources)
        mem_mb=job_mem_mb,
        runtime=job_runtime,
        gpu=GPUS_PER_JOB,
    params:
        # every number the job uses, seen by Snakemake's params rerun trigger
        numbers=job_params,
        # the job table's Job itself (Snakemake does not hash objects)
        job=job_record,
    script:
        "../scripts/run_experiment.py"
