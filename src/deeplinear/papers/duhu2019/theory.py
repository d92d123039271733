"""Du & Hu (2019): Theorem 4.1's step size, rate and wide-limit slope, the Gram operator P and the
exact chi-square law of the output at initialisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported by the functions that compute with it
    from torch import Tensor

# ---- theory ------------------------------------------------------------------------------------


def output_scale(width: int, depth: int, output_dim: int) -> float:
    r""":math:`\alpha = 1/\sqrt{m^{L-1} d_{out}}`."""
    return float(width) ** (-(depth - 1) / 2) / np.sqrt(output_dim)


def theorem_lr(depth: int, output_dim: int, gram_norm: float) -> float:
    r"""The theorem's step :math:`\eta = d_{out} / (3 L \lVert X^\top X\rVert)`."""
    return output_dim / (3 * depth * gram_norm)


def theorem_rate(lr: float, depth: int, lam_r: float, output_dim: int) -> float:
    r"""Per-step factor of Theorem 4.1's bound, :math:`1 - \eta L \lambda_r(X^\top X)/(4 d_{out})`."""
    return 1 - lr * depth * lam_r / (4 * output_dim)


def wide_limit_log_slope(lr: float, depth: int, lam_r: float, output_dim: int) -> float:
    r"""Late slope of :math:`\ln\ell(t)` in the wide limit, :math:`2\ln(1 - \eta L\lambda_r/d_{out})`
    (the slowest mode of :math:`P = (L/d_{out}) X^\top X \otimes I`)."""
    return 2 * np.log(1 - lr * depth * lam_r / output_dim)


def chi2_log_mean(dof: float) -> float:
    r""":math:`E\ln(\chi^2_\nu/\nu) = \psi(\nu/2) - \ln(\nu/2)`."""
    from scipy import special  # here: the experiment jobs that import this module need no scipy (0.25 s)

    return float(special.digamma(dof / 2) - np.log(dof / 2))


def init_output_moments(width: int, depth: int, output_dim: int) -> dict[str, float]:
    r"""Exact law of :math:`q = \alpha^2\lVert W_{L:1}x\rVert^2/\lVert x\rVert^2 = \prod_{k<L}\chi^2_m/m
    \cdot \chi^2_{d_{out}}/d_{out}` (independent factors, by rotation invariance): mean 1,
    :math:`\mathrm{Var}\,q = (1+2/m)^{L-1}(1+2/d_{out}) - 1`,
    :math:`E\ln q = (L-1)(\psi(m/2) - \ln(m/2)) + \psi(d_{out}/2) - \ln(d_{out}/2)`,
    :math:`\mathrm{Var}\ln q = (L-1)\psi'(m/2) + \psi'(d_{out}/2)`."""
    from scipy import special

    return {
        "mean": 1.0,
        "var": (1 + 2 / width) ** (depth - 1) * (1 + 2 / output_dim) - 1,
        "log_mean": (depth - 1) * chi2_log_mean(width) + chi2_log_mean(output_dim),
        "log_var": float((depth - 1) * special.polygamma(1, width / 2) + special.polygamma(1, output_dim / 2)),
    }


def gram_operator(weights: list[Tensor], X: Tensor, scale: float) -> Tensor:
    r"""The Gram operator :math:`P = \alpha^2\sum_i A_i \otimes B_i` (E, n d_out, n d_out) with
    :math:`A_i = (W_{i-1:1}X)^\top(W_{i-1:1}X)` (n x n) and :math:`B_i = W_{L:i+1}W_{L:i+1}^\top`.
    ``X`` holds samples as rows (E|1, n, d_in). ``-dvec(R)/dt = P vec(R)`` under gradient flow.

    Each term holds ``L - 1`` of the ``L`` matrices twice, so with ``c = (alpha sqrt(d_out))^(1/(L-1))``
    (:math:`m^{-1/2}` for Theorem 4.1's :math:`\alpha`) it is computed as
    :math:`d_{out}^{-1}\hat A_i\otimes\hat B_i` from the matrices ``c W_k``: products of order one at any
    depth (unscaled, ``B_i`` reaches :math:`m^{L-1}`, which overflows at L = 256, m = 32)."""
    import torch

    n_layers = len(weights)
    d_out = weights[-1].shape[-2]
    c = (scale * d_out**0.5) ** (1 / (n_layers - 1)) if n_layers > 1 else 1.0
    weights = [c * w for w in weights]
    features = [X]  # X W_{i-1:1}^T, samples as rows
    for w in weights[:-1]:
        features.append(features[-1] @ w.transpose(-1, -2))
    suffix = None
    total = None
    for i in range(n_layers - 1, -1, -1):
        F = features[i]
        A = F @ F.transpose(-1, -2)
        B = torch.eye(d_out, dtype=X.dtype, device=X.device) if suffix is None else suffix @ suffix.transpose(-1, -2)
        term = (A.unsqueeze(-1).unsqueeze(-3) * B.unsqueeze(-2).unsqueeze(-4)).flatten(-4, -3).flatten(-2, -1)
        total = term if total is None else total + term
        suffix = weights[i] if suffix is None else suffix @ weights[i]
    return (scale**2 if n_layers == 1 else 1 / d_out) * total


def normalised_gram_extremes(P: Tensor, rank: int, output_dim: int, depth: int, lam_r: float, lam_max: float):
    r""":math:`\hat\lambda_{min}(P)/(L\lambda_r/d_{out})` and :math:`\lambda_{max}(P)/(L\lambda_{max}/d_{out})`;
    :math:`\hat\lambda_{min}` is the ``r d_out``-th largest eigenvalue (``P`` vanishes off the
    column space of ``X``). Both tend to 1 in the wide limit."""
    import torch

    eig = torch.linalg.eigvalsh(P).flip(-1)
    return (
        eig[..., rank * output_dim - 1] / (depth * lam_r / output_dim),
        eig[..., 0] / (depth * lam_max / output_dim),
    )
