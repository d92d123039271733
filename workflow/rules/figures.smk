# Figures: one generic rule draws any registered figure from its combined datasets; below it,
# one named target per figure, e.g. `snakemake --cores 2 min2021_implicit_bias`.


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
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        caption=figure_caption,
    script:
        "../scripts/make_figure.py"


# ---- P1. Chizat et al. (2022) ----


rule chizat2022_limit_distance:
    input:
        figure_files("chizat2022", "limit_distance"),
    localrule: True


rule chizat2022_risk:
    input:
        figure_files("chizat2022", "risk"),
    localrule: True


rule chizat2022_min_norm:
    input:
        figure_files("chizat2022", "min_norm"),
    localrule: True


rule chizat2022_words:
    input:
        figure_files("chizat2022", "words"),
    localrule: True


# ---- P2. Du & Hu (2019) ----


rule duhu2019_phase_diagram:
    input:
        figure_files("duhu2019", "phase_diagram"),
    localrule: True


rule duhu2019_critical_width:
    input:
        figure_files("duhu2019", "critical_width"),
    localrule: True


rule duhu2019_narrow:
    input:
        figure_files("duhu2019", "narrow"),
    localrule: True


rule duhu2019_loss_curves:
    input:
        figure_files("duhu2019", "loss_curves"),
    localrule: True


rule duhu2019_gram:
    input:
        figure_files("duhu2019", "gram"),
    localrule: True


# ---- P3. Min et al. (2021) ----


rule min2021_imbalance:
    input:
        figure_files("min2021", "imbalance"),
    localrule: True


rule min2021_implicit_bias:
    input:
        figure_files("min2021", "implicit_bias"),
    localrule: True


# ---- P4. Bassetti et al. (2024) ----


rule bassetti2024_histograms:
    input:
        figure_files("bassetti2024", "histograms"),
    localrule: True


rule bassetti2024_kurtosis:
    input:
        figure_files("bassetti2024", "kurtosis"),
    localrule: True


rule bassetti2024_joint:
    input:
        figure_files("bassetti2024", "joint"),
    localrule: True


rule bassetti2024_log_r:
    input:
        figure_files("bassetti2024", "log_r"),
    localrule: True


# ---- P5. Sirignano & Spiliopoulos (2022) ----


rule sirignano2022_ode_distance:
    input:
        figure_files("sirignano2022", "ode_distance"),
    localrule: True


rule sirignano2022_law:
    input:
        figure_files("sirignano2022", "law"),
    localrule: True


rule sirignano2022_movement:
    input:
        figure_files("sirignano2022", "movement"),
    localrule: True


rule sirignano2022_loss:
    input:
        figure_files("sirignano2022", "loss"),
    localrule: True
