r"""Exact finite-width GD of a deep linear network at any width: one lazily sampled basis per
hidden space (the deep version of :mod:`deeplinear.numerics.krylov`).

**Model** (Du & Hu 2019). :math:`\beta = \alpha W_L \cdots W_1` with ``W_1`` (m x d_in),
``W_2..W_{L-1}`` (m x m), ``W_L`` (d_out x m), iid :math:`N(0, 1)` entries,
:math:`\alpha = (m^{L-1} d_{out})^{-1/2}`, loss :math:`\tfrac12\lVert X\beta^\top - Y\rVert_F^2` and
plain GD with step :math:`\eta`. With :math:`\hat W_1 = W_1`, :math:`\hat W_i = W_i/\sqrt m`
(:math:`i \ge 2`, so every entry of :math:`\hat W_i` is :math:`N(0, s_i^2)` with :math:`s_1 = 1`,
:math:`s_i = m^{-1/2}`) the map is :math:`\beta = d_{out}^{-1/2}\hat W_L\cdots\hat W_1` and layer
``i``'s step is :math:`\hat W_i \leftarrow \hat W_i - \eta s_i^2 d_{out}^{-1/2}
\hat W_{L:i+1}^\top G \hat W_{i-1:1}^\top`, :math:`G = (X\beta^\top - Y)^\top X`: the products stay
of order one at any depth. Only the first layer's action on the ``r``-dimensional row space of
``X`` matters, so the input space is taken in the eigenbasis of :math:`X^\top X`
(:class:`EigenProblem`), where the loss is :math:`\tfrac12\sum_j\lambda_j\lVert\tilde\beta_j -
\tilde\Phi_j\rVert^2`.

**Reduction.** Every space :math:`h_j` (``h_0`` the r input coordinates, ``h_L`` the outputs,
``h_1..h_{L-1}`` the hidden spaces of dimension m) has an orthonormal basis :math:`Q_j` that only
grows; vectors are stored by their coordinates in it, never as m-vectors. With
:math:`A_i = \hat W_i(0)`, :math:`\hat W_i(t) = A_i + Q_i C_i(t) Q_{i-1}^\top`. Layer ``i`` keeps the
directions of :math:`h_{i-1}` to which :math:`A_i` has been applied with their images
(``F``, ``AF``), the directions of :math:`h_i` to which :math:`A_i^\top` has been applied with
theirs (``B``, ``AtB``), and ``C``. A step computes the forward features
:math:`f_i = \hat W_i f_{i-1}` (:math:`f_0 = I_r`) and backward features
:math:`b_{i-1} = \hat W_i^\top b_i` (:math:`b_L = I`), applying :math:`A_i` (or :math:`A_i^\top`) only
to the part of :math:`f_{i-1}` (or :math:`b_i`) not yet in the applied set, and updates every ``C``
from the old features. Only those new parts and their images ever join the bases.

**Applying A to a new orthonormal block q** (:math:`q \perp F`). Conditioning a Gaussian matrix on
:math:`AF` and :math:`A^\top B` (the conditioning lemma of AMP / tensor programs) gives

.. math:: Aq = B (A^\top B)^\top q + (I - BB^\top) Z + \text{new directions}, \qquad
          Z_{jk} \sim N(0, s^2),

where ``Z`` has iid entries on the directions already in the target basis (created by either
neighbouring layer) and the part outside the basis is :math:`s` times a Bartlett factor with
:math:`m - k` degrees of freedom (``k`` the size of the target basis; :func:`krylov.bartlett`), whose
columns are the new directions: :class:`LazySampler`. :class:`DenseOracle` instead applies given
matrices (same-realisation mode, for tests): it holds the actual bases and Gram-Schmidts twice.

**Rank tolerance.** A new part whose singular values are below ``rank_tol`` times the norm of the
features is dropped; the error of :math:`\beta` is of the order of ``rank_tol`` (1e-12 by
default; the dimensions grow like :math:`\log(1/\mathrm{tol})`). Once GD has converged to the
tolerance no new direction appears, so the cost per run is flat in ``m`` (about ``L`` times a few
products of matrices of the basis size, which grows with depth and falls with ``m``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from deeplinear.numerics.krylov import bartlett

#: Default rank tolerance: the relative size below which a new direction is dropped.
RANK_TOL = 1e-12


@dataclass(frozen=True)
class EigenProblem:
    r"""The regression in the eigenbasis of :math:`X^\top X`: eigenvalues ``lam`` (r,), the basis
    ``basis`` (d_in x r) and the target map ``phi`` (d_out x r), :math:`\tilde\Phi = \Phi V`."""

    lam: np.ndarray
    basis: np.ndarray
    phi: np.ndarray

    @classmethod
    def from_data(cls, X: np.ndarray, Y: np.ndarray, rank: int) -> EigenProblem:
        """From ``X`` (n x d_in, samples as rows) and ``Y = X Φ^T`` (n x d_out)."""
        lam, V = np.linalg.eigh(X.T @ X)
        order = np.argsort(lam)[::-1][:rank]
        lam, V = lam[order], V[:, order]
        phi = ((V.T @ X.T @ Y) / lam[:, None]).T
        return cls(lam, V, phi)

    @property
    def rank(self) -> int:
        return self.lam.size

    @property
    def output_dim(self) -> int:
        return self.phi.shape[0]

    def loss_and_gradient(self, beta: np.ndarray) -> tuple[float, np.ndarray]:
        r""":math:`\tfrac12\sum_j\lambda_j\lVert\tilde\beta_j-\tilde\Phi_j\rVert^2` and
        :math:`G = (\tilde\beta - \tilde\Phi)\,\mathrm{diag}(\lambda)` for ``beta`` (d_out x r)."""
        diff = beta - self.phi
        return 0.5 * float(np.sum(self.lam * diff * diff)), diff * self.lam


@dataclass
class _Layer:
    """Coordinates of one layer: applied sets, their images and the learned part ``C``."""

    F: np.ndarray  # (k_in, f) forward-applied directions of h_{i-1}
    AF: np.ndarray  # (k_out, f) their images under A_i
    B: np.ndarray  # (k_out, b) backward-applied directions of h_i
    AtB: np.ndarray  # (k_in, b) their images under A_i^T
    C: np.ndarray  # (k_out, k_in)


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    return a if a.shape[0] == rows else np.vstack([a, np.zeros((rows - a.shape[0], a.shape[1]))])


def _pad_cols(a: np.ndarray, cols: int) -> np.ndarray:
    return a if a.shape[1] == cols else np.hstack([a, np.zeros((a.shape[0], cols - a.shape[1]))])


@dataclass
class ReducedNetwork:
    """The state of one reduced run: space sizes ``k`` (L + 1), their total dimensions ``dims``,
    the layers and the entry scales ``s``."""

    dims: list[float]
    k: list[int]
    layers: list[_Layer]
    s: list[float]

    @classmethod
    def empty(cls, depth: int, width: float, rank: int, output_dim: int) -> ReducedNetwork:
        dims = [rank] + [width] * (depth - 1) + [output_dim]
        k = [rank] + [0] * (depth - 1) + [output_dim]  # input and output spaces are known in full
        layers = [
            _Layer(
                np.zeros((k[i], 0)),
                np.zeros((k[i + 1], 0)),
                np.zeros((k[i + 1], 0)),
                np.zeros((k[i], 0)),
                np.zeros((k[i + 1], k[i])),
            )
            for i in range(depth)
        ]
        s = [1.0] + [1 / math.sqrt(width)] * (depth - 1)
        return cls(dims, k, layers, s)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def grow(self, j: int, n: int) -> None:
        """Space ``j`` gains ``n`` directions: pad every array indexed by it with zeros (a later
        direction has no component in anything computed before it)."""
        if n == 0:
            return
        self.k[j] += n
        if j >= 1:  # layer j maps into h_j
            lay = self.layers[j - 1]
            lay.AF, lay.B, lay.C = (_pad_rows(a, self.k[j]) for a in (lay.AF, lay.B, lay.C))
        if j < self.depth:  # layer j + 1 maps out of h_j
            lay = self.layers[j]
            lay.F, lay.AtB = _pad_rows(lay.F, self.k[j]), _pad_rows(lay.AtB, self.k[j])
            lay.C = _pad_cols(lay.C, self.k[j])


class LazySampler:
    """Applies the Gaussian initial matrices to new directions by conditioning (any ``m``)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def apply(self, net: ReducedNetwork, i: int, q: np.ndarray, transpose: bool) -> np.ndarray:
        """Image of the orthonormal block ``q`` (coordinates, orthogonal to the applied set) under
        :math:`A_i` (or :math:`A_i^\\top`), in the coordinates of the target space after it grew."""
        lay, s, w = net.layers[i], net.s[i], q.shape[1]
        if transpose:  # h_{i+1} -> h_i (layer index i maps h_i -> h_{i+1})
            known_dirs, known_imgs, target = lay.F, lay.AF, i
        else:
            known_dirs, known_imgs, target = lay.B, lay.AtB, i + 1
        known = known_dirs @ (known_imgs.T @ q)
        Z = s * self.rng.standard_normal((net.k[target], w))
        fresh = Z - known_dirs @ (known_dirs.T @ Z)
        room = net.dims[target] - net.k[target]
        new = s * bartlett(room, w, 1.0, self.rng) if room > 0 else np.zeros((0, w))
        net.grow(target, new.shape[0])
        return np.vstack([known + fresh, new])


