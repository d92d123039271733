# Depth-scaling experiments (P2, the L ∝ N part of P4): one job per depth, one NetCDF file per
# job; the widths of a depth run inside the job, each as one batched tensor program.


use rule width_scaling as depth_scaling with:
    output:
        "results/depth_scaling/{paper}/{experiment}/{case}.nc",
    log:
        "results/logs/depth_scaling/{paper}/{experiment}/{case}.log",
    benchmark:
        "results/benchmarks/depth_scaling/{paper}/{experiment}/{case}.tsv"
