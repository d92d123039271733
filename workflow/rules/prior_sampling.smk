# Prior-sampling experiments (P4, and the initialisation statistics of P2 and P5): one job per
# grid case, one NetCDF file of summary statistics per job.


use rule width_scaling as prior_sampling with:
    output:
        "results/prior_sampling/{paper}/{experiment}/{case}.nc",
    log:
        "results/logs/prior_sampling/{paper}/{experiment}/{case}.log",
    benchmark:
        "results/benchmarks/prior_sampling/{paper}/{experiment}/{case}.tsv"
