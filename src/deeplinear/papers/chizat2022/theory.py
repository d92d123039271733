"""Chizat et al. (2022): the regression problem, the exact infinite-width limit on Gaussian-word
bases, finite-width initial weights and the law-of-the-weights words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from deeplinear.numerics import engine, krylov, synthetic_data

#: Every tensor of this module is float64.
DTYPE = torch.float64

# ---- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The regression problem: ``X`` (n x d), ``Y`` (n x k), :math:`\\Sigma`, ``C`` and the
    minimum-norm risk minimiser :math:`\\beta^* = C\\Sigma^+` (k x d)."""

    X: np.ndarray
    Y: np.ndarray

    @property
    def sigma(self) -> np.ndarray:
        return self.X.T @ self.X / self.X.shape[0]

    @property
    def C(self) -> np.ndarray:
        return self.Y.T @ self.X / self.X.shape[0]

    @property
    def beta_star(self) -> np.ndarray:
        return self.C @ np.linalg.pinv(self.sigma)

    @property
    def row_projector(self) -> np.ndarray:
        """:math:`P_X`, the orthogonal projector onto the row space of ``X`` (d x d)."""
        phi1, _ = synthetic_data.row_space_basis(self.X)
        return phi1 @ phi1.T

    def regression(self, device: torch.device) -> engine.Regression:
        """The engine's view: loss :math:`\\lVert X\\beta^\\top - Y\\rVert^2 / (2n)`."""
        as_t = lambda a: torch.as_tensor(a, dtype=DTYPE, device=device).unsqueeze(0)  # noqa: E731
        return engine.Regression(as_t(self.X), as_t(self.Y), weight=1.0 / self.X.shape[0])


# ---- the exact infinite-width limit -------------------------------------------------------------


@dataclass(frozen=True)
class PathBasis:
    """Truncated Gaussian-word bases of ``H_0`` and ``H_1`` for ``d`` input and ``k`` output roots.

    A path is ``(root, r)``: roots ``0..d-1`` are ``in_j`` (start in ``H_0``), roots
    ``d..d+k-1`` are ``out_l`` (start in ``H_1``); ``r = 0..R``.
    """

    d: int
    k: int
    R: int

    def _paths(self, space: int) -> list[tuple[int, int]]:
        paths = []
        for root in range(self.d + self.k):
            start = 0 if root < self.d else 1  # the space that holds r = 0
            paths += [(root, r) for r in range(self.R + 1) if (start + r) % 2 == space]
        return paths

    @property
    def h0(self) -> list[tuple[int, int]]:
        return self._paths(0)

    @property
    def h1(self) -> list[tuple[int, int]]:
        return self._paths(1)


def limit_operator(basis: PathBasis) -> np.ndarray:
    r"""The truncated limit of ``M(0)``: :math:`\Lambda: H_0 \to H_1` (|H_1| x |H_0|),
    :math:`\Lambda e(\sigma, r) = e(\sigma, r+1) + [r \ge 1]\, e(\sigma, r-1)`, paths longer than
    ``R`` dropped. Its matrix transpose is the (truncated) adjoint, given by the same rule."""
    row = {path: i for i, path in enumerate(basis.h1)}
    lam = np.zeros((len(basis.h1), len(basis.h0)))
    for j, (root, r) in enumerate(basis.h0):
        for target in (r + 1, r - 1):
            if 0 <= target <= basis.R:
                lam[row[(root, target)], j] = 1.0
    return lam


