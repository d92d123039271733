r"""Batch-one SGD of the Xavier-scaled two-layer network on the CPU, near the machine's floor.

The network :math:`g(x) = N^{-1/2}\sum_i C^i\sigma(W^i\!\cdot x)` takes, per SGD step on the
sample :math:`(x_j, y_j)` and per neuron, one activation, ``d`` multiply-adds for
:math:`W^i\!\cdot x_j` and about ``d + 4`` for the updates

.. math:: e = \eta\,(y_j - g(x_j)),\qquad C^i \mathrel{+}= e\,\sigma(W^i\!\cdot x_j),\qquad
          W^i \mathrel{+}= e\,C^i_{\mathrm{old}}\,\sigma'(W^i\!\cdot x_j)\,x_j,

with :math:`\eta = \alpha N^{-3/2}` and :math:`\sigma'` written as a function of :math:`\sigma`'s
value (:func:`deeplinear.papers.sirignano2022.theory.derivative_from_value`). The state of a
seed, ``C`` (N) and ``W`` (N x d), is 8 N (d + 1) bytes: 4 MB at N = 10^5, d = 4.

How it runs (the floor is one activation and one read-modify-write of the state per neuron-step):

* seeds in blocks whose state fits in a core's cache (:data:`CACHE_BYTES`), each block running all
  its steps before the next, so the state is not streamed from memory at every step;
* per step two passes over the block: the activation by numpy's vectorised ``tanh`` (or sigmoid)
  into a preallocated buffer, and :func:`_update` (compiled, fused: the output, the error, both
  updates and the next step's pre-activations, whose input is known in advance), with no
  temporaries; the state is read and written once per step.

``tests/benchmarks/bench_sirignano.py`` prints its throughput against the floor measured in the
same run. The compiled parts use numba (from the lock). The trajectories equal those of the torch
loop (:func:`deeplinear.papers.sirignano2022.experiments.sgd`, which runs on CUDA) to rounding:
the two ``tanh`` implementations differ in the last bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from tqdm.auto import tqdm

#: Bytes of seed state (C and W) one block may hold: about a core's share of the last-level cache.
CACHE_BYTES = 2 << 20


@njit(cache=True, fastmath=True)
def _preactivations(W: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out[s, i] = W[s, i] . x[s]`` for a block of seeds (S, N, d), fused over ``d``."""
    n_seeds, width, dim = W.shape
    for s in range(n_seeds):
        for i in range(width):
            acc = 0.0
            for k in range(dim):
                acc += W[s, i, k] * x[s, k]
            out[s, i] = acc


@njit(cache=True, fastmath=True)
def _update(C, W, a, x, y, eta: float, rsqrt: float, tanh: bool, x_next, pre) -> None:
    """One SGD step of a block given the activations ``a`` (S, N): the output and error of each
    seed, then ``C`` and ``W`` in place (``W`` with the pre-step ``C``); while a neuron's new ``W``
    is in registers, its pre-activation for the next step's input ``x_next`` goes to ``pre`` (one
    pass over the state per step instead of two)."""
    n_seeds, width, dim = W.shape
    for s in range(n_seeds):
        out = 0.0
        for i in range(width):
            out += C[s, i] * a[s, i]
        e = eta * (y[s] - out * rsqrt)
        for i in range(width):
            v = a[s, i]
            slope = 1.0 - v * v if tanh else v * (1.0 - v)
            gate = C[s, i] * slope * e
            C[s, i] += v * e
            acc = 0.0
            for k in range(dim):
                w = W[s, i, k] + gate * x[s, k]
                W[s, i, k] = w
                acc += w * x_next[s, k]
            pre[s, i] = acc


def _activate(pre: np.ndarray, out: np.ndarray, act: str) -> None:
    if act == "tanh":
        np.tanh(pre, out=out)
    else:  # the sigmoid, 1 / (1 + exp(-u)), in place
        np.negative(pre, out=out)
        np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)


def outputs(C: np.ndarray, W: np.ndarray, X: np.ndarray, act: str) -> np.ndarray:
    """``g(x_j)`` (S, M) of every seed on every training input ``X`` (M, d)."""
    pre = W @ X.T  # (S, N, M)
    act_v = np.empty_like(pre)
    _activate(pre, act_v, act)
    return np.einsum("sn,snm->sm", C, act_v) / np.sqrt(C.shape[-1])


def block_size(width: int, dim: int) -> int:
    """Seeds per block: as many as keep the block's state within :data:`CACHE_BYTES` (at least 1)."""
    return max(1, CACHE_BYTES // (8 * width * (dim + 1)))


def sgd(
    C: np.ndarray,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    samples: np.ndarray,
    lr: float,
    act: str,
    log_steps: np.ndarray,
    progress: bool | str = False,
) -> dict[str, np.ndarray]:
    """The same SGD as the torch loop, in place on float64 ``C`` (S, N), ``W`` (S, N, d): step ``k``
    of seed ``s`` uses the sample ``samples[s, k]``; records ``h`` (T, S, M) at ``log_steps``."""
    n_seeds, width = C.shape
    eta, rsqrt = lr * width**-1.5, width**-0.5
    steps = int(log_steps.max())
    log_index = {int(t): i for i, t in enumerate(log_steps)}
    h = np.empty((len(log_steps), n_seeds, X.shape[0]))
    size = block_size(width, X.shape[1])
    bar = tqdm(total=n_seeds * steps, disable=not progress, desc=progress or "SGD", mininterval=2.0, unit="step")
    for lo in range(0, n_seeds, size):
        block = slice(lo, min(n_seeds, lo + size))
        Cb, Wb = np.ascontiguousarray(C[block]), np.ascontiguousarray(W[block])
        pre, act_v = np.empty_like(Cb), np.empty_like(Cb)
        xs, ys = X[samples[block]], y[samples[block]]  # (S_b, steps, d), (S_b, steps)
        xs = np.concatenate([xs, np.zeros_like(xs[:, :1])], axis=1)  # a dummy input after the last step
        _preactivations(Wb, np.ascontiguousarray(xs[:, 0]), pre)
        for k in range(steps + 1):
            if k in log_index:
                h[log_index[k], block] = outputs(Cb, Wb, X, act)
            if k == steps:
                break
            _activate(pre, act_v, act)
            x, x_next = np.ascontiguousarray(xs[:, k]), np.ascontiguousarray(xs[:, k + 1])
            _update(Cb, Wb, act_v, x, np.ascontiguousarray(ys[:, k]), eta, rsqrt, act == "tanh", x_next, pre)
            if k % 4096 == 0:
                bar.update(min(4096, steps - k) * (block.stop - block.start))
        C[block], W[block] = Cb, Wb
    bar.close()
    return {"h": h}
