"""Chizat et al. (2022): the paper's identity and the conventions every module of it shares."""

from __future__ import annotations

KEY = "chizat2022"
REFERENCE = (
    "Chizat, Colombo, Fernández-Real, Figalli, Infinite-width limit of deep linear neural networks, "
    "Comm. Pure Appl. Math. 77 (2024), doi:10.1002/cpa.22200; arXiv:2211.16980"
)
RECONSTRUCTION = (
    "the three-layer muP-type parameterisation and the Gaussian-word limit construction are a "
    "reconstruction consistent with the paper's rigorous setting (see the package docstring), not quoted"
)
