r"""Chizat, Colombo, Fernández-Real, Figalli (2022/2024): the infinite-width limit of deep linear
networks (arXiv:2211.16980; CPAM 77 (2024), doi 10.1002/cpa.22200).

**Model** (our reconstruction, consistent with the paper's rigorous setting: three weight layers,
one square middle matrix, muP-type scaling; the paper itself treats general depth): data ``X`` (n x d), ``Y`` (n x k), :math:`\Sigma = X^\top X/n`, :math:`C = Y^\top X/n`,
risk :math:`R(\beta) = \lVert X\beta^\top - Y\rVert_F^2/(2n)` with gradient
:math:`G = \beta\Sigma - C`. Three weight layers, predictor :math:`\beta = V M U` with
``U`` (m x d), ``V`` (k x m) entries :math:`N(0, 1/m)` and :math:`M(0) = Z/\sqrt m`. GD on all
blocks at once with one width-independent step :math:`\eta`:

.. math:: U \leftarrow U - \eta M^\top V^\top G,\quad
          M \leftarrow M - \eta V^\top G U^\top,\quad
          V \leftarrow V - \eta G U^\top M^\top .

This is exactly :func:`deeplinear.numerics.engine.train` on ``[U, M, V]`` with loss weight ``1/n``.

**Exact limit.** Gaussian-word bases: input roots ``in_j`` start at layer 0, output roots
``out_l`` at layer 1, each with one alternating path of every length ``r``;
:math:`H_0 = \{(in_j, r\ \text{even})\} \cup \{(out_l, r\ \text{odd})\}`, ``H_1`` the rest. The
limit of ``M(0)`` is :math:`\Lambda e(\sigma, r) = e(\sigma, r+1) + [r \ge 1] e(\sigma, r-1)`,
``U e_j = e(in_j, 0)``, :math:`V^\top e_l = e(out_l, 0)`. The same GD recursion run on these
(truncated) operators is the infinite-width dynamics; each step lengthens occupied paths by at
most one, so truncating at path length ``R >= T + 2`` is exact for ``T`` steps. Cost per step
:math:`O(|H|^2 (d+k))` with :math:`|H| \approx (d+k)(R+1)/2`, never depending on ``m``.

**Law of the weights.** At finite ``m``, the words :math:`w(\sigma, 0)` = root vector,
:math:`w(\sigma, r+1) = M_0 w(\sigma, r) - w(\sigma, r-1)` (alternating :math:`M_0` and
:math:`M_0^\top`) have a Gram matrix that tends to the identity at rate :math:`m^{-1/2}`.

Experiments: ``finite_width`` (one job per width ``m``, all seeds batched) and ``limit`` (one
job, the exact infinite-width trajectory); both read the config block ``gd``.

Modules: :mod:`.theory` (the problem, the exact limit, words), :mod:`.experiments` (data and job
runners), :mod:`.analysis` (statistics of datasets), :mod:`.claims` (C1-C7), :mod:`.figures`; the
config section's schema is ``config.schema.yaml`` beside them.
"""

from __future__ import annotations

from pathlib import Path

from deeplinear.paper_api import DeferredModule, Experiment, FigureSpec, Paper
from deeplinear.papers.chizat2022.about import KEY, REFERENCE
from deeplinear.papers.chizat2022.claims import CLAIMS
from deeplinear.papers.chizat2022.figures import CAPTIONS, plot_limit_distance, plot_min_norm, plot_risk, plot_words

# runners, cases and costs are imported when first called (claim and figure jobs never import torch)
_experiments = DeferredModule("deeplinear.papers.chizat2022.experiments")

PAPER = Paper(
    key=KEY,
    title="Chizat, Colombo, Fernández-Real, Figalli (2022)",
    reference=REFERENCE,
    experiments={
        "finite_width": Experiment(
            "finite_width",
            "width_scaling",
            _experiments.finite_width_cases,
            _experiments.run_finite_width,
            "GD of the three-layer network at finite width by the exact Krylov sampler",
            config_section="gd",
            cost=_experiments.finite_width_cost,
        ),
        "brute_force": Experiment(
            "brute_force",
            "width_scaling",
            _experiments.brute_force_cases,
            _experiments.run_brute_force,
            "GD of the three-layer network with every m x m matrix in memory (the cross-check)",
            config_section="gd",
            cost=_experiments.brute_force_cost,
        ),
        "limit": Experiment(
            "limit",
            "width_scaling",
            _experiments.limit_cases,
            _experiments.run_limit,
            "the exact infinite-width GD trajectory",
            config_section="gd",
            cost=_experiments.limit_cost,
        ),
    },
    figures={
        "limit_distance": FigureSpec(
            "limit_distance", ("finite_width", "brute_force"), plot_limit_distance, CAPTIONS["limit_distance"]
        ),
        "risk": FigureSpec("risk", ("finite_width", "limit"), plot_risk, CAPTIONS["risk"]),
        "min_norm": FigureSpec("min_norm", ("finite_width", "limit"), plot_min_norm, CAPTIONS["min_norm"]),
        "words": FigureSpec("words", ("finite_width", "brute_force"), plot_words, CAPTIONS["words"]),
    },
    claims=CLAIMS,
    schema_file=Path(__file__).with_name("config.schema.yaml"),
)