def limit_initial_weights(d: int, k: int, R: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(U, M, V)`` of the limit at t = 0: ``U e_j = e(in_j, 0)``, ``M = Λ``,
    :math:`V^\top e_l = e(out_l, 0)`; shapes (|H_0| x d), (|H_1| x |H_0|), (k x |H_1|)."""
    basis = PathBasis(d, k, R)
    h0 = {path: i for i, path in enumerate(basis.h0)}
    h1 = {path: i for i, path in enumerate(basis.h1)}
    U = np.zeros((len(h0), d))
    V = np.zeros((k, len(h1)))
    for j in range(d):
        U[h0[(j, 0)], j] = 1.0
    for l in range(k):  # noqa: E741
        V[l, h1[(d + l, 0)]] = 1.0
    return U, limit_operator(basis), V


SHORT_TRUNCATIONS = 8  # the limit job also records the error of truncations R = 1..8


def truncated_limit_trajectory(problem: Problem, lr: float, steps: int, R: int, device="cpu") -> np.ndarray:
    r""":math:`\beta(t)`, ``t = 0..steps``, of the limit GD recursion on operators truncated at
    path length ``R``. Exact for ``R >= steps + 2``; a shorter ``R`` is an approximation (long
    paths carry geometrically small coefficients, so its error falls fast with ``R``)."""
    d, k = problem.X.shape[1], problem.Y.shape[1]
    weights = [torch.as_tensor(w, dtype=DTYPE, device=device).unsqueeze(0) for w in limit_initial_weights(d, k, R)]
    result = engine.train(
        weights,
        problem.regression(torch.device(device)),
        lr,
        steps,
        log_steps=np.arange(steps + 1),
        metrics_fn=lambda ws, beta: {"beta": beta},
        divergence_factor=np.inf,
    )
    return result.metrics["beta"][:, 0]


def limit_trajectory(problem: Problem, lr: float, steps: int, margin: int = 3, device="cpu") -> np.ndarray:
    r""":math:`\beta_\infty(t)` for ``t = 0..steps`` (shape (steps+1, k, d)): the ``m = inf`` case of
    the exact Krylov reduction (:mod:`deeplinear.numerics.krylov`), whose operator is the Gaussian-word
    operator :math:`\Lambda`, at depth ``ceil((steps + margin)/2)``.

    Exact for ``margin >= 2`` (each step lengthens occupied paths by at most one; the depth covers
    paths of length ``steps + margin``). Cost :math:`O(T\,((d+k)T)^2)`, independent of any width.
    :func:`truncated_limit_trajectory` builds the same limit independently from the path bases.
    """
    if margin < 2:
        raise ValueError("the truncation is exact only for R >= T + 2 (margin >= 2)")
    d, k = problem.X.shape[1], problem.Y.shape[1]
    state = krylov.sample_reduced(krylov.INF, d, k, math.ceil((steps + margin) / 2), None)
    device = torch.device(device)
    return krylov.reduced_beta_path(state, problem.regression(device), lr, steps, device, DTYPE)[0]


# ---- finite width ------------------------------------------------------------------------------


def finite_initial_weights(d: int, k: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``U`` (m x d), ``M_0 = Z/sqrt(m)`` (m x m), ``V`` (k x m), entries of variance ``1/m``."""
    s = 1 / np.sqrt(m)
    U = s * rng.standard_normal((m, d))
    V = s * rng.standard_normal((k, m))
    M0 = s * rng.standard_normal((m, m))
    return U, M0, V


def words(U: Tensor, M0: Tensor, V: Tensor, max_length: int) -> tuple[Tensor, Tensor]:
    r"""The Gaussian words of a finite network, batched over members.

    :math:`w(\sigma, 0)` is the root vector (a column of ``U`` for ``in_j``, a row of ``V`` for
    ``out_l``), :math:`w(\sigma, r+1) = M_0^{(\top)} w(\sigma, r) - w(\sigma, r-1)`, applying
    :math:`M_0` to words on the input side of ``M`` and :math:`M_0^\top` on the output side.
    Returns the words of each side as columns, ``(E, m, |H_0|)`` and ``(E, m, |H_1|)``, in the
    order of :class:`PathBasis` with ``R = max_length``.
    """
    d, k = U.shape[-1], V.shape[-2]
    basis = PathBasis(d, k, max_length)
    side = {0: {}, 1: {}}
    roots = [(j, 0, U[..., :, j]) for j in range(d)] + [(d + l, 1, V[..., l, :]) for l in range(k)]  # noqa: E741
    for root, start, w0 in roots:
        previous, current = 0.0, w0  # reduced coordinates: the two sides may differ in size
        for r in range(max_length + 1):
            space = (start + r) % 2
            side[space][(root, r)] = current
            apply = M0 if space == 0 else M0.transpose(-1, -2)  # input side -> output side and back
            nxt = (apply @ current.unsqueeze(-1)).squeeze(-1) - previous
            previous, current = current, nxt
    W0 = torch.stack([side[0][p] for p in basis.h0], dim=-1)
    W1 = torch.stack([side[1][p] for p in basis.h1], dim=-1)
    return W0, W1


def word_gram_deviation(U: Tensor, M0: Tensor, V: Tensor, max_length: int) -> tuple[Tensor, Tensor]:
    r"""Deviation of the words' Gram matrices from the identity, per member (E,):
    :math:`\max |W^\top W - I|` over the entries of both sides, and the root-mean-square entry
    of :math:`W^\top W - I` over both sides (a less noisy summary than the maximum)."""
    maxima, squares, count = [], 0.0, 0
    for W in words(U, M0, V, max_length):
        gram = W.transpose(-1, -2) @ W
        dev = gram - torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        maxima.append(dev.abs().amax(dim=(-2, -1)))
        squares = squares + dev.square().sum(dim=(-2, -1))
        count += dev.shape[-1] * dev.shape[-2]
    return torch.maximum(*maxima), (squares / count).sqrt()


def first_step_ratio(beta0: np.ndarray, beta1: np.ndarray, C: np.ndarray, lr: float) -> np.ndarray:
    r""":math:`\langle \beta(1) - \beta(0), C\rangle_F / (\eta \lVert C\rVert_F^2)`; 3 in the limit
    (the initial kernel is three times the identity). Batched over leading axes."""
    return np.einsum("...ij,ij->...", beta1 - beta0, C) / (lr * np.sum(C * C))
