r"""Gradient descent of narrow (small width m) deep linear networks, every depth in one batch, at
a cost per step that does not grow with depth.

The network (one output) is :math:`f(x) = \alpha\, a\, W_{L-1}\cdots W_2 W_1 x` with first layer
:math:`W_1` (m x d_in), square middle layers (m x m) and last layer :math:`a` (1 x m). Two exact
reductions make a step cheap:

* **Data in its eigenbasis.** With :math:`X^\top X = V\Lambda V^\top` (rank r) and :math:`Y = X\Phi^\top`,
  the loss is :math:`\ell = \tfrac12\sum_{j\le r}\lambda_j (\alpha\,(h U)_j - \phi_j)^2` with
  :math:`U = W_1 V_r` (m x r), :math:`\phi = V_r^\top\Phi^\top` and :math:`h = a W_{L-1}\cdots W_2`.
  The gradient of :math:`W_1` lies in the row space of :math:`X`, so the part of :math:`W_1` outside
  it never moves and never enters the loss: GD on :math:`U` is GD on :math:`W_1`, exactly.
* **Vector chains.** With :math:`g = \lambda\odot e` (e the residual in these coordinates) and
  :math:`q = U g`, the gradients are :math:`\partial_U\ell = \alpha\, h^\top g^\top`,
  :math:`\partial_{W_k}\ell = \alpha\,(a S_{k+1})^\top (P_{k-1} q)^\top` and
  :math:`\partial_a\ell = \alpha\,(M q)^\top`, with prefix products :math:`P_k = W_k\cdots W_2`,
  suffix products :math:`S_k = W_{L-1}\cdots W_k` and :math:`M = P_{L-1}`. Only the vectors
  :math:`a S_{k+1}` and :math:`P_{k-1} q` are needed, never the matrices: two chains of
  matrix-vector products (from :math:`a` down, from :math:`q` up), about :math:`2m^2` flops per
  m x m layer each, and the update is rank one per layer. For width 1 every layer after the first is a scalar
  and the chains are cumulative products. The member index is the arrays' last axis, so each
  layer's entries over the batch are contiguous vectors.

The formulas are written in numpy (:func:`loss_and_gradients`, :func:`step`); the training loops
run them through compiled kernels (:func:`loss_and_step`, :mod:`.narrow_kernel`) that compute the
same numbers bit for bit in one pass over memory per step (members in cache-sized blocks).

Networks of different depths share one batch: a shallower chain is padded with identity layers
that never train. Members that converge or diverge leave the batch (compaction).

**Early stopping that keeps medians exact.** A member belongs to a cell (depth, step-size factor)
of ``n`` seeds. Once more than half of a cell's seeds have reached the smallest threshold, the
cell's median is known exactly and its remaining seeds stop (they are right-censored, known only to
be slower than the median). *Racing* (our choice): a cell whose median is not yet known stops once
its step count ``t`` exceeds ``race_factor`` times the best known median step count at its depth;
fewer than a majority of its seeds converged by ``t``, so its median exceeds ``t`` (odd seed
counts) or ``t / 2`` (even ones, whose median averages two order statistics): with
``race_factor >= 1`` (odd) or ``>= 2`` (even) it is slower than the best cell, which stays exact. Both keep every reported median exact or a stated
lower bound, and cut the run to a few times the slowest *median* instead of the step cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeplinear.numerics.krylov_deep import EigenProblem
from deeplinear.numerics.progress import TargetProgress
from deeplinear.numerics.run_status import CAPPED, CONVERGED, DIVERGED


@dataclass(frozen=True)
class EigenData:
    r"""The regression problem in the eigenbasis of :math:`X^\top X`: eigenvalues ``lam`` (r,),
    the basis ``basis`` (d_in x r) and the target coefficients ``phi`` (r,)."""

    lam: np.ndarray
    basis: np.ndarray
    phi: np.ndarray

    @classmethod
    def from_data(cls, X: np.ndarray, Y: np.ndarray, rank: int) -> EigenData:
        """From ``X`` (n x d_in, samples as rows) and ``Y = X Φ^T`` (n x 1)."""
        problem = EigenProblem.from_data(X, Y, rank)
        return cls(problem.lam, problem.basis, problem.phi[0])


# ---- the batch ---------------------------------------------------------------------------------

#: The fields of :class:`Chains`, each with the member index last.
_CHAIN_FIELDS = ("U", "middle", "mask", "last", "last_mask", "alpha")


@dataclass
class Chains:
    """A batch of narrow networks in eigen-coordinates, the member index last (so that one layer's
    entries over the batch are contiguous vectors).

    ``U`` (m, r, E): first layer; ``middle`` (K, m, m, E): ``W_2 .. W_{L-1}`` padded with
    identities (``mask`` (K, E) is 1 on real layers); ``last`` (m, E): ``a``, with ``last_mask``
    (E,) 0 for ``L = 1`` (a fixed ``a = e_1`` makes the first layer's first row the whole network);
    ``alpha`` (E,) the output scale.
    """

    U: np.ndarray
    middle: np.ndarray
    mask: np.ndarray
    last: np.ndarray
    last_mask: np.ndarray
    alpha: np.ndarray

    def select(self, keep: np.ndarray) -> Chains:
        """The members ``keep``, C-contiguous (indexing the last axis may return other layouts,
        for each of which the compiled kernels would compile once more)."""
        return Chains(*(np.ascontiguousarray(getattr(self, f)[..., keep]) for f in _CHAIN_FIELDS))

    @property
    def width(self) -> int:
        return self.U.shape[0]

    def middle_by_member(self) -> np.ndarray:
        """The middle layers as (E, K, m, m)."""
        return np.moveaxis(self.middle, -1, 0)


@dataclass
class Gradients:
    r"""The gradients of a batch: ``U`` (m, r, E) and ``last`` (m, E) in full; the middle layers'
    as rank-one factors, :math:`\partial_{W_k}\ell = \alpha\,\mathrm{left}_k^\top\,\mathrm{right}_k`
    with ``left``, ``right`` (K, m, E): :math:`\mathrm{left}_k = a S_{k+1}` and
    :math:`\mathrm{right}_k = P_{k-1} q` (module doc). Never formed as (K, m, m, E) arrays."""

    U: np.ndarray
    left: np.ndarray
    right: np.ndarray
    last: np.ndarray

    def middle(self, alpha: np.ndarray) -> np.ndarray:
        """The middle layers' gradients in full, (K, m, m, E) (for tests and inspection)."""
        return alpha * self.left[:, :, None, :] * self.right[:, None, :, :]


def chains_from_weights(networks: Sequence[Sequence[np.ndarray]], alphas: Sequence[float], data: EigenData) -> Chains:
    """Batch networks given as weight lists ``[W_1, ..., W_L]`` (:func:`.experiments.init_weights`
    shapes, one output); a depth-1 network ``[W_1]`` (1 x d_in) is padded to width m."""
    m = max(ws[0].shape[0] for ws in networks if len(ws) > 1) if any(len(ws) > 1 for ws in networks) else 1
    K = max(1, max(len(ws) for ws in networks) - 2)
    E, r = len(networks), data.lam.size
    U = np.zeros((E, m, r))
    middle = np.broadcast_to(np.eye(m), (E, K, m, m)).copy()
    mask = np.zeros((E, K))
    last = np.zeros((E, m))
    last_mask = np.zeros(E)
    for i, ws in enumerate(networks):
        if len(ws) == 1:
            U[i, :1] = ws[0] @ data.basis
            last[i, 0] = 1.0
            continue
        U[i] = ws[0] @ data.basis
        for k, w in enumerate(ws[1:-1]):
            middle[i, k] = w
            mask[i, k] = 1.0
        last[i] = ws[-1][0]
        last_mask[i] = 1.0

    def member_last(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(a, 0, -1))

    alpha = np.asarray(alphas, dtype=np.float64)
    return Chains(member_last(U), member_last(middle), member_last(mask), member_last(last), last_mask, alpha)


def loss_and_step(c: Chains, data: EigenData, lr: np.ndarray, below: np.ndarray, above: np.ndarray) -> np.ndarray:
    """The loss (E,) of every member, then one GD step in place of the members with
    ``below < loss <= above`` (the others, NaN losses among them, keep their weights): the
    compiled kernels of :mod:`.narrow_kernel`, equal bit for bit to :func:`loss_and_gradients`
    followed by :func:`step` on those members."""
    from deeplinear.papers.duhu2019 import narrow_kernel  # numba only where narrow nets train

    if not all(a.flags.c_contiguous for a in (c.U, c.middle, c.mask, c.last, c.last_mask, c.alpha, lr, below, above)):
        raise ValueError("the narrow kernels take C-contiguous arrays (one compiled version each)")
    loss = np.empty(c.alpha.size)
    kernel = {1: narrow_kernel.step_width1, 2: narrow_kernel.step_width2}.get(c.width, narrow_kernel.step_wide)
    lam, phi = np.ascontiguousarray(data.lam), np.ascontiguousarray(data.phi)
    kernel(c.U, c.middle, c.mask, c.last, c.last_mask, c.alpha, lam, phi, lr, below, above, loss)
    return loss


def loss_and_gradients(c: Chains, data: EigenData) -> tuple[np.ndarray, Gradients]:
    r"""Loss (E,) and the gradients (formulas in the module doc): the vector chains
    :math:`\mathrm{left}_{k-1} = \mathrm{left}_k W_k` from :math:`a` down and
    :math:`\mathrm{right}_{k+1} = W_k\,\mathrm{right}_k` from :math:`q` up, two matrix-vector
    products per layer, instead of the full prefix and suffix products."""
    alpha, lam, phi = c.alpha, data.lam[:, None], data.phi[:, None]
    if c.width == 1:
        chain = np.concatenate([c.middle[:, 0, 0], c.last], axis=0)  # scalars W_2..W_{L-1}, a: (K+1, E)
        pre = np.cumprod(chain, axis=0)  # W_k ... W_2
        suf = np.cumprod(chain[::-1], axis=0)[::-1]  # a ... W_k
        h = pre[-1:]  # (1, E): the whole chain a W_{L-1} ... W_2
        e = alpha * h * c.U[0] - phi  # (r, E)
        g = lam * e
        q = (c.U[0] * g).sum(0)  # (E,)
        left = suf[1:, None]  # a S_{k+1}: (K, 1, E)
        right = np.empty_like(left)  # P_{k-1} q
        right[0, 0] = q
        right[1:, 0] = pre[:-2] * q
        g_last = (alpha * q * pre[-2])[None]  # alpha M q
    else:
        h, left = _left_chain(c.middle, c.last)
        hU = h[0] * c.U[0]  # h U, summed over the width in index order
        for i in range(1, c.width):
            hU = hU + h[i] * c.U[i]
        e = alpha * hU - phi
        g = lam * e
        q = (c.U * g).sum(1)  # U g: (m, E)
        right, mq = _right_chain(c.middle, q)
        g_last = alpha * mq
    loss = 0.5 * (g * e).sum(0)
    g_U = alpha * h[:, None, :] * g[None]
    return loss, Gradients(g_U, left, right, g_last)


def _left_chain(W: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``h = a W_{K-1} ... W_0`` (m, E) and ``left[k] = a W_{K-1} ... W_{k+1}`` (K, m, E), for
    m x m layers ``W`` (K, m, m, E): row vectors times matrices, each entry summed over ``i`` in
    index order (:math:`\sum_i l_i W_{ij}`), as the compiled kernel sums."""
    K, m = W.shape[0], W.shape[1]
    left = np.empty((K, m, W.shape[-1]))
    left[K - 1] = a
    for k in range(K - 1, -1, -1):
        row, w = left[k], W[k]
        out = left[k - 1] if k > 0 else np.empty_like(left[0])
        for j in range(m):
            np.multiply(row[0], w[0, j], out=out[j])
            for i in range(1, m):
                out[j] += row[i] * w[i, j]
    return out, left


def _right_chain(W: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``right[k] = W_{k-1} ... W_0 q`` (K, m, E) and ``M q = W_{K-1} ... W_0 q`` (m, E), for
    m x m layers ``W`` (K, m, m, E): matrices times column vectors, each entry summed over ``j``
    in index order."""
    K, m = W.shape[0], W.shape[1]
    right = np.empty((K, m, W.shape[-1]))
    right[0] = q
    for k in range(K):
        col, w = right[k], W[k]
        out = right[k + 1] if k < K - 1 else np.empty_like(right[0])
        for i in range(m):
            np.multiply(w[i, 0], col[0], out=out[i])
            for j in range(1, m):
                out[i] += w[i, j] * col[j]
    return right, out


def step(c: Chains, grads: Gradients, lr: np.ndarray) -> None:
    """One GD step of every member from the old values (in place); pads and ``L = 1``'s fixed
    ``a`` do not move. The middle layers take their rank-one updates layer by layer (each layer's
    vectors stay in cache)."""
    c.U -= lr * grads.U
    coef = lr * c.alpha
    if c.width == 1:
        c.middle[:, 0, 0] -= coef * c.mask * grads.left[:, 0] * grads.right[:, 0]
        c.last -= (lr * c.last_mask) * grads.last
        return
    scaled = np.empty_like(grads.left[0, 0])
    for k in range(c.middle.shape[0]):
        w, row_mask = c.middle[k], coef * c.mask[k]
        for i in range(c.width):
            np.multiply(row_mask, grads.left[k, i], out=scaled)
            for j in range(c.width):
                w[i, j] -= scaled * grads.right[k, j]
    c.last -= (lr * c.last_mask) * grads.last


@dataclass(frozen=True)
class NarrowResult:
    """Per member: first step with ``loss <= eps * loss(0)`` for each threshold, largest first
    (``hit_step`` (E, n_eps), -1 if never), ``status`` (codes of :mod:`deeplinear.numerics.run_status`; ``capped`` means
    right-censored at ``stop_step``, by the cap or by an early stop) and ``loss0``."""

    hit_step: np.ndarray
    status: np.ndarray
    stop_step: np.ndarray
    loss0: np.ndarray
    steps_run: int


class _Race:
    """Per-cell bookkeeping of :func:`train_cells`: seeds converged and diverged, medians known,
    and which live members to stop early (module doc)."""

    def __init__(self, cell: np.ndarray, depth_of_cell: np.ndarray, race_factor: float) -> None:
        self.cell = cell
        self.depth_of_cell = depth_of_cell
        self.race_factor = race_factor
        n_cells = int(cell.max()) + 1
        self.seeds = np.bincount(cell, minlength=n_cells)
        self.done = np.zeros(n_cells, dtype=np.int64)
        self.bad = np.zeros(n_cells, dtype=np.int64)
        self.median_step = np.full(n_cells, np.inf)  # known median step at the smallest epsilon

    def record(self, converged_ids: np.ndarray, diverged_ids: np.ndarray, hit_last: np.ndarray) -> None:
        """Count members that just converged or diverged; fix the medians that became known."""
        np.add.at(self.done, self.cell[converged_ids], 1)
        np.add.at(self.bad, self.cell[diverged_ids], 1)
        majority = self.seeds // 2 + 1
        for k in np.flatnonzero(np.isinf(self.median_step) & (self.done >= majority)):
            times = np.sort(np.where(hit_last[self.cell == k] >= 0, hit_last[self.cell == k], np.iinfo(np.int64).max))
            n = self.seeds[k]
            self.median_step[k] = 0.5 * (times[(n - 1) // 2] + times[n // 2])

    def to_stop(self, live_ids: np.ndarray, step: int) -> np.ndarray:
        """Mask over ``live_ids``: members of cells whose median is known (or whose majority
        diverged), or of cells slower than ``race_factor`` x the best known median at their depth."""
        majority = self.seeds // 2 + 1
        settled = (self.done >= majority) | (self.bad >= majority)
        best = np.full(self.depth_of_cell.max() + 1, np.inf)
        np.minimum.at(best, self.depth_of_cell, self.median_step)
        losing = step > self.race_factor * best[self.depth_of_cell]
        return (settled | losing)[self.cell[live_ids]]


def train_cells(
    chains: Chains,
    data: EigenData,
    lr: np.ndarray,
    cell: np.ndarray,
    depth_of_cell: np.ndarray,
    max_steps: int,
    epsilons: Sequence[float],
    *,
    race_factor: float = 3.0,
    early_stop: bool = True,
    divergence_factor: float = 1e8,
    check_every: int = 16,
    progress: bool | str = False,
) -> NarrowResult:
    """Full-batch GD of every member until it reaches ``min(epsilons) * loss(0)``, diverges (loss
    not finite or above ``divergence_factor * loss(0)``), is stopped early (module doc: its cell's
    median is known, or it lost the race) or reaches ``max_steps``. ``chains`` is consumed (its arrays are modified).

    ``cell`` (E,) gives each member's cell index (the members of a cell are its seeds) and
    ``depth_of_cell`` the depth of each cell; racing compares the cells of one depth. Stopping is
    decided every ``check_every`` steps; first-hit steps are exact (tested every step).
    ``early_stop=False`` runs every member to convergence, divergence or the cap.
    """
    E = chains.alpha.size
    eps = np.sort(np.asarray(epsilons, dtype=np.float64))[::-1]
    hit = np.full((E, eps.size), -1, dtype=np.int64)
    status = np.full(E, CAPPED, dtype=np.int8)
    stop = np.full(E, max_steps, dtype=np.int64)
    race = _Race(cell, depth_of_cell, race_factor)
    ids = np.arange(E)
    c, lr_live = chains, lr.astype(np.float64).copy()
    loss0 = loss_and_gradients(c, data)[0]
    thresholds = loss0[:, None] * eps[None, :]
    # every member with a number for a loss steps (a prefix of these bounds serves any batch size);
    # a NaN loss keeps its weights and leaves at the next check
    lowest, highest = np.full(E, -np.inf), np.full(E, np.inf)
    bar = TargetProgress(max_steps, progress, "narrow GD")
    t = 0
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging member leaves at the next check
        for t in range(max_steps + 1):
            n = ids.size
            loss = loss_and_step(c, data, lr_live, lowest[:n], highest[:n])  # the loss at t; c moves on to t + 1
            if t % 1024 == 0 and bar.enabled:  # before this step's compaction: loss matches ids
                bar.update(t, loss0[ids], loss, thresholds[ids, -1])
            fresh = (loss[:, None] <= thresholds[ids]) & (hit[ids] < 0)
            if fresh.any():
                rows, cols = np.nonzero(fresh)
                hit[ids[rows], cols] = t
            if t % check_every == 0 or t == max_steps:
                outcome = (hit, status, stop)
                finished = _settle(ids, loss, t, outcome, loss0, race, divergence_factor, early_stop)
                if finished.any():  # they left after their step t + 1, which nothing reads
                    c, ids, lr_live = c.select(~finished), ids[~finished], lr_live[~finished]
                if ids.size == 0 or t == max_steps:
                    break
    bar.close()
    return NarrowResult(hit, status, stop, loss0, t)


def _settle(ids, loss, t, outcome, loss0, race: _Race, divergence_factor: float, early_stop: bool) -> np.ndarray:
    """At a check of :func:`train_cells`: mark the live members ``ids`` that converged (reached the
    last threshold), diverged, or (``early_stop``) are stopped by the race, in ``outcome`` =
    ``(hit, status, stop)`` (modified in place); returns the mask of finished live members."""
    hit, status, stop = outcome
    converged = hit[ids, -1] >= 0
    diverged = ~converged & (~np.isfinite(loss) | (loss > divergence_factor * loss0[ids]))
    race.record(ids[converged], ids[diverged], hit[:, -1])
    status[ids[converged]], stop[ids[converged]] = CONVERGED, hit[ids[converged], -1]
    status[ids[diverged]], stop[ids[diverged]] = DIVERGED, t
    finished = converged | diverged
    if early_stop:
        stopped = ~finished & race.to_stop(ids, t)
        stop[ids[stopped]] = t
        finished |= stopped
    return finished


@dataclass(frozen=True)
class LoggedResult:
    """Per member: the loss at each logged step (a stopped member keeps its last loss), the first
    step with ``loss <= eps * loss(0)`` per threshold (``hit_step`` (E, n_eps), -1 if never),
    ``status``, ``stop_step`` and the final middle layers ``middle`` (E, K, m, m)."""

    loss: np.ndarray
    hit_step: np.ndarray
    status: np.ndarray
    stop_step: np.ndarray
    middle: np.ndarray


def train_logged(
    chains: Chains,
    data: EigenData,
    lr: np.ndarray,
    max_steps: int,
    epsilons: Sequence[float],
    log_steps: np.ndarray,
    *,
    stop_at: float | None = None,
    divergence_factor: float = 1e8,
    progress: bool | str = False,
) -> LoggedResult:
    """Full-batch GD of every member, as :func:`deeplinear.numerics.engine.train` runs it, with the loss
    at ``log_steps``: a member stops at ``stop_at * loss(0)`` (default ``epsilons[0]``; converged),
    on divergence (loss not finite or above ``divergence_factor * loss(0)``) or at ``max_steps``
    (capped); first hits of every threshold are tested at every step. No early stopping: the phase
    diagram's narrow cells need every run's own curve. ``chains`` is consumed."""
    E = chains.alpha.size
    eps = np.asarray(epsilons, dtype=np.float64)
    log_steps = np.asarray(log_steps, dtype=np.int64)
    log_index = {int(s): j for j, s in enumerate(log_steps)}
    loss_log = np.full((E, log_steps.size), np.nan)
    hit = np.full((E, eps.size), -1, dtype=np.int64)
    status = np.full(E, CAPPED, dtype=np.int8)
    stop = np.full(E, max_steps, dtype=np.int64)
    final_middle = chains.middle.copy()  # (K, m, m, E)
    ids, c, lr_live = np.arange(E), chains, lr.astype(np.float64).copy()
    loss0 = loss_and_gradients(c, data)[0]
    # converged: loss <= below; diverged: loss > above or not finite. A member steps unless it
    # converged or diverged at this step (its weights are then its final ones).
    below, above = loss0 * (eps[0] if stop_at is None else stop_at), divergence_factor * loss0
    bar = TargetProgress(max_steps, progress, "narrow GD")
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(max_steps + 1):
            ceiling = above[ids] if t < max_steps else np.full(ids.size, -np.inf)  # none steps past the cap
            loss = loss_and_step(c, data, lr_live, below[ids], ceiling)  # the loss at t; the rest move on
            if t % 1024 == 0 and bar.enabled:  # before this step's compaction: loss matches ids
                bar.update(t, loss0[ids], loss, below[ids])
            bad = ~np.isfinite(loss) | (loss > above[ids])
            fresh = (loss[:, None] <= loss0[ids, None] * eps[None, :]) & (hit[ids] < 0)
            if fresh.any():
                rows, cols = np.nonzero(fresh)
                hit[ids[rows], cols] = t
            if t in log_index:
                loss_log[ids, log_index[t]] = loss
            converged = ~bad & (loss <= below[ids])
            finished = bad | converged
            if finished.any() or t == max_steps:
                done = finished if t < max_steps else np.ones(ids.size, dtype=bool)
                status[ids[bad]], status[ids[converged]] = DIVERGED, CONVERGED
                stop[ids[finished]] = t
                final_middle[..., ids[done]] = c.middle[..., done]
                later = log_steps > t  # a stopped member keeps its last loss
                loss_log[np.ix_(ids[done], np.flatnonzero(later))] = loss[done, None]
                c, ids, lr_live = c.select(~done), ids[~done], lr_live[~done]
            if ids.size == 0:
                break
    bar.close()
    return LoggedResult(loss_log, hit, status, stop, np.moveaxis(final_middle, -1, 0))
