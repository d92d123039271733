"""Du & Hu (2019): the paper's identity and the conventions every module of it shares."""

from __future__ import annotations

import torch

KEY = "duhu2019"
REFERENCE = (
    "Du, Hu, Width Provably Matters in Optimization for Deep Linear Neural Networks, ICML 2019; arXiv:1901.08572"
)
DTYPE = torch.float64
