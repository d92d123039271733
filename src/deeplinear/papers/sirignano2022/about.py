"""Sirignano & Spiliopoulos (2022): the paper's identity and the conventions every module shares."""

from __future__ import annotations

KEY = "sirignano2022"
REFERENCE = (
    "Sirignano, Spiliopoulos, Scaling Limit of Neural Networks with the Xavier Initialization and "
    "Convergence to a Global Minimum, arXiv:1907.04108 (v3)"
)