class DenseOracle:
    """Applies given matrices (same-realisation mode): ``A[i]`` is layer ``i + 1``'s
    :math:`\\hat W(0)`, the first one restricted to the input eigenbasis (m x r). Keeps the actual
    bases ``Q`` (m x k) and orthogonalises twice."""

    def __init__(self, A: list[np.ndarray], rank_tol: float = 1e-10):
        self.A = A
        self.rank_tol = rank_tol
        self.Q = [np.eye(A[0].shape[1])] + [np.zeros((a.shape[0], 0)) for a in A[:-1]] + [np.eye(A[-1].shape[0])]

    def apply(self, net: ReducedNetwork, i: int, q: np.ndarray, transpose: bool) -> np.ndarray:
        source, target = (i + 1, i) if transpose else (i, i + 1)
        v = (self.A[i].T if transpose else self.A[i]) @ (self.Q[source] @ q)
        Qt = self.Q[target]
        c = Qt.T @ v
        res = v - Qt @ c
        c2 = Qt.T @ res
        res -= Qt @ c2
        c += c2
        U, S, _ = np.linalg.svd(res, full_matrices=False)
        keep = S > self.rank_tol * max(np.linalg.norm(v, 2), 1e-300)
        Un = U[:, keep]
        self.Q[target] = np.hstack([Qt, Un])
        net.grow(target, Un.shape[1])
        return np.vstack([c, Un.T @ res])


