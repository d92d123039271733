r"""Du & Hu (2019): width provably matters in optimisation for deep linear networks (ICML 2019;
arXiv:1901.08572).

**Model, exactly as Theorem 4.1 states it.** Data ``X`` (d_in x n, samples as columns; here
stored with samples as rows, as the engine expects), ``Y = Φ X`` so ``OPT = 0``;
:math:`\ell = \tfrac12\lVert \alpha W_L\cdots W_1 X - Y\rVert_F^2`,
:math:`\alpha = 1/\sqrt{m^{L-1} d_{out}}`, every entry of every ``W_i`` iid ``N(0, 1)``, full-batch
GD with :math:`\eta = d_{out}/(3L\lVert X^\top X\rVert)` (times a multiplier grid for narrow nets).

**Theorem 4.1.** For ``m >= C L max{r κ^3 d_out (1+‖Φ‖²), r κ^3 log(r/δ), log L}``, w.p. ``1-δ``:
:math:`\ell(t) \le (1 - \eta L \lambda_r(X^\top X)/(4 d_{out}))^t\,\ell(0)`, so ``T_ε`` is
``O(κ log 1/ε)`` independent of depth. Narrow nets (width 1) need ``exp(Ω(L))`` steps
(Shamir 2018; Hu, Xiao, Pennington 2020).

**Observables.** The Gram operator
:math:`P = \alpha^2 \sum_i (W_{i-1:1}X)^\top(W_{i-1:1}X) \otimes W_{L:i+1}W_{L:i+1}^\top`
(wide limit :math:`(L/d_{out}) X^\top X \otimes I`); at init
:math:`\alpha^2\lVert W_{L:1}x\rVert^2/\lVert x\rVert^2 = \prod_{k<L}\chi^2_m/m\cdot\chi^2_{d_{out}}/d_{out}`.

Experiments: ``phase_diagram`` (depth scaling: one job per (depth ``L``, band of widths), seeds
batched; wide cells ``m >= 8L`` run on to ``late_epsilon`` for claim D1b; widths up to 32 by the
compiled narrow-net step of :mod:`.narrow`, widths from ``reduction_min_width`` on by the exact deep
reduction, the rest by the engine), ``narrow`` (widths 1
and 2 at every depth from 1 up, 32 seeds, a step-size grid, long runs; one batched program per
width, :mod:`.narrow`; claim D4) and ``init_statistics`` (prior sampling of real networks at
init, claim D5).

Modules: :mod:`.theory` (closed forms), :mod:`.experiments` (a package: one module per experiment,
on the shared data and cell runners), :mod:`.narrow` (narrow-net GD at a depth-independent cost per
step), :mod:`.analysis` (statistics of datasets), :mod:`.claims` (D1, D1b, D2-D7), :mod:`.figures`;
the config section's schema is ``config.schema.yaml`` beside them, its smoke-test section
``smoke.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from deeplinear.paper_api import DeferredModule, Experiment, FigureSpec, Paper
from deeplinear.papers.duhu2019.about import KEY, REFERENCE
from deeplinear.papers.duhu2019.claims import CLAIMS
from deeplinear.papers.duhu2019.figures import (
    CAPTIONS,
    plot_critical_width,
    plot_gram,
    plot_loss_curves,
    plot_narrow,
    plot_phase_diagram,
    plot_wide_rate,
)

# runners, cases and costs are imported when first called (claim and figure jobs never import torch)
_experiments = DeferredModule("deeplinear.papers.duhu2019.experiments")

PAPER = Paper(
    key=KEY,
    title="Du & Hu (2019)",
    reference=REFERENCE,
    version="4",  # 2: widths >= reduction_min_width by the exact deep reduction; 3: init sampler renormalised per layer; 4: narrow nets by vector chains (rounding-level changes)
    experiments={
        "phase_diagram": Experiment(
            "phase_diagram",
            "depth_scaling",
            _experiments.phase_diagram_cases,
            _experiments.run_phase_diagram,
            "T_eps over depth and width at the theorem's step",
            cost=_experiments.phase_diagram_cost,
        ),
        "init_statistics": Experiment(
            "init_statistics",
            "prior_sampling",
            _experiments.init_statistics_cases,
            _experiments.run_init_statistics,
            "output statistics of real networks at initialisation",
            cost=_experiments.init_statistics_cost,
        ),
        "narrow": Experiment(
            "narrow",
            "depth_scaling",
            _experiments.narrow_cases,
            _experiments.run_narrow,
            "narrow nets (widths 1, 2) at every depth, long runs over a step-size grid",
            cost=_experiments.narrow_cost,
        ),
        "cross_check": Experiment(
            "cross_check",
            "depth_scaling",
            _experiments.cross_check_cases,
            _experiments.run_cross_check,
            "brute force and the deep reduction at the same widths (compared in law)",
            config_section="phase_diagram",
            cost=_experiments.cross_check_cost,
        ),
    },
    figures={
        "phase_diagram": FigureSpec("phase_diagram", ("phase_diagram",), plot_phase_diagram, CAPTIONS["phase_diagram"]),
        "critical_width": FigureSpec(
            "critical_width", ("phase_diagram",), plot_critical_width, CAPTIONS["critical_width"]
        ),
        "narrow": FigureSpec("narrow", ("narrow",), plot_narrow, CAPTIONS["narrow"]),
        "wide_rate": FigureSpec("wide_rate", ("phase_diagram",), plot_wide_rate, CAPTIONS["wide_rate"]),
        "loss_curves": FigureSpec("loss_curves", ("phase_diagram",), plot_loss_curves, CAPTIONS["loss_curves"]),
        "gram": FigureSpec("gram", ("phase_diagram",), plot_gram, CAPTIONS["gram"]),
    },
    claims=CLAIMS,
    schema_file=Path(__file__).with_name("config.schema.yaml"),
)
