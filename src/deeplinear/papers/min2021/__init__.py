r"""Min, Tarmoun, Vidal, Mallada (2021): initialisation, convergence and implicit bias of
overparametrised two-layer linear networks (ICML 2021; arXiv:2105.06351 v2).

Model: :math:`f(x) = V U^\top x` with ``U`` (D x h), ``V`` (m x h), loss
:math:`L = \tfrac12\lVert Y - X U V^\top\rVert_F^2` on ``X`` (n x D, D > n), trained by GD with
small step ``eta`` as a proxy for gradient flow (time ``t = eta * step``). With the SVD
:math:`X = W \Sigma_x^{1/2} \Phi_1^\top`, ``U_1 = Phi_1^T U`` and ``U_2 = Phi_2^T U`` (frozen);
the imbalance :math:`\Lambda = U_1^\top U_1 - V^\top V` is invariant under the flow.

* Theorem 1: :math:`L(t) - L^* \le e^{-2\lambda_r(\Sigma_x) c t}(L(0) - L^*)`,
  :math:`c = [\lambda_r(\Lambda_0)]_+ + [\lambda_m(-\Lambda_0)]_+`.
* v2, Prop. 1: the instantaneous rate bound of :func:`v2_rate_bound`.
* Prop. 1 / Theorem 2: at zero loss :math:`UV^\top - \hat\Theta = \Phi_2 U_2(0) V(\infty)^\top`;
  for init entries :math:`N(0, h^{-2\alpha})` the distance is :math:`O(h^{-(2\alpha - 1/2)})`.

Experiments: ``imbalance`` (the paper's Figure 1: four initialisations, loss against the bound)
and ``implicit_bias`` (Figure 2: distance to the min-norm solution against width ``h``).

Modules: :mod:`.theory` (closed forms), :mod:`.experiments` (job runners), :mod:`.two_layer_gd`
(batched brute-force GD and its dataset), :mod:`.analysis` (statistics of datasets), :mod:`.claims`
(M1-M7), :mod:`.figures`; the config section's schema is ``config.schema.yaml`` beside them, its
smoke-test section ``smoke.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from deeplinear.paper_api import DeferredModule, Experiment, FigureSpec, Paper
from deeplinear.papers.min2021.about import KEY, REFERENCE
from deeplinear.papers.min2021.claims import CLAIMS
from deeplinear.papers.min2021.figures import (
    CAPTION_IMBALANCE,
    CAPTION_IMPLICIT_BIAS,
    plot_imbalance,
    plot_implicit_bias,
)

# runners, cases and costs are imported when first called (claim and figure jobs never import torch)
_experiments = DeferredModule("deeplinear.papers.min2021.experiments")

PAPER = Paper(
    key=KEY,
    title="Min, Tarmoun, Vidal, Mallada (2021)",
    reference=REFERENCE,
    experiments={
        "imbalance": Experiment(
            "imbalance",
            "width_scaling",
            _experiments.imbalance_cases,
            _experiments.run_imbalance,
            "four initialisations against the Theorem 1 bound",
            cost=_experiments.imbalance_cost,
        ),
        "implicit_bias": Experiment(
            "implicit_bias",
            "width_scaling",
            _experiments.implicit_bias_cases,
            _experiments.run_implicit_bias,
            "distance to the min-norm solution against width, exact two-layer reduction",
            cost=_experiments.implicit_bias_cost,
        ),
        "implicit_bias_brute": Experiment(
            "implicit_bias_brute",
            "width_scaling",
            _experiments.implicit_bias_brute_cases,
            _experiments.run_implicit_bias_brute,
            "distance to the min-norm solution against width, brute force (the cross-check)",
            config_section="implicit_bias",
            cost=_experiments.implicit_bias_brute_cost,
        ),
    },
    figures={
        "imbalance": FigureSpec("imbalance", ("imbalance",), plot_imbalance, CAPTION_IMBALANCE),
        "implicit_bias": FigureSpec(
            "implicit_bias", ("implicit_bias", "implicit_bias_brute"), plot_implicit_bias, CAPTION_IMPLICIT_BIAS
        ),
    },
    claims=CLAIMS,
    schema_file=Path(__file__).with_name("config.schema.yaml"),
    version="3",  # 2: the implicit-bias datasets record the part of the distance the dynamics decide; 3: imbalance runs by the exact width-(r+m) reduction (rounding-level changes)
)
