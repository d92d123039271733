r"""Bassetti, Ladelli, Rotondo (2024): the prior of deep linear networks when depth L and width N
diverge with L/N -> a (arXiv:2411.15267).

For equal widths N and depth L = aN the outputs are a *mixture of Gaussians*:
:math:`\mathrm{vec} f \mid R \sim N(0, \lambda_* R \otimes K)` with a random D x D matrix ``R``
(:mod:`deeplinear.numerics.prior_samplers`). For a = 0 (L fixed) this is the Gaussian NNGP limit; for a > 0 and
D = 1, :math:`R \to e^G`, :math:`G \sim N(-a, 2a)`. The closed forms below are exact at finite N
and derived here from the Bartlett representation (the paper's Prop. 2.1 has this form); the
limit statements for general D (log T_ii, log det R) are derived, not quoted.

Experiments: ``proportional`` (the exact sampler over a grid of N and a, including a = 0) and
``brute_force`` (real networks at small N, tested against the exact sampler).

Modules: :mod:`.theory` (closed forms and limit laws), :mod:`.experiments` (sample statistics and job
runners), :mod:`.analysis` (statistics of datasets), :mod:`.claims` (B1-B8), :mod:`.figures`; the
config section's schema is ``config.schema.yaml`` beside them.
"""

from __future__ import annotations

from pathlib import Path

from deeplinear.paper_api import DeferredModule, Experiment, FigureSpec, Paper
from deeplinear.papers.bassetti2024.about import KEY, REFERENCE
from deeplinear.papers.bassetti2024.claims import CLAIMS
from deeplinear.papers.bassetti2024.figures import CAPTIONS, plot_histograms, plot_joint, plot_kurtosis, plot_log_r

# runners, cases and costs are imported when first called (claim and figure jobs never import torch)
_experiments = DeferredModule("deeplinear.papers.bassetti2024.experiments")

PAPER = Paper(
    key=KEY,
    title="Bassetti, Ladelli, Rotondo (2024)",
    reference=REFERENCE,
    experiments={
        "proportional": Experiment(
            "proportional",
            "prior_sampling",
            _experiments.proportional_cases,
            _experiments.run_proportional,
            "exact Bartlett sampler over widths N and ratios a = L/N",
            cost=_experiments.proportional_cost,
        ),
        "brute_force": Experiment(
            "brute_force",
            "prior_sampling",
            _experiments.brute_force_cases,
            _experiments.run_brute_force,
            "real networks against the exact sampler",
            cost=_experiments.brute_force_cost,
        ),
    },
    figures={
        "histograms": FigureSpec("histograms", ("proportional",), plot_histograms, CAPTIONS["histograms"]),
        "kurtosis": FigureSpec("kurtosis", ("proportional",), plot_kurtosis, CAPTIONS["kurtosis"]),
        "joint": FigureSpec("joint", ("proportional",), plot_joint, CAPTIONS["joint"]),
        "log_r": FigureSpec("log_r", ("proportional",), plot_log_r, CAPTIONS["log_r"]),
    },
    claims=CLAIMS,
    version="2",  # 2: kurtosis standard error from the exact law
    schema_file=Path(__file__).with_name("config.schema.yaml"),
)
