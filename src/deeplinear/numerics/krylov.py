r"""Exact finite-width simulation at any width: Gaussian conditioning on Krylov spaces.

**Why it works.** Gradient descent on a linear network multiplies the Gaussian initial matrices
only by vectors of a growing Krylov space. For the three-layer network
:math:`\beta = V M U` (``U`` m x d, ``M`` m x m, ``V`` k x m, entries :math:`N(0, 1/m)`, GD
:math:`U \leftarrow U - \eta M^\top V^\top G`, :math:`M \leftarrow M - \eta V^\top G U^\top`,
:math:`V \leftarrow V - \eta G U^\top M^\top` with :math:`G = \beta\Sigma - C`), take orthonormal
bases ``Q`` of a space containing ``col(U0)`` and ``P`` of one containing ``col(V0^T)`` with
``A Q ⊂ P`` and ``A^T P ⊂ Q`` (``A = M(0)``). Then for every step

.. math:: U(t) = Q a(t),\qquad V(t) = b(t) P^\top,\qquad M(t) = A + P (B(t) - B(0)) Q^\top,

and the small triple :math:`(a, B, b)` with :math:`B(0) = P^\top A Q` follows *the same GD*
(direct substitution: :math:`M^\top V^\top \in \mathcal Q`). A finite-width network is exactly a
small network on Krylov coordinates.

**Block Golub-Kahan with two starting blocks** builds the bases: :math:`Q_0 = \mathrm{orth}(U_0)`,
:math:`P_0 = \mathrm{orth}([V_0^\top, A Q_0])` (``V0^T`` first), then alternately
:math:`Q_j = \mathrm{orth}((I - Q_{<j}Q_{<j}^\top) A^\top P_{j-1})` with
:math:`T_j = Q_j^\top A^\top P_{j-1}` and :math:`P_j = \mathrm{orth}((I - P_{<j}P_{<j}^\top) A Q_j)`
with :math:`D_j = P_j^\top A Q_j`. ``B(0)`` is block upper-bidiagonal: ``B[P_0, Q_0] = R_0[:, k:]``,
``B[P_{j-1}, Q_j] = T_j^T``, ``B[P_j, Q_j] = D_j``; ``a(0) = [S_0; 0]`` (``U0 = Q_0 S_0``) and
``b(0) = [R_0[:, :k]^T, 0]`` (``[V0^T, A Q0] = P_0 R_0``). ``a(t)`` only reaches block
``Q_{ceil(t/2)}`` and ``b(t)`` block ``P_{floor(t/2)}``, so depth ``J = ceil(T/2)`` is exact for
``T`` steps; in practice the coefficients of deep blocks are geometrically small and 3-7 levels
reach float64 accuracy (:func:`adaptive_reduced_run` chooses the depth).

**Sampling without the m x m matrix.** By rotation invariance the QR factor of an
:math:`\nu \times w` matrix of iid :math:`N(0, 1/m)` entries has independent entries (Bartlett):
:math:`R_{ii} = \sqrt{\chi^2_{\nu-i+1}/m}` and :math:`R_{ij} \sim N(0, 1/m)` above the diagonal
(:func:`bartlett`). Conditioning ``A`` on the products already applied (the AMP / tensor-programs
conditioning lemma) leaves a fresh Gaussian on the unexplored complement, so every block above is
an independent Bartlett factor: ``S_0 ~ Bart(m, d)``, ``R_0 ~ Bart(m, k + q_0)``,
``T_j ~ Bart(m - n_Q, p_{j-1})``, ``D_j ~ Bart(m - n_P, q_j)`` where ``n_Q``, ``n_P`` count the
directions explored so far in each space (:func:`sample_reduced`). The cost is
:math:`O(J (d+k)^2)` numbers per seed whatever ``m`` is, ``m`` may be any integer (``10^9``) and
``m = inf`` gives the infinite-width limit (every factor becomes an identity: the operator of
Chizat et al.'s Gaussian-word construction). Draws are *nested*: a depth-``J+1`` draw extends the
depth-``J`` draw of the same stream, so the depth can grow adaptively without bias.

Where a width is smaller than the Krylov dimension the blocks shrink to the remaining degrees of
freedom and the process stops once a space is full: the reduction is then an exact change of
basis. :func:`golub_kahan_reduction` builds the same triple from actual Gaussian matrices (used in
tests as the same-realisation cross-check, with twice-iterated classical Gram-Schmidt).

For two layers (Min et al.), :func:`sample_two_layer` gives the analogous exact reduction in
``r + m_out`` hidden coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from deeplinear.numerics import engine

INF = math.inf
#: Relative accuracy at which the adaptive depth stops: max_t ||beta_{J+1} - beta_J|| <= TOL max_t ||beta||.
DEPTH_TOL = 1e-13


def bartlett(nu: float, w: int, m: float, rng: np.random.Generator | None) -> np.ndarray:
    r"""Bartlett factor ``Bart(nu, w)`` at scale ``1/m``: the R of the QR of a ``nu x w`` matrix of
    iid :math:`N(0, 1/m)` entries, ``min(nu, w) x w`` upper trapezoidal with
    :math:`R_{ii} = \sqrt{\chi^2_{\nu-i+1}/m}` (``i`` from 1), :math:`R_{ij} \sim N(0, 1/m)` for
    ``j > i``. For ``m = inf`` it is ``[I 0]`` (no randomness is drawn)."""
    if math.isinf(m):
        return np.eye(w)
    r = int(max(0, min(nu, w)))
    R = np.zeros((r, w))
    if r == 0:
        return R
    dof = nu - np.arange(r)
    R[np.arange(r), np.arange(r)] = np.sqrt(rng.chisquare(dof) / m)
    upper = np.triu(np.ones((r, w), dtype=bool), k=1)
    R[upper] = rng.standard_normal(int(upper.sum())) / math.sqrt(m)
    return R


@dataclass(frozen=True)
class ReducedState:
    """Krylov coordinates of the three-layer network: ``a`` (S, n_Q, d), ``B`` (S, n_P, n_Q),
    ``b`` (S, k, n_P), batched over seeds, with the block sizes of ``Q`` and ``P``."""

    a: np.ndarray
    B: np.ndarray
    b: np.ndarray
    q_sizes: tuple[int, ...]
    p_sizes: tuple[int, ...]

    @property
    def depth(self) -> int:
        """The number of (T, D) levels after the first block pair."""
        return len(self.q_sizes) - 1


def _assemble(S0, R0, levels, d: int, k: int):
    q_sizes = [S0.shape[0]] + [T.shape[0] for T, _ in levels]
    p_sizes = [R0.shape[0]] + [D.shape[0] for _, D in levels if D is not None]
    qo, po = np.concatenate([[0], np.cumsum(q_sizes)]), np.concatenate([[0], np.cumsum(p_sizes)])
    a = np.zeros((qo[-1], d))
    B = np.zeros((po[-1], qo[-1]))
    b = np.zeros((k, po[-1]))
    a[: q_sizes[0]] = S0
    b[:, : p_sizes[0]] = R0[:, :k].T
    B[: p_sizes[0], : q_sizes[0]] = R0[:, k:]
    for j, (T, D) in enumerate(levels, start=1):
        B[po[j - 1] : po[j], qo[j] : qo[j + 1]] = T.T
        if D is not None:
            B[po[j] : po[j + 1], qo[j] : qo[j + 1]] = D
    return a, B, b, tuple(q_sizes), tuple(p_sizes)


def _sample_one(m: float, d: int, k: int, depth: int, rng: np.random.Generator | None):
    S0 = bartlett(m, d, m, rng)
    n_q = S0.shape[0]
    R0 = bartlett(m, k + n_q, m, rng)
    n_p = R0.shape[0]
    levels = []
    p_prev = n_p
    for _ in range(depth):
        if m - n_q <= 0:
            break
        T = bartlett(m - n_q, p_prev, m, rng)  # (q_j, p_{j-1})
        if T.shape[0] == 0:
            break
        n_q += T.shape[0]
        if m - n_p <= 0:
            levels.append((T, None))
            break
        D = bartlett(m - n_p, T.shape[0], m, rng)  # (p_j, q_j)
        n_p += D.shape[0]
        levels.append((T, D if D.shape[0] else None))
        if D.shape[0] == 0:
            break
        p_prev = D.shape[0]
    return _assemble(S0, R0, levels, d, k)


def sample_reduced(m: float, d: int, k: int, depth: int, rngs: list[np.random.Generator] | None) -> ReducedState:
    """Exact draws of the Krylov coordinates of the initial three-layer network of width ``m``
    (any integer, or ``inf``), one per generator in ``rngs`` (one stream per seed, so a seed's draw
    does not depend on how many seeds are batched; ``rngs`` is ignored for ``m = inf``)."""
    draws = [_sample_one(m, d, k, depth, g) for g in (rngs if not math.isinf(m) else [None])]
    layouts = {(q, p) for *_, q, p in draws}
    if len(layouts) != 1:  # the layout depends only on (m, d, k, depth)
        raise AssertionError(f"seeds drew different block layouts: {layouts}")
    a, B, b = (np.stack([draw[i] for draw in draws]) for i in range(3))
    return ReducedState(a, B, b, draws[0][3], draws[0][4])


def _orth(X: np.ndarray, bases: list[np.ndarray], room: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal block for ``X`` against ``bases`` (twice-iterated classical Gram-Schmidt), with a
    non-negative-diagonal QR; keeps at most ``room`` columns (the remaining degrees of freedom)."""
    Y = X.copy()
    for _ in range(2):
        for Bq in bases:
            Y -= Bq @ (Bq.T @ Y)
    Q, R = np.linalg.qr(Y)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    Q, R = Q * signs, R * signs[:, None]
    r = int(max(0, min(room, X.shape[1])))
    return Q[:, :r], R[:r]