def _split(x: np.ndarray, basis: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x = basis @ a + q @ c`` up to ``tol * ||x||``: coefficients on the applied set, and a new
    orthonormal block ``q`` (orthogonal to ``basis``) with coefficients ``c``."""
    a = basis.T @ x
    res = x - basis @ a
    a2 = basis.T @ res
    res -= basis @ a2
    a += a2
    if res.size == 0 or np.linalg.norm(res) <= tol * np.linalg.norm(x) / np.sqrt(x.shape[1]):
        # Nothing new, decided without an SVD: every singular value of res is at most ||res||_F,
        # and ||x||_F <= sqrt(columns) ||x||_2, so the test below would keep no direction.
        return a, np.zeros((x.shape[0], 0)), np.zeros((0, x.shape[1]))
    U, S, _ = np.linalg.svd(res, full_matrices=False)
    keep = S > tol * max(np.linalg.norm(x, 2), 1e-300)
    q = U[:, keep]
    q -= basis @ (basis.T @ q)  # once more against the applied set, then re-orthonormalise
    q, _ = np.linalg.qr(q) if q.shape[1] else (q, None)
    return a, q, q.T @ res


def _apply(net: ReducedNetwork, backend, i: int, x: np.ndarray, transpose: bool, tol: float) -> np.ndarray:
    """:math:`A_i x` (or :math:`A_i^\\top x`), applying ``A`` only to the new part of ``x``."""
    lay = net.layers[i]
    dirs = lay.B if transpose else lay.F
    x = _pad_rows(x, dirs.shape[0])
    a, q, c = _split(x, dirs, tol)
    if q.shape[1]:
        img = backend.apply(net, i, q, transpose)
        lay = net.layers[i]
        if transpose:
            lay.B = np.hstack([_pad_rows(lay.B, q.shape[0]), q])
            lay.AtB = np.hstack([_pad_rows(lay.AtB, img.shape[0]), img])
        else:
            lay.F = np.hstack([_pad_rows(lay.F, q.shape[0]), q])
            lay.AF = np.hstack([_pad_rows(lay.AF, img.shape[0]), img])
        a = np.vstack([a, c])
    imgs = lay.AtB if transpose else lay.AF
    return imgs @ a


def _features(net: ReducedNetwork, backend, tol: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward features ``f_i`` (i = 0..L) and backward features ``b_i`` (i = 1..L), padded to
    the final space sizes of this step."""
    L = net.depth
    f = [np.eye(net.k[0])]
    for i in range(L):
        ai = _apply(net, backend, i, f[i], False, tol)
        f.append(ai + net.layers[i].C @ _pad_rows(f[i], net.layers[i].C.shape[1]))
    b = [None] * (L + 1)
    b[L] = np.eye(net.k[L])
    for i in range(L - 1, 0, -1):  # b_i = W_{i+1}^T b_{i+1}  (layer index i maps h_i -> h_{i+1})
        ai = _apply(net, backend, i, b[i + 1], True, tol)
        b[i] = ai + net.layers[i].C.T @ _pad_rows(b[i + 1], net.layers[i].C.shape[0])
    f = [_pad_rows(x, net.k[j]) for j, x in enumerate(f)]
    b = [None if x is None else _pad_rows(x, net.k[j]) for j, x in enumerate(b)]
    return f, b


@dataclass
class DeepRunResult:
    """One reduced GD run: losses at the logged steps, first hits, outcome and final sizes."""

    log_steps: np.ndarray
    loss: np.ndarray  # (n_log,) NaN after the run stopped
    hit_step: np.ndarray  # (n_hits,) first step with loss <= hit_losses[j], -1 if never
    status: str
    stop_step: int
    beta: np.ndarray  # (d_out x r) final end-to-end map in eigen coordinates
    sizes: list[int] = field(default_factory=list)  # basis size of every space at the end
    change: list[float] = field(default_factory=list)  # ||W^_i(end) - W^_i(0)||_F = ||C_i||_F per layer


def run_reduced(
    problem: EigenProblem,
    depth: int,
    width: float,
    lr: float,
    max_steps: int,
    backend,
    *,
    log_steps: np.ndarray | None = None,
    target: float = 0.0,
    hits: tuple[float, ...] = (),
    rank_tol: float = RANK_TOL,
    divergence_factor: float = 1e8,
    beta_path: list | None = None,
) -> DeepRunResult:
    """GD of one network (depth ``L``, hidden width ``m``, any ``m >= 1``) in reduced
    coordinates: stops at ``target * loss(0)`` (converged), ``max_steps`` (capped) or a loss that
    is not finite or above ``divergence_factor * loss(0)`` (diverged); ``hit_step[j]`` is the first
    step with loss ``<= hits[j] * loss(0)``. ``backend`` is a :class:`LazySampler` or a
    :class:`DenseOracle`; ``beta_path`` (a list) collects β(t)."""
    net = ReducedNetwork.empty(depth, width, problem.rank, problem.output_dim)
    log_steps = np.asarray(log_steps if log_steps is not None else [0], dtype=np.int64)
    loss_log = np.full(log_steps.size, np.nan)
    hit_step = np.full(len(hits), -1, dtype=np.int64)
    scale = 1 / math.sqrt(problem.output_dim)
    status, step, loss0 = "capped", 0, None
    while True:
        f, b = _features(net, backend, rank_tol)
        beta = scale * f[depth]
        loss, G = problem.loss_and_gradient(beta)
        if beta_path is not None:
            beta_path.append(beta.copy())
        loss0 = loss if loss0 is None else loss0
        loss_log[log_steps == step] = loss
        for j, level in enumerate(hits):
            if hit_step[j] < 0 and loss <= level * loss0:
                hit_step[j] = step
        if not math.isfinite(loss) or loss > divergence_factor * loss0:
            status = "diverged"
            break
        if loss <= target * loss0:
            status = "converged"
            break
        if step >= max_steps:
            break
        for i, lay in enumerate(net.layers):  # all updates from this step's (old) features
            lay.C = lay.C - (lr * net.s[i] ** 2 * scale) * (b[i + 1] @ G @ f[i].T)
        step += 1
    change = [float(np.linalg.norm(lay.C)) for lay in net.layers]
    return DeepRunResult(log_steps, loss_log, hit_step, status, step, beta, list(net.k), change)
