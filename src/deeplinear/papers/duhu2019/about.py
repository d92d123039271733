"""Du & Hu (2019): the paper's identity and the conventions every module of it shares."""

from __future__ import annotations

KEY = "duhu2019"
REFERENCE = (
    "Du, Hu, Width Provably Matters in Optimization for Deep Linear Neural Networks, ICML 2019; arXiv:1901.08572"
)
WIDE = 8  # m >= 8 L: the wide regime of claims D1 and D1b (our threshold; Theorem 4.1's constant C is not explicit)