def golub_kahan_reduction(U0: np.ndarray, A: np.ndarray, V0: np.ndarray, depth: int):
    """The same-realisation reduction of actual initial weights ``U0`` (m x d), ``A = M(0)``
    (m x m), ``V0`` (k x m): block Golub-Kahan bases ``Q`` (m x n_Q), ``P`` (m x n_P) and the
    triple ``a = Q^T U0``, ``B = P^T A Q``, ``b = V0 P`` (tests and cross-checks only)."""
    m = A.shape[0]
    Q0, _ = _orth(U0, [], m)
    P0, _ = _orth(np.hstack([V0.T, A @ Q0]), [], m)
    qs, ps = [Q0], [P0]
    for _ in range(depth):
        n_q = sum(q.shape[1] for q in qs)
        if m - n_q <= 0:
            break
        Qj, _ = _orth(A.T @ ps[-1], qs, m - n_q)
        if Qj.shape[1] == 0:
            break
        qs.append(Qj)
        n_p = sum(p.shape[1] for p in ps)
        if m - n_p <= 0:
            break
        Pj, _ = _orth(A @ Qj, ps, m - n_p)
        if Pj.shape[1] == 0:
            break
        ps.append(Pj)
    Q, P = np.hstack(qs), np.hstack(ps)
    return Q.T @ U0, P.T @ A @ Q, V0 @ P, Q, P


