r"""Sirignano & Spiliopoulos (2022): Xavier-scaled one-hidden-layer networks trained by SGD
converge to a random ODE (arXiv:1907.04108 v3).

**Model.** :math:`g^N(x) = N^{-1/2}\sum_i C^i\sigma(W^i\cdot x)` with smooth bounded
:math:`\sigma` (tanh or the logistic sigmoid; ReLU is excluded by the theorem), ``C^i ~ U[-1, 1]``,
``W^i ~ N(0, I_d)``, all iid. SGD with batch one on a fixed training set of ``M`` points, learning
rate ``α/N`` on the :math:`N^{-1/2}`-scaled gradient (effective step :math:`\alpha N^{-3/2}`),
``k = 0..⌊TN⌋``, time ``t = k/N``.

**Theorem 1.2.** On the training set, :math:`h^N_t \to h_t` with
:math:`dh_t = A(\hat Y - h_t)dt`, :math:`h_0 = G \sim N(0, \Sigma_G)`,
:math:`\Sigma_G(x, x') = E[c^2\sigma(w\cdot x)\sigma(w\cdot x')]`,
:math:`A(x, x') = (\alpha/M)(E[\sigma(w\cdot x)\sigma(w\cdot x')] + E[c^2]E[\sigma'(w\cdot x)\sigma'(w\cdot x')]\,x\cdot x')`,
so :math:`h_t = \hat Y + e^{-At}(G - \hat Y)`: Gaussian with mean :math:`(I - e^{-At})\hat Y` and
covariance :math:`e^{-At}\Sigma_G e^{-At}`. **Theorem 1.3:** if ``A`` is positive definite,
:math:`h_t \to \hat Y` (zero training loss). Fluctuations are :math:`O(N^{-1/2})`.

``A`` and :math:`\Sigma_G` are computed by Gauss-Hermite quadrature over the bivariate normal
``(w·x, w·x')`` (exact to rounding for these smooth integrands), not by Monte Carlo.

Experiments: ``sgd`` (width scaling, one job per ``N``, every seed batched) and ``init_law``
(the law of :math:`g^N_0` on the training set for small ``N``, claim S1). The widest widths may
run fewer seeds (``seeds_by_width``; the combined dataset pads them with NaN): the slopes of S2
and S3 fit every width, while the z-tests of S4 and S5, whose normal approximations need many
seeds, run at the widths with the most seeds (:func:`.analysis.law_widths`).

Modules: :mod:`.theory` (activations, limit kernels, the random ODE), :mod:`.experiments` (data, SGD,
job runners), :mod:`.analysis` (statistics of datasets), :mod:`.claims` (S1-S5), :mod:`.figures`;
the config section's schema is ``config.schema.yaml`` beside them.
"""

from __future__ import annotations

from pathlib import Path

from deeplinear.paper_api import DeferredModule, Experiment, FigureSpec, Paper
from deeplinear.papers.sirignano2022.about import KEY, REFERENCE
from deeplinear.papers.sirignano2022.claims import CLAIMS
from deeplinear.papers.sirignano2022.figures import CAPTIONS, plot_law, plot_loss, plot_movement, plot_ode_distance

# runners, cases and costs are imported when first called (claim and figure jobs never import torch)
_experiments = DeferredModule("deeplinear.papers.sirignano2022.experiments")

PAPER = Paper(
    key=KEY,
    title="Sirignano & Spiliopoulos (2022)",
    reference=REFERENCE,
    experiments={
        "sgd": Experiment(
            "sgd",
            "width_scaling",
            _experiments.sgd_cases,
            _experiments.run_sgd,
            "batch-one SGD against the random ODE",
            cost=_experiments.sgd_cost,
        ),
        "init_law": Experiment(
            "init_law",
            "prior_sampling",
            _experiments.init_law_cases,
            _experiments.run_init_law,
            "the law of g^N_0",
            cost=_experiments.init_law_cost,
        ),
    },
    figures={
        "ode_distance": FigureSpec("ode_distance", ("sgd",), plot_ode_distance, CAPTIONS["ode_distance"]),
        "law": FigureSpec("law", ("sgd",), plot_law, CAPTIONS["law"]),
        "movement": FigureSpec("movement", ("sgd",), plot_movement, CAPTIONS["movement"]),
        "loss": FigureSpec("loss", ("sgd",), plot_loss, CAPTIONS["loss"]),
    },
    claims=CLAIMS,
    version="3",  # 2: standard error of the init excess kurtosis; 3: SGD by the compiled CPU kernel (same to rounding)
    schema_file=Path(__file__).with_name("config.schema.yaml"),
)
