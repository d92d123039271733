# Theorem checks: one JSON list of claim records per paper, gathered in results/claims.csv.
# A failing claim is a result (passed=false, with numbers), never a failed job.


rule paper_claims:
    input:
        unpack(paper_datasets),
    output:
        "results/claims/{paper}.json",
    log:
        "results/logs/claims/{paper}.log",
    threads: 1
    localrule: True
    script:
        "../scripts/check_claims.py"


rule claims_table:
    input:
        expand("results/claims/{paper}.json", paper=PAPERS),
    output:
        report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Theorem checks",
        ),
    log:
        "results/logs/claims/claims_table.log",
    threads: 1
    localrule: True
    script:
        "../scripts/gather_claims.py"