def reduced_weights(state: ReducedState, device: torch.device, dtype: torch.dtype) -> list[torch.Tensor]:
    """The triple as the engine's weight list ``[a, B, b]`` (first layer first): ``beta = b B a``."""
    return [torch.as_tensor(x, dtype=dtype, device=device).clone() for x in (state.a, state.B, state.b)]


def reduced_beta_path(
    state: ReducedState, data: engine.Regression, lr: float, steps: int, device: torch.device, dtype: torch.dtype
) -> np.ndarray:
    r""":math:`\beta(t) = b(t)B(t)a(t)` for ``t = 0..steps`` by the same GD as the width-m network,
    (S, steps + 1, k, d)."""
    result = engine.train(
        reduced_weights(state, device, dtype),
        data,
        lr,
        steps,
        clone=False,
        log_steps=np.arange(steps + 1),
        metrics_fn=lambda ws, beta: {"beta": beta},
        divergence_factor=np.inf,
    )
    return np.moveaxis(result.metrics["beta"], 0, 1)


def choose_depth(
    sample: Callable[[int], ReducedState],
    data: engine.Regression,
    lr: float,
    steps: int,
    device: torch.device,
    dtype: torch.dtype,
    *,
    start: int = 3,
    tol: float = DEPTH_TOL,
) -> ReducedState:
    """Nested adaptive depth: draw depth ``J`` and ``J + 1`` (the deeper draw extends the shallower
    one) until every seed's trajectory changes by at most ``tol`` relative to its size, or the depth
    reaches ``ceil(steps / 2)`` (exact for ``steps`` steps), or the spaces are full (exact)."""
    exact_depth = max(1, math.ceil(steps / 2))
    depth = min(start, exact_depth)
    state = sample(depth)
    path = reduced_beta_path(state, data, lr, steps, device, dtype)
    while depth < exact_depth:
        deeper = sample(depth + 1)
        if (deeper.q_sizes, deeper.p_sizes) == (state.q_sizes, state.p_sizes):
            return state  # the spaces are full: the reduction is an exact change of basis
        deeper_path = reduced_beta_path(deeper, data, lr, steps, device, dtype)
        change = np.abs(deeper_path - path).max(axis=(1, 2, 3))
        size = np.abs(deeper_path).max(axis=(1, 2, 3))
        state, path, depth = deeper, deeper_path, depth + 1
        if np.all(change <= tol * np.maximum(size, np.finfo(float).tiny)):
            break
    return state


