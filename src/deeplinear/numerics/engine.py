r"""Batched full-batch gradient descent for deep linear networks.

A deep linear network has weights :math:`W_1, \dots, W_L` and end-to-end map
:math:`\beta = s\, W_L \cdots W_1` (``k x d``). On data ``X`` (``n x d``, samples as rows),
``Y`` (``n x k``) the loss is

.. math:: \ell(W) = \tfrac{w}{2} \lVert X \beta^\top - Y \rVert_F^2,

with a weight ``w`` (``1`` for a sum, ``1/n`` for a mean). With :math:`G = w R^\top X`,
:math:`R = X\beta^\top - Y`, the hand-derived gradients are

.. math:: \partial \ell / \partial W_i = s\, (W_L \cdots W_{i+1})^\top\, G\, (W_{i-1} \cdots W_1)^\top.

Every tensor carries a leading ensemble axis ``E`` (seeds, initialisations, cells of the same
shape), so one step of the whole ensemble is one batch of matrix products: no Python loop over
members. No autograd graph is built. Each member stops at its own target loss (it is masked,
its weights frozen), and a non-finite or exploding loss marks the member ``diverged`` and freezes
it: divergence is data, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from deeplinear.numerics import run_status
from deeplinear.numerics.progress import TargetProgress

MetricsFn = Callable[[list[Tensor], Tensor], dict[str, Tensor]]


@dataclass
class Regression:
    """Least-squares data batched over the ensemble: ``X`` (E|1, n, d), ``Y`` (E|1, n, k).

    A leading axis of size 1 is broadcast over the ensemble without copying. With
    ``members_per_problem = G > 1`` the leading axis holds ``P`` problems shared by consecutive
    groups of ``G`` members (member ``e`` fits problem ``e // G``; ``E = P G``): each step then
    reads each problem's ``X`` once for its whole group, as one product with the group's
    ``G k`` columns, instead of once per member.
    """

    X: Tensor
    Y: Tensor
    weight: float = 1.0
    members_per_problem: int = 1

    def __post_init__(self) -> None:
        if self.X.ndim != 3 or self.Y.ndim != 3:
            raise ValueError("X and Y need shape (ensemble|1, n, d) and (ensemble|1, n, k)")
        if self.X.shape[1] != self.Y.shape[1]:
            raise ValueError(f"X has {self.X.shape[1]} samples but Y has {self.Y.shape[1]}")
        if self.members_per_problem < 1:
            raise ValueError(f"members_per_problem must be >= 1, got {self.members_per_problem}")


@dataclass
class TrainingResult:
    """What :func:`train` records: metrics at logged steps and each member's fate."""

    steps: np.ndarray  # (n_log,) logged GD steps
    metrics: dict[str, np.ndarray]  # name -> (n_log, E, ...)
    status: np.ndarray  # (E,) int codes of :mod:`deeplinear.numerics.run_status`
    stop_step: np.ndarray  # (E,) step at which the member converged/diverged, else the cap
    weights: list[Tensor] = field(repr=False)  # final weights
    hit_step: np.ndarray | None = None  # (E, k) first step with loss <= hit_losses[:, j], -1 if never


def fixed_horizon_status(loss: np.ndarray, divergence_factor: float = 1e8) -> np.ndarray:
    """Outcome codes of runs with a fixed horizon from their loss path (..., T): ``diverged`` where
    a value is not finite or exceeds ``divergence_factor`` times the initial loss (the rule of
    :func:`train`), else ``capped`` (ran to the horizon)."""
    loss = np.asarray(loss, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(loss).all(-1) | (loss > divergence_factor * np.abs(loss[..., :1])).any(-1)
    return np.where(bad, run_status.DIVERGED, run_status.CAPPED).astype(np.int8)


def log_spaced_steps(total: int, count: int) -> np.ndarray:
    """About ``count`` integer steps in ``[0, total]``, log-spaced, always containing 0 and ``total``."""
    if total < 0 or count < 2:
        raise ValueError("need total >= 0 and count >= 2")
    if total == 0:
        return np.array([0])
    inner = np.unique(np.round(np.geomspace(1, total, count - 1)).astype(np.int64))
    return np.unique(np.concatenate([[0], inner, [total]]))


def end_to_end(weights: Sequence[Tensor], scale: float = 1.0) -> Tensor:
    """End-to-end matrix ``beta = scale * W_L ... W_1``, shape (E, k, d)."""
    beta = weights[0]
    for w in weights[1:]:
        beta = w @ beta
    return beta * scale if scale != 1.0 else beta


def residual(beta: Tensor, data: Regression) -> Tensor:
    """``R = X beta^T - Y``, shape (E, n, k)."""
    G = data.members_per_problem
    if G == 1:
        return data.X @ beta.transpose(-1, -2) - data.Y
    P, n, k = data.X.shape[0], data.X.shape[1], beta.shape[-2]
    grouped = data.X @ beta.reshape(P, G * k, -1).transpose(-1, -2)  # (P, n, G k): X read once per group
    res = grouped.reshape(P, n, G, k) - data.Y[:, :, None, :]
    return res.permute(0, 2, 1, 3).reshape(P * G, n, k)


def _residual_times_data(res: Tensor, data: Regression) -> Tensor:
    """``R^T X`` per member, shape (E, k, d)."""
    G = data.members_per_problem
    if G == 1:
        return res.transpose(-1, -2) @ data.X
    P, n, k = data.X.shape[0], data.X.shape[1], res.shape[-1]
    stacked = res.reshape(P, G, n, k).transpose(-1, -2).reshape(P, G * k, n)
    return (stacked @ data.X).reshape(P * G, k, -1)


def loss_from_residual(res: Tensor, weight: float = 1.0) -> Tensor:
    """``(w/2) ||R||_F^2`` per member, shape (E,)."""
    return 0.5 * weight * res.square().sum(dim=(-2, -1))


def prefix_products(weights: Sequence[Tensor]) -> list[Tensor]:
    """``P_i = W_i ... W_1`` for ``i = 1..L`` (each (E, m_i, d)); ``P_L`` is ``beta`` before scaling,
    in the same order of products as :func:`end_to_end`, so the two agree bit for bit."""
    prefixes = [weights[0]]
    for w in weights[1:]:
        prefixes.append(w @ prefixes[-1])
    return prefixes


def gradient_factors(
    weights: Sequence[Tensor], G: Tensor, scale: float = 1.0, prefixes: Sequence[Tensor] | None = None
) -> list[tuple[Tensor | None, Tensor]]:
    r"""Each layer's gradient as a product of two thin factors, ``dl/dW_i = left_i @ right_i``.

    :math:`\partial\ell/\partial W_i = s\,(W_L\cdots W_{i+1})^\top G\,(W_{i-1}\cdots W_1)^\top`
    has rank at most ``k`` (the output dimension): ``left_i`` (E, m_i, k) is the transposed
    suffix product (``None`` for the top layer, meaning the identity) and ``right_i``
    (E, k, m_{i-1}) is ``s G`` times the transposed prefix product. Updates apply the factors
    with one fused ``baddbmm`` and never materialise the gradient; prefix and suffix products
    are built once (``prefixes`` from :func:`prefix_products` when the caller has them), so a
    step costs ``O(L)`` batched products.
    """
    n_layers = len(weights)
    right = G * scale if scale != 1.0 else G
    if prefixes is None:
        prefixes = prefix_products(weights[:-1]) if n_layers > 1 else []
    rights = [right] + [right @ prefixes[i - 1].transpose(-1, -2) for i in range(1, n_layers)]
    suffix: Tensor | None = None  # W_L ... W_{i+1}, None = identity
    lefts: list[Tensor | None] = [None] * n_layers
    for i in range(n_layers - 1, -1, -1):
        lefts[i] = None if suffix is None else suffix.transpose(-1, -2)
        suffix = weights[i] if suffix is None else suffix @ weights[i]
    return list(zip(lefts, rights, strict=True))


def gradients(weights: Sequence[Tensor], G: Tensor, scale: float = 1.0) -> list[Tensor]:
    r"""Materialised gradients :math:`s (W_L\cdots W_{i+1})^\top G (W_{i-1}\cdots W_1)^\top`.

    ``G`` is :math:`\partial\ell/\partial\beta` (E, k, d). For checks and small problems; the
    training loop uses :func:`gradient_factors`.
    """
    return _materialise(gradient_factors(weights, G, scale))


def _materialise(factors: list[tuple[Tensor | None, Tensor]]) -> list[Tensor]:
    return [right if left is None else left @ right for left, right in factors]


def factored_norm_sq(left: Tensor | None, right: Tensor) -> Tensor:
    r""":math:`\lVert AB\rVert_F^2 = \mathrm{tr}(A^\top A\, B B^\top)` from the thin factors, per member."""
    if left is None:
        return right.square().sum(dim=(-2, -1))
    gram_left = left.transpose(-1, -2) @ left
    gram_right = right @ right.transpose(-1, -2)
    return (gram_left * gram_right).sum(dim=(-2, -1))


def _loss_and_factors(
    weights: Sequence[Tensor], data: Regression, scale: float
) -> tuple[Tensor, list[tuple[Tensor | None, Tensor]], Tensor]:
    loss, G, beta, prefixes = _forward(weights, data, scale)
    return loss, gradient_factors(weights, G, scale, prefixes), beta


def _forward(weights: Sequence[Tensor], data: Regression, scale: float) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
    """Loss (E,), ``G = dl/dbeta`` (E, k, d), ``beta`` and the prefix products, from one pass."""
    prefixes = prefix_products(weights)
    beta = prefixes[-1] * scale if scale != 1.0 else prefixes[-1]
    res = residual(beta, data)
    G = data.weight * _residual_times_data(res, data)
    return loss_from_residual(res, data.weight), G, beta, prefixes


def loss_and_gradients(
    weights: Sequence[Tensor], data: Regression, scale: float = 1.0
) -> tuple[Tensor, list[Tensor], Tensor]:
    """Loss (E,), the materialised layer gradients and ``beta`` at the current weights."""
    loss, factors, beta = _loss_and_factors(weights, data, scale)
    return loss, _materialise(factors), beta


def _running(active: Tensor, loss0: Tensor, loss: Tensor, target: Tensor | None) -> tuple[np.ndarray, ...]:
    """``loss(0)``, ``loss`` and the (E,) target of the running members (for the progress bar; no
    target: ``loss(0)`` in its place, so the bar shows the fraction of the step cap)."""
    run = active.cpu().numpy()
    first, now = loss0.cpu().numpy()[run], loss.cpu().numpy()[run]
    return first, now, first if target is None else target.cpu().numpy()[run]


def train(
    weights: Sequence[Tensor],
    data: Regression,
    lr: float | Sequence[float],
    steps: int,
    *,
    scale: float = 1.0,
    log_steps: np.ndarray | None = None,
    target_loss: float | Tensor | None = None,
    divergence_factor: float = 1e8,
    metrics_fn: MetricsFn | None = None,
    progress: bool | str = False,
    check_every: int = 256,
    clone: bool = True,
    member_lr_factor: Tensor | None = None,
    hit_losses: Tensor | None = None,
) -> TrainingResult:
    """Run full-batch GD ``W_i <- W_i - lr_i * dl/dW_i`` on every ensemble member at once.

    Args:
        weights: ``W_1..W_L``, each (E, out, in); not modified unless ``clone=False``.
        data: the regression problem, broadcast over the ensemble.
        lr: one step size, or one per layer (e.g. muP-type per-layer rates).
        steps: the step cap.
        scale: the constant ``s`` in ``beta = s W_L ... W_1``.
        log_steps: steps at which metrics are recorded (default: 60 log-spaced steps).
        target_loss: a member stops (is frozen) once its loss is ``<=`` this; scalar or (E,).
        divergence_factor: a member whose loss exceeds this multiple of its initial loss, or
            is not finite, is marked diverged and frozen.
        metrics_fn: extra metrics ``f(weights, beta) -> {name: (E, ...) tensor}``.
        progress: show a progress bar (a string is used as its description).
        check_every: how often (in steps) to test whether every member has stopped.
        clone: train copies of ``weights`` (default); ``False`` updates them in place, which
            halves peak memory for wide layers.
        member_lr_factor: optional (E,) multiplier of every layer's step per member, so one
            batched run can scan a step-size grid.
        hit_losses: optional (E, k) loss levels; ``hit_step[e, j]`` is the first step at which
            member ``e``'s loss is ``<= hit_losses[e, j]`` (exact, tested every step; -1 if never).

    Returns:
        A :class:`TrainingResult`. Recorded at each logged step, before that step's update:
        ``loss``, ``grad_norm_sq`` (``sum_i ||dl/dW_i||^2``, i.e. ``-dl/dt`` under gradient
        flow) and the extra metrics. Frozen members keep their last values.
    """
    ws = [w.clone().contiguous() if clone else w.contiguous() for w in weights]
    n_members = ws[0].shape[0]
    device = ws[0].device
    lrs = [float(lr)] * len(ws) if np.isscalar(lr) else [float(x) for x in lr]
    if len(lrs) != len(ws):
        raise ValueError(f"{len(lrs)} learning rates for {len(ws)} layers")
    log_steps = log_spaced_steps(steps, 60) if log_steps is None else np.asarray(log_steps)
    if log_steps.min() < 0 or log_steps.max() > steps:
        raise ValueError("log_steps must lie in [0, steps]")
    log_set = set(int(s) for s in log_steps)
    lr_factor = None
    if member_lr_factor is not None:
        lr_factor = torch.as_tensor(member_lr_factor, dtype=ws[0].dtype, device=device).reshape(n_members, 1, 1)
    target = None
    if target_loss is not None:
        target = torch.as_tensor(target_loss, dtype=ws[0].dtype, device=device).expand(n_members)

    levels = None
    if hit_losses is not None:
        levels = torch.as_tensor(hit_losses, dtype=ws[0].dtype, device=device).reshape(n_members, -1)
        hit = torch.full(levels.shape, -1, dtype=torch.int64, device=device)
    active = torch.ones(n_members, dtype=torch.bool, device=device)
    diverged = torch.zeros_like(active)
    converged = torch.zeros_like(active)
    stop_step = torch.full((n_members,), steps, dtype=torch.int64, device=device)
    loss0: Tensor | None = None
    records: dict[str, list[Tensor]] = {}
    logged: list[int] = []
    bar = TargetProgress(steps, progress, "GD")

    def record(step: int, loss: Tensor, factors: list, beta: Tensor) -> None:
        values = {"loss": loss, "grad_norm_sq": sum(factored_norm_sq(a, b) for a, b in factors)}
        if metrics_fn is not None:
            values.update(metrics_fn(ws, beta))
        for name, value in values.items():
            records.setdefault(name, []).append(value.detach().clone())
        logged.append(step)

    step = 0
    any_diverged = False
    for step in range(steps + 1):
        loss, G, beta, prefixes = _forward(ws, data, scale)
        if loss0 is None:
            loss0 = loss.clone().clamp_min(torch.finfo(loss.dtype).tiny)
        bad = ~torch.isfinite(loss) | (loss > divergence_factor * loss0)
        newly_diverged = active & bad
        newly_converged = active & ~bad & (loss <= target) if target is not None else torch.zeros_like(active)
        if levels is not None:  # before this step's convergence freezes the member
            hit = torch.where((hit < 0) & active[:, None] & (loss[:, None] <= levels), step, hit)
        stop_step = torch.where(newly_diverged | newly_converged, step, stop_step)
        diverged |= newly_diverged
        converged |= newly_converged
        active &= ~(newly_diverged | newly_converged)
        if step in log_set:
            record(step, loss, gradient_factors(ws, G, scale, prefixes[:-1]), beta)
        if step == steps:
            break
        if (step % check_every == 0 or step in log_set) and not bool(active.any()):
            # Every member is frozen: their state now is their state at every later logged step
            # (recorded once, then repeated; not the last logged values, which may predate a stop).
            later = sorted(s for s in log_set if s > step)
            if later and step not in log_set:
                record(later[0], loss, gradient_factors(ws, G, scale, prefixes[:-1]), beta)
                later = later[1:]
            for s_later in later:
                for values in records.values():
                    values.append(values[-1])
                logged.append(s_later)
            break
        # Frozen members get a zero update and each member its step factor, both folded into G once
        # instead of into every layer's factor (bit for bit the same for factors 0, 1 and powers of 2).
        coef = active.view(-1, 1, 1).to(G.dtype)
        if lr_factor is not None:
            coef = coef * lr_factor
        any_diverged = any_diverged or bool(newly_diverged.any())
        for w, (left, right), lr_i in zip(ws, gradient_factors(ws, G * coef, scale, prefixes[:-1]), lrs, strict=True):
            if any_diverged:  # a diverged member's products may be non-finite: 0 * inf must not enter
                right = torch.where(active.view(-1, 1, 1), right, 0.0)
            if left is None:
                w.sub_(right, alpha=lr_i)
            else:
                w.baddbmm_(left, right, alpha=-lr_i)
        if step % 512 == 0 and bar.enabled:
            bar.update(step, *_running(active, loss0, loss, target))
    bar.close()

    status = torch.full((n_members,), run_status.CAPPED, dtype=torch.int8)
    status[converged.cpu()] = run_status.CONVERGED
    status[diverged.cpu()] = run_status.DIVERGED
    return TrainingResult(
        steps=np.asarray(logged, dtype=np.int64),
        metrics={k: torch.stack(v).cpu().numpy() for k, v in records.items()},
        status=status.numpy(),
        stop_step=stop_step.cpu().numpy(),
        weights=ws,
        hit_step=None if levels is None else hit.cpu().numpy(),
    )
