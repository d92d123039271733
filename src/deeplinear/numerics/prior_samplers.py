r"""Prior sampling of deep linear networks: real networks and the exact Wishart (Bartlett) sampler.

Network: inputs ``X`` (N_0 x P), weights :math:`W^{l+1}` (N_{l+1} x N_l) iid
:math:`N(0, \lambda_l / N_l)` for l = 0..L, outputs :math:`f = W^{L+1}\cdots W^1 X` (D x P).

Exact representation (derived; Bassetti, Ladelli, Rotondo 2024, Prop. 2.1 has this form):
:math:`f \overset{d}{=} \sqrt{\lambda_*}\, A Z B^\top` with :math:`\lambda_* = \prod_l \lambda_l`,
:math:`A = V^L \cdots V^1` (D x D), :math:`V^l` the Bartlett factor of a
:math:`\mathrm{Wishart}_D(N_l, I/N_l)` matrix (lower triangular,
:math:`V_{ii} = \sqrt{\chi^2_{N_l - i + 1}/N_l}`, :math:`V_{ij} \sim N(0, 1/N_l)` for i > j),
``Z`` (D x P) standard Gaussian and :math:`B B^\top = K = X^\top X / N_0`. Hence
:math:`\mathrm{vec} f \mid R \sim N(0, \lambda_* R \otimes K)` with :math:`R = A A^\top`.
Cost :math:`O(L D^3)` per sample, independent of the widths (brute force: :math:`O(L N^2 P)`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

DTYPE = torch.float64


def kernel(X: np.ndarray) -> np.ndarray:
    r"""The input kernel :math:`K = X^\top X / N_0` (P x P) of inputs ``X`` (N_0 x P)."""
    return X.T @ X / X.shape[0]


def kernel_factor(X: np.ndarray) -> np.ndarray:
    r"""``B`` with :math:`B B^\top = K = X^\top X / N_0` (symmetric square root; K may be singular)."""
    evals, evecs = np.linalg.eigh(kernel(X))
    return (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T


def bartlett_factors(n_samples: int, dim: int, dof: int, rng: np.random.Generator, gen: torch.Generator) -> Tensor:
    r"""``n_samples`` Bartlett factors ``V`` (S, D, D) of :math:`\mathrm{Wishart}_D(N, I/N)`, N = ``dof``.

    :math:`V V^\top \sim \mathrm{Wishart}_D(N, I/N)`; needs ``dof >= dim``.
    """
    if dof < dim:
        raise ValueError(f"Bartlett sampling needs width N >= D outputs, got N={dof}, D={dim}")
    chi2 = rng.chisquare(dof - np.arange(dim), size=(n_samples, dim))  # chi^2_{N - i + 1}, i = 1..D
    V = torch.diag_embed(torch.from_numpy(np.sqrt(chi2 / dof)))
    if dim > 1:
        rows, cols = torch.tril_indices(dim, dim, offset=-1)
        V[:, rows, cols] = torch.randn(n_samples, rows.numel(), generator=gen, dtype=DTYPE) / np.sqrt(dof)
    return V


def wishart_product(
    n_samples: int, widths: Sequence[int], dim: int, rng: np.random.Generator, gen: torch.Generator
) -> Tensor:
    """``A = V^L ... V^1`` (S, D, D), lower triangular, one Bartlett factor per hidden layer."""
    A = torch.eye(dim, dtype=DTYPE).expand(n_samples, dim, dim).clone()
    for width in widths:
        A = bartlett_factors(n_samples, dim, int(width), rng, gen) @ A
    return A


def wishart_outputs(
    X: np.ndarray,
    widths: Sequence[int],
    dim: int,
    lambda_star: float,
    n_samples: int,
    rng: np.random.Generator,
    gen: torch.Generator,
) -> tuple[Tensor, Tensor]:
    r"""Exact prior samples ``f`` (S, D, P) and ``R = A A^T`` (S, D, D) via the Bartlett representation."""
    A = wishart_product(n_samples, widths, dim, rng, gen)
    Z = torch.randn(n_samples, dim, X.shape[1], generator=gen, dtype=DTYPE)
    B = torch.from_numpy(kernel_factor(X))
    f = np.sqrt(lambda_star) * (A @ Z) @ B.T
    return f, A @ A.transpose(-1, -2)


def brute_force_outputs(
    X: np.ndarray,
    widths: Sequence[int],
    dim: int,
    variances: Sequence[float],
    n_samples: int,
    gen: torch.Generator,
    device: torch.device | str = "cpu",
    max_elements: int = 2**24,
) -> Tensor:
    r"""Prior samples ``f`` (S, D, P) of real networks: draw every weight matrix and multiply.

    ``widths`` are the hidden widths N_1..N_L, ``variances`` the :math:`\lambda_0..\lambda_L`.
    Samples are processed in chunks so a chunk's largest weight tensor has at most
    ``max_elements`` entries.
    """
    dims = [X.shape[0], *map(int, widths), dim]
    if len(variances) != len(dims) - 1:
        raise ValueError(f"need {len(dims) - 1} layer variances, got {len(variances)}")
    biggest = max(dims[i] * dims[i + 1] for i in range(len(dims) - 1))
    chunk = max(1, max_elements // biggest)
    Xt = torch.as_tensor(X, dtype=DTYPE, device=device)
    out = []
    for start in range(0, n_samples, chunk):
        size = min(chunk, n_samples - start)
        H = Xt.expand(size, *Xt.shape)
        for i, lam in enumerate(variances):
            W = torch.randn(size, dims[i + 1], dims[i], generator=gen, dtype=DTYPE, device=device)
            H = (W * np.sqrt(lam / dims[i])) @ H
        out.append(H)
    return torch.cat(out).cpu()
