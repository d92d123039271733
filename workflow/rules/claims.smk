# Theorem checks: one JSON list of claim records per paper, gathered in results/claims.csv.
# A failing claim is a result (passed=false, with numbers), never a failed job.


rule paper_claims:
    input:
        unpack(paper_datasets),
    output:
        CLAIMS_JSON,
    log:
        "results/logs/claims/{paper}.log",
    benchmark:
        "results/benchmarks/claims/{paper}.tsv"
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        # a revised claim is rechecked on cached datasets (the source's hash, not its mtime)
        code=lambda wildcards: jobs.claims_code_fingerprint(wildcards.paper),
    script:
        "../scripts/check_claims.py"


rule claims_table:
    input:
        expand(CLAIMS_JSON, paper=PAPERS),
    output:
        report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Theorem checks",
        ),
    log:
        "results/logs/claims/claims_table.log",
    benchmark:
        "results/benchmarks/claims/claims_table.tsv"
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    script:
        "../scripts/gather_claims.py"