# ---- two layers (Min et al.) ---------------------------------------------------------------------


def sample_two_layer(
    h: float, rank: int, outputs: int, complement: int, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Exact reduced initial state of the two-layer network :math:`f(x) = V U^\top x` of width
    ``h`` with iid :math:`N(0, \sigma^2)` entries (``scale`` = :math:`\sigma`), for data of rank ``r``.

    With the SVD :math:`X = W\Sigma^{1/2}\Phi_1^\top`, GD keeps the rows of :math:`U_1 = \Phi_1^\top U`
    and ``V`` in the span of the rows of :math:`[U_1(0); V(0)]` (dimension ``r + m_out``), and
    :math:`U_2 = \Phi_2^\top U` is frozen. Writing that span as an orthonormal ``h x (r + m_out)``
    basis ``W`` via :math:`[U_1(0); V(0)]^\top = W\mathbf S`: :math:`U_1 = \alpha W^\top`,
    :math:`V = \nu W^\top`, GD on :math:`(\alpha, \nu)` is the same GD at width ``r + m_out``, and
    :math:`UV^\top = \Phi_1\alpha\nu^\top + \Phi_2 G_2\nu^\top` with :math:`G_2 = U_2(0) W`.

    By rotation invariance :math:`\mathbf S = \sigma\,\mathrm{Bart}(h, r + m_out)` (unit scale) and
    ``G2`` has iid :math:`N(0, \sigma^2)` entries, independent of :math:`\mathbf S`. Returns
    ``alpha`` (r x (r+m_out)), ``nu`` (m_out x (r+m_out)) and ``G2`` (complement x (r+m_out));
    ``complement = D - r``.
    """
    w = rank + outputs
    S = scale * bartlett(h, w, 1.0, rng)  # (min(h, w), w)
    if S.shape[0] < w:  # h < r + m_out: the span is all of R^h; pad with zero rows
        S = np.vstack([S, np.zeros((w - S.shape[0], w))])
    G2 = scale * rng.standard_normal((complement, w))
    return S[:, :rank].T, S[:, rank:].T, G2
