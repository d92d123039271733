"""Min et al. (2021): the paper's identity and the conventions every module of it shares."""

from __future__ import annotations

KEY = "min2021"
REFERENCE = (
    "Min, Tarmoun, Vidal, Mallada, On the Explicit Role of Initialization on the Convergence and "
    "Implicit Bias of Overparametrized Linear Networks, ICML 2021; arXiv:2105.06351 (v2)"
)

#: the label of the balanced initialisation (U^T U = V^T V) in the imbalance experiment
INIT_BALANCED = "balanced"

#: the part of the distance to the min-norm solution that training adds to the initial error
DYNAMICS_ERROR_NAME = "||U_2(0) (V(end) - V(0))^T||_F, the part of the distance the dynamics decide"

#: the step times a bound on the initial sharpness: GD stands in for the flow only while it is small
LR_SHARPNESS_NAME = "eta x sigma_max(X Phi_1)^2 (||U_1(0)||_2^2 + ||V(0)||_2^2), the step against the initial sharpness"
