"""Bassetti et al. (2024): the paper's identity and the conventions every module of it shares."""

from __future__ import annotations

KEY = "bassetti2024"
REFERENCE = (
    "Bassetti, Ladelli, Rotondo, Proportional infinite-width infinite-depth limit for deep linear "
    "neural networks, arXiv:2411.15267 (2024)"
)
DERIVED = "derived here from the Bartlett representation, not quoted from the paper"
