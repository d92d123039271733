r"""Compiled (numba) GD step of a batch of narrow chains (:mod:`.narrow`): loss, gradients and
update in one pass over memory.

The arithmetic is that of the numpy formulas of :mod:`.narrow` (:func:`.narrow.loss_and_gradients`
and :func:`.narrow.step`), in the same order for every member, so the results are equal bit for
bit (``tests/papers/duhu2019/test_narrow.py`` checks it); only the passes over memory change.
numpy takes about a dozen passes over the (K, E) layers per step (two cumulative products, a
reversed copy, a temporary for each product, then the update); here the members go in blocks of
:data:`BLOCK`, whose layers and chain vectors stay in cache while the block's loss, gradients
and update are computed: one pass over the layers from memory. No ``fastmath``: reassociating a
product or a sum would change bits.

Shapes (member index last, as in :class:`.narrow.Chains`): ``U`` (m, r, E), ``middle``
(K, m, m, E), ``mask`` (K, E), ``last`` (m, E), ``alpha``, ``last_mask`` and ``lr`` (E,),
``lam`` and ``phi`` (r,); ``m`` is 1 (:func:`step_width1`), 2 (:func:`step_width2`) or more
(:func:`step_wide`, the same sums in the same order as :func:`step_width2` at m = 2). Scratch
arrays are indexed by ``e - lo`` within a block ``lo <= e < hi``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Members per block: a block's layers and chain vectors (about 8 K doubles per member) stay in a
#: core's L2 cache between the passes over it.
BLOCK = 128


@njit(cache=True)
def _gradients_width1(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, pre) -> None:
    """Width 1: every layer after the first is a scalar; ``pre`` (K + 1, n) holds the prefix
    products :math:`P_k = W_k\\cdots W_2` (the last one times ``a``: ``h``)."""
    K = middle.shape[0]
    for e in range(lo, hi):
        pre[0, e - lo] = middle[0, 0, 0, e]
    for k in range(1, K):
        for e in range(lo, hi):
            pre[k, e - lo] = pre[k - 1, e - lo] * middle[k, 0, 0, e]
    for e in range(lo, hi):
        b = e - lo
        pre[K, b] = pre[K - 1, b] * last[0, e]
        ah = alpha[e] * pre[K, b]
        q, total = 0.0, 0.0
        for j in range(phi.size):  # sums in index order, as numpy sums over a leading axis
            res = ah * U[0, j, e] - phi[j]
            g = lam[j] * res
            gU[0, j, b] = ah * g
            q = U[0, j, e] * g if j == 0 else q + U[0, j, e] * g
            total = g * res if j == 0 else total + g * res
        loss[e] = 0.5 * total
        right[0, 0, b] = q
        glast[0, b] = alpha[e] * q * pre[K - 1, b]
        left[K - 1, 0, b] = last[0, e]
    for k in range(K - 2, -1, -1):  # left_k = a S_{k+1}: the suffix products
        for e in range(lo, hi):
            left[k, 0, e - lo] = left[k + 1, 0, e - lo] * middle[k + 1, 0, 0, e]
    for k in range(1, K):  # right_k = P_{k-1} q
        for b in range(hi - lo):
            right[k, 0, b] = pre[k - 1, b] * right[0, 0, b]


@njit(cache=True)
def _gradients_width2(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, h) -> None:
    """Width 2: the chains of 2 x 2 matrix-vector products written out; ``h`` (2, n) is scratch."""
    K = middle.shape[0]
    for e in range(lo, hi):
        left[K - 1, 0, e - lo], left[K - 1, 1, e - lo] = last[0, e], last[1, e]
    for k in range(K - 1, -1, -1):  # row vectors times matrices, from a down; the last product is h
        out = left[k - 1] if k > 0 else h
        for e in range(lo, hi):
            b = e - lo
            out[0, b] = left[k, 0, b] * middle[k, 0, 0, e] + left[k, 1, b] * middle[k, 1, 0, e]
            out[1, b] = left[k, 0, b] * middle[k, 0, 1, e] + left[k, 1, b] * middle[k, 1, 1, e]
    for e in range(lo, hi):
        b = e - lo
        q0, q1, total = 0.0, 0.0, 0.0
        for j in range(phi.size):
            res = alpha[e] * (h[0, b] * U[0, j, e] + h[1, b] * U[1, j, e]) - phi[j]
            g = lam[j] * res
            gU[0, j, b] = alpha[e] * h[0, b] * g
            gU[1, j, b] = alpha[e] * h[1, b] * g
            q0 = U[0, j, e] * g if j == 0 else q0 + U[0, j, e] * g
            q1 = U[1, j, e] * g if j == 0 else q1 + U[1, j, e] * g
            total = g * res if j == 0 else total + g * res
        loss[e] = 0.5 * total
        right[0, 0, b], right[0, 1, b] = q0, q1
    for k in range(K - 1):  # matrices times column vectors, from q up
        for e in range(lo, hi):
            b = e - lo
            right[k + 1, 0, b] = middle[k, 0, 0, e] * right[k, 0, b] + middle[k, 0, 1, e] * right[k, 1, b]
            right[k + 1, 1, b] = middle[k, 1, 0, e] * right[k, 0, b] + middle[k, 1, 1, e] * right[k, 1, b]
    for e in range(lo, hi):  # g_a = alpha M q
        b = e - lo
        glast[0, b] = alpha[e] * (
            middle[K - 1, 0, 0, e] * right[K - 1, 0, b] + middle[K - 1, 0, 1, e] * right[K - 1, 1, b]
        )
        glast[1, b] = alpha[e] * (
            middle[K - 1, 1, 0, e] * right[K - 1, 0, b] + middle[K - 1, 1, 1, e] * right[K - 1, 1, b]
        )


@njit(cache=True)
def _gradients_wide(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, h) -> None:
    """Width m >= 2: the chains of m x m matrix-vector products, each entry summed in index
    order as the numpy formulas sum; ``h`` (m, n) is scratch."""
    K, m = middle.shape[0], middle.shape[1]
    for i in range(m):
        for e in range(lo, hi):
            left[K - 1, i, e - lo] = last[i, e]
    for k in range(K - 1, -1, -1):  # row vectors times matrices, from a down; the last product is h
        out = left[k - 1] if k > 0 else h
        for j in range(m):
            for e in range(lo, hi):
                b = e - lo
                acc = left[k, 0, b] * middle[k, 0, j, e]
                for i in range(1, m):
                    acc += left[k, i, b] * middle[k, i, j, e]
                out[j, b] = acc
    for e in range(lo, hi):
        b = e - lo
        total = 0.0
        for j in range(phi.size):
            hU = h[0, b] * U[0, j, e]
            for i in range(1, m):
                hU += h[i, b] * U[i, j, e]
            res = alpha[e] * hU - phi[j]
            g = lam[j] * res
            for i in range(m):
                gU[i, j, b] = alpha[e] * h[i, b] * g
                right[0, i, b] = U[i, j, e] * g if j == 0 else right[0, i, b] + U[i, j, e] * g
            total = g * res if j == 0 else total + g * res
        loss[e] = 0.5 * total
    for k in range(K):  # matrices times column vectors, from q up; the last product is M q
        for i in range(m):
            for e in range(lo, hi):
                b = e - lo
                acc = middle[k, i, 0, e] * right[k, 0, b]
                for j in range(1, m):
                    acc += middle[k, i, j, e] * right[k, j, b]
                if k < K - 1:
                    right[k + 1, i, b] = acc
                else:
                    glast[i, b] = alpha[e] * acc


@njit(cache=True)
def _update(U, middle, mask, last, last_mask, alpha, lr, lo, hi, moves, gU, left, right, glast) -> None:
    """The step of the members ``lo <= e < hi`` with ``moves[e]``: ``U -= lr gU``,
    ``W_k -= (lr alpha mask_k) left_k^T right_k``, ``a -= (lr last_mask) g_a`` (the products
    grouped as numpy groups them; ``left`` is overwritten). The test per entry is skipped when
    every member of the block moves (the common case; the compiler then takes the test out of the
    loops)."""
    m, r, K = U.shape[0], U.shape[1], middle.shape[0]
    every = True
    for e in range(lo, hi):
        every = every and moves[e]
    for i in range(m):
        for j in range(r):
            for e in range(lo, hi):
                if every or moves[e]:
                    U[i, j, e] -= lr[e] * gU[i, j, e - lo]
    for k in range(K):
        for i in range(m):  # ((lr alpha) mask) left_i, then times right_j: numpy's grouping
            for e in range(lo, hi):
                left[k, i, e - lo] = lr[e] * alpha[e] * mask[k, e] * left[k, i, e - lo]
            for j in range(m):
                for e in range(lo, hi):
                    if every or moves[e]:
                        middle[k, i, j, e] -= left[k, i, e - lo] * right[k, j, e - lo]
    for i in range(m):
        for e in range(lo, hi):
            if every or moves[e]:
                last[i, e] -= lr[e] * last_mask[e] * glast[i, e - lo]


@njit(cache=True)
def _mark_moves(loss, lo, hi, below, above, moves) -> None:
    """Which members of the block step: those with ``below < loss <= above`` (NaN never does)."""
    for e in range(lo, hi):
        moves[e] = loss[e] > below[e] and loss[e] <= above[e]


@njit(cache=True)
def step_width1(U, middle, mask, last, last_mask, alpha, lam, phi, lr, below, above, loss) -> None:
    """Width 1: the loss of every member into ``loss``, then one GD step in place of the members
    with ``below < loss <= above`` (the others keep their weights), block by block."""
    m, r, K, E = U.shape[0], U.shape[1], middle.shape[0], alpha.size
    n = min(BLOCK, E)
    gU, left, right = np.empty((m, r, n)), np.empty((K, m, n)), np.empty((K, m, n))
    glast, pre, moves = np.empty((m, n)), np.empty((K + 1, n)), np.empty(E, dtype=np.bool_)
    for lo in range(0, E, BLOCK):
        hi = min(E, lo + BLOCK)
        _gradients_width1(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, pre)
        _mark_moves(loss, lo, hi, below, above, moves)
        _update(U, middle, mask, last, last_mask, alpha, lr, lo, hi, moves, gU, left, right, glast)


@njit(cache=True)
def step_wide(U, middle, mask, last, last_mask, alpha, lam, phi, lr, below, above, loss) -> None:
    """Width m >= 2: as :func:`step_width1`."""
    m, r, K, E = U.shape[0], U.shape[1], middle.shape[0], alpha.size
    n = min(BLOCK, E)
    gU, left, right = np.empty((m, r, n)), np.empty((K, m, n)), np.empty((K, m, n))
    glast, h, moves = np.empty((m, n)), np.empty((m, n)), np.empty(E, dtype=np.bool_)
    for lo in range(0, E, BLOCK):
        hi = min(E, lo + BLOCK)
        _gradients_wide(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, h)
        _mark_moves(loss, lo, hi, below, above, moves)
        _update(U, middle, mask, last, last_mask, alpha, lr, lo, hi, moves, gU, left, right, glast)


@njit(cache=True)
def step_width2(U, middle, mask, last, last_mask, alpha, lam, phi, lr, below, above, loss) -> None:
    """Width 2: as :func:`step_wide`, with the 2 x 2 products written out (1.4x the general loop's
    rate: bench_narrow.py)."""
    m, r, K, E = U.shape[0], U.shape[1], middle.shape[0], alpha.size
    n = min(BLOCK, E)
    gU, left, right = np.empty((m, r, n)), np.empty((K, m, n)), np.empty((K, m, n))
    glast, h, moves = np.empty((m, n)), np.empty((2, n)), np.empty(E, dtype=np.bool_)
    for lo in range(0, E, BLOCK):
        hi = min(E, lo + BLOCK)
        _gradients_width2(U, middle, last, alpha, lam, phi, lo, hi, loss, gU, left, right, glast, h)
        _mark_moves(loss, lo, hi, below, above, moves)
        _update(U, middle, mask, last, last_mask, alpha, lr, lo, hi, moves, gU, left, right, glast)
