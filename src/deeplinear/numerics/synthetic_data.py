"""Synthetic data with a prescribed spectrum, generated from a seeded numpy Generator.

All functions return float64 numpy arrays; experiments move them to torch on their device.
"""

from __future__ import annotations

import numpy as np


def haar_orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A ``rows x cols`` matrix with orthonormal columns, Haar distributed (``cols <= rows``).

    QR of a Gaussian matrix with the signs of ``diag(R)`` fixed (Mezzadri 2007), so the law is
    exactly Haar and not biased by the QR convention.
    """
    if cols > rows:
        raise ValueError(f"need cols <= rows, got {rows}x{cols}")
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def geometric_spectrum(rank: int, condition_number: float, top: float = 1.0) -> np.ndarray:
    """``rank`` values from ``top`` down to ``top / condition_number``, geometrically spaced."""
    if rank < 1 or condition_number < 1:
        raise ValueError("rank must be >= 1 and condition_number >= 1")
    return top * condition_number ** (-np.linspace(0.0, 1.0, rank))


def matrix_with_singular_values(
    rows: int, cols: int, singular_values: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``A = W diag(s) Phi^T`` with Haar ``W`` (rows x r), ``Phi`` (cols x r), ``r = len(s)``.

    The rank of ``A`` is the number of non-zero entries of ``s``.
    """
    s = np.asarray(singular_values, dtype=np.float64)
    r = s.size
    if r > min(rows, cols):
        raise ValueError(f"{r} singular values do not fit a {rows}x{cols} matrix")
    w = haar_orthonormal(rows, r, rng)
    phi = haar_orthonormal(cols, r, rng)
    return (w * s) @ phi.T


def gaussian_matrix(rows: int, cols: int, std: float, rng: np.random.Generator) -> np.ndarray:
    """Entries iid ``N(0, std^2)``."""
    return std * rng.standard_normal((rows, cols))


def min_norm_solution(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Minimum-Frobenius-norm least-squares solution ``Theta = X^T (X X^T)^+ Y = X^+ Y``."""
    return np.linalg.pinv(X) @ Y


def row_space_basis(X: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases ``(Phi_1, Phi_2)`` of the row space of ``X`` and its complement.

    From ``X = W Sigma^{1/2} Phi_1^T``: ``Phi_1`` spans the rows, ``Phi_2`` the null space.
    """
    _, s, vt = np.linalg.svd(X, full_matrices=True)
    rank = int(np.sum(s > tol * s.max()))
    return vt[:rank].T, vt[rank:].T
