r"""Min et al. (2021): batched brute-force GD of two-layer linear networks and the dataset it makes.

Members ``(seed, j)`` share their seed's regression ``(X, Y)``; ``j`` runs over initialisations
or init scales. For each member the run records what the paper's statements are about: the loss
and the excess loss :math:`L - L^*` against the Theorem 1 bound, the instantaneous rate
:math:`\lVert\nabla L\rVert^2/(L - L^*)` against the v2 bound, the drift of the frozen component
:math:`U_2 = \Phi_2^\top U` and of the imbalance :math:`\Lambda = U_1^\top U_1 - V^\top V`, and at
the end the distance to the min-norm solution with its Prop. 1 prediction
:math:`\Phi_2 U_2(0) V(\infty)^\top`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from deeplinear.numerics import engine, synthetic_data
from deeplinear.paper_api import JobContext
from deeplinear.papers.min2021.about import DYNAMICS_ERROR_NAME
from deeplinear.papers.min2021.theory import (
    imbalance_drift_norm,
    imbalance_norm,
    imbalance_spectrum,
    rate_constant,
    theorem1_bound,
    v2_rate_bound,
)
from deeplinear.variables import attrs, status_attrs

#: Every tensor of this module is float64.
DTYPE = torch.float64


@dataclass(frozen=True)
class SeedProblems:
    """Each seed's data ``X`` (n x D), targets ``Y`` (n x m) and row-space bases ``Phi_1`` (D x r),
    ``Phi_2`` (D x (D - r)) of ``X`` (:func:`deeplinear.numerics.synthetic_data.row_space_basis`)."""

    X: list[np.ndarray]
    Y: list[np.ndarray]
    phi1: list[np.ndarray]
    phi2: list[np.ndarray]


@dataclass(frozen=True)
class Schedule:
    """GD step ``lr``, step cap ``steps``, the logged steps, and the stopping rule: a member stops
    at ``L* + target_relative (L(0) - L*)`` or at ``target_absolute`` (neither: runs to the cap)."""

    lr: float
    steps: int
    log_steps: np.ndarray
    target_relative: float | None = None
    target_absolute: float | None = None


@dataclass(frozen=True)
class MemberLayout:
    """How members map to dataset axes: ``members_per_seed`` consecutive members per seed on the
    axes ``member_dims = (outer, inner)`` with coordinates ``member_coords``, preceded by the
    job's own scan values ``extra_dims`` as length-1 axes (e.g. ``{"lr": [eta]}``)."""

    members_per_seed: int
    member_dims: tuple[str, str]
    member_coords: dict[str, Any]
    extra_dims: dict[str, list]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.member_coords[self.member_dims[0]]), self.members_per_seed)


@dataclass(frozen=True)
class HiddenSpan:
    """Members that are the exact width-``k`` reduction of width-``width`` networks
    (:func:`hidden_span_reduction`): what the reduction leaves out, per member, is the constant
    ``U_2(0)(I - Q Q^T)``, of squared norm ``u2_outside_sq`` (E,), and ``width - k`` zero
    eigenvalues of the imbalance."""

    width: int
    u2_outside_sq: np.ndarray


def hidden_span_reduction(
    U: np.ndarray, V: np.ndarray, phi1: list[np.ndarray], phi2: list[np.ndarray], members_per_seed: int
) -> tuple[np.ndarray, np.ndarray, HiddenSpan]:
    r"""Width-h two-layer GD as exact GD of width ``k = r + m``: ``(U Q, V Q)`` per member.

    With :math:`U = \Phi_1 U_1 + \Phi_2 U_2` and residual ``R``, a GD step changes
    :math:`U_1` by :math:`-\eta\Phi_1^\top X^\top R V` (rows in the row space of ``V``), ``V`` by
    :math:`-\eta R^\top X\Phi_1 U_1` (rows in that of :math:`U_1`) and leaves :math:`U_2` frozen
    (:math:`X\Phi_2 = 0`). So the rows of :math:`U_1` and ``V`` stay in
    :math:`S = \mathrm{rowspan}[U_1(0); V(0)] \subset R^h`, of dimension at most ``r + m``. For any
    ``h x k`` matrix ``Q`` with orthonormal columns spanning a space that holds ``S`` (here the
    QR factor of :math:`[U_1(0); V(0)]^\top`), :math:`V(t) = V(t) Q Q^\top`, hence
    :math:`X U(t) V(t)^\top = X (U(t)Q)(V(t)Q)^\top`, and by induction over the steps GD from
    ``(U(0)Q, V(0)Q)`` passes through ``(U(t)Q, V(t)Q)``, with the same loss and gradient norms.
    What ``Q`` drops is constant: :math:`U(t)(I - QQ^\top) = \Phi_2 U_2(0)(I - QQ^\top)`.

    ``U`` (E, D, h), ``V`` (E, m, h), per-seed bases ``phi1`` (D x r), ``phi2`` (D x (D-r)),
    ``members_per_seed`` consecutive members per seed. Cost per step falls by ``h / (r + m)``.
    """
    reps = lambda per_seed: np.repeat(np.stack(per_seed), members_per_seed, axis=0)  # noqa: E731
    Phi1, Phi2 = reps(phi1), reps(phi2)
    U1 = np.swapaxes(Phi1, -1, -2) @ U
    U2 = np.swapaxes(Phi2, -1, -2) @ U
    Q, _ = np.linalg.qr(np.swapaxes(np.concatenate([U1, V], axis=-2), -1, -2))  # (E, h, r + m)
    outside = U2 - (U2 @ Q) @ np.swapaxes(Q, -1, -2)
    return U @ Q, V @ Q, HiddenSpan(U.shape[-1], np.sum(outside * outside, axis=(-2, -1)))


@dataclass(frozen=True)
class _Batch:
    """The per-member tensors of a batch (each seed's repeated for its members)."""

    reg: engine.Regression
    phi1: Tensor
    phi2: Tensor
    rank: int
    lam_r_sigma: Tensor
    theta_hat: Tensor
    loss_star: Tensor


def _per_member(arrays: list[np.ndarray], repeat: int, device) -> Tensor:
    """Per-seed arrays stacked, each repeated for ``repeat`` consecutive members (member = seed*repeat + j)."""
    return torch.as_tensor(np.stack(arrays), dtype=DTYPE, device=device).repeat_interleave(repeat, dim=0)


def _batch(problems: SeedProblems, repeat: int, device) -> _Batch:
    reg = engine.Regression(X=_per_member(problems.X, repeat, device), Y=_per_member(problems.Y, repeat, device))
    phi1 = _per_member(problems.phi1, repeat, device)
    phi2 = _per_member(problems.phi2, repeat, device)
    r = phi1.shape[-1]
    sig = np.stack([np.linalg.svd(X, compute_uv=False)[:r] ** 2 for X in problems.X])  # Sigma_x per seed
    lam_r_sigma = torch.as_tensor(sig[:, -1], dtype=DTYPE, device=device).repeat_interleave(repeat)
    theta = [synthetic_data.min_norm_solution(X, Y) for X, Y in zip(problems.X, problems.Y, strict=True)]
    theta_hat = _per_member(theta, repeat, device)  # (E, D, m)
    loss_star = engine.loss_from_residual(engine.residual(theta_hat.transpose(-1, -2), reg))
    return _Batch(reg, phi1, phi2, r, lam_r_sigma, theta_hat, loss_star)


def _u2_norm0(batch: _Batch, U0: Tensor, span: HiddenSpan | None) -> Tensor:
    r""":math:`\lVert U_2(0)\rVert_F` of the networks the members are (reduced ones: with the dropped part)."""
    inside = torch.linalg.matrix_norm(batch.phi2.transpose(-1, -2) @ U0)
    if span is None:
        return inside
    return (inside.square() + torch.as_tensor(span.u2_outside_sq, dtype=DTYPE, device=inside.device)).sqrt()


def _diagnostics(batch: _Batch, U0: Tensor, V0: Tensor, u2_norm0: Tensor, width: int | None):
    """The metrics function of :func:`deeplinear.numerics.engine.train`: frozen-component drift
    (relative to ``u2_norm0``), imbalance drift and the v2 rate bound at the current weights
    (the spectrum of width ``width``, see :func:`imbalance_spectrum`)."""
    U1_0 = batch.phi1.transpose(-1, -2) @ U0
    Lambda0_norm = imbalance_norm(U1_0, V0).clamp_min(torch.finfo(DTYPE).tiny)
    m = V0.shape[1]

    def metrics(ws: list[Tensor], beta: Tensor) -> dict[str, Tensor]:
        U_now = ws[0].transpose(-1, -2)
        V_now = ws[1]
        U1 = batch.phi1.transpose(-1, -2) @ U_now
        dU = U_now - U0
        dU_perp = dU - batch.phi1 @ (batch.phi1.transpose(-1, -2) @ dU)  # Phi_2 (U_2 - U_2(0))
        eigs = imbalance_spectrum(U1, V_now, width)
        svals = torch.linalg.svdvals(U1 @ V_now.transpose(-1, -2))
        return {
            "u2_drift": torch.linalg.matrix_norm(dU_perp) / u2_norm0,
            "lambda_drift": imbalance_drift_norm(U1, V_now, U1_0, V0) / Lambda0_norm,
            "v2_bound": v2_rate_bound(eigs, svals, 1.0, batch.rank, m) * batch.lam_r_sigma,
        }

    return metrics


def run_two_layer(
    ctx: JobContext,
    problems: SeedProblems,
    U: np.ndarray,
    V: np.ndarray,
    schedule: Schedule,
    layout: MemberLayout,
    *,
    diagnostics: bool = True,
    span: HiddenSpan | None = None,
) -> xr.Dataset:
    """Train every member (``U`` (E, D, h), ``V`` (E, m, h)) by batched GD and build the dataset;
    ``span``: the members are the exact reduction of wider networks (:func:`hidden_span_reduction`)
    and every recorded value is that of the wider networks."""
    device = ctx.device
    batch = _batch(problems, layout.members_per_seed, device)
    U_t = torch.as_tensor(U, dtype=DTYPE, device=device)
    V_t = torch.as_tensor(V, dtype=DTYPE, device=device)
    weights = [U_t.transpose(-1, -2).contiguous(), V_t]  # W_1 = U^T (h x D), W_2 = V (m x h)
    U1_0 = batch.phi1.transpose(-1, -2) @ U_t
    width = span.width if span is not None else None
    u2_norm0 = _u2_norm0(batch, U_t, span)
    c = rate_constant(imbalance_spectrum(U1_0, V_t, width), batch.rank, V.shape[1])
    loss0 = engine.loss_from_residual(engine.residual(engine.end_to_end(weights), batch.reg))
    excess0 = loss0 - batch.loss_star
    target = schedule.target_absolute
    if schedule.target_relative is not None:
        target = batch.loss_star + schedule.target_relative * excess0
    result = engine.train(
        weights,
        batch.reg,
        schedule.lr,
        schedule.steps,
        log_steps=schedule.log_steps,
        target_loss=target,
        metrics_fn=_diagnostics(batch, U_t, V_t, u2_norm0, width) if diagnostics else (lambda ws, beta: {}),
        progress=ctx.progress_label,
    )
    time = schedule.log_steps * schedule.lr
    bound = theorem1_bound(excess0, c * batch.lam_r_sigma, 1.0, torch.as_tensor(time, dtype=DTYPE, device=device))
    variables = _logged_variables(result, batch, bound, layout)
    variables.update(_final_variables(result, batch, c, U_t, V_t, layout, u2_norm0))
    if diagnostics:
        variables.update(_diagnostic_variables(result, layout))
    return xr.Dataset(variables, coords=_coords(schedule, layout))


def _log_dims(layout: MemberLayout) -> tuple[str, ...]:
    return (*layout.extra_dims, *layout.member_dims, "log_point")


def _per_log(layout: MemberLayout, values, long_name: str, units: str = "1"):
    """(K, E) logged values -> (scan..., outer, inner, K)."""
    lead = (1,) * len(layout.extra_dims)
    values = np.moveaxis(np.asarray(values).reshape(-1, *layout.shape), 0, -1)
    return _log_dims(layout), values.reshape(lead + values.shape), attrs(long_name, units)


def _per_run(layout: MemberLayout, values, long_name: str, units: str = "1"):
    """(E,) per-run values -> (scan..., outer, inner)."""
    lead = (1,) * len(layout.extra_dims)
    values = values.cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    return _log_dims(layout)[:-1], values.reshape(lead + layout.shape), attrs(long_name, units)


def _logged_variables(result, batch: _Batch, bound: Tensor, layout: MemberLayout) -> dict:
    """Loss, excess loss, measured rate and Theorem 1 bound at logged steps."""
    excess = result.metrics["loss"] - batch.loss_star.cpu().numpy()
    variables = {
        "loss": _per_log(layout, result.metrics["loss"], "training loss 1/2 ||Y - X U V^T||_F^2"),
        "excess_loss": _per_log(layout, excess, "excess loss L - L*"),
        "rate": _per_log(
            layout,
            result.metrics["grad_norm_sq"] / np.where(excess > 0, excess, np.nan),
            "instantaneous rate ||grad L||^2 / (L - L*)",
            "1/time",
        ),
        "theorem1_bound": _per_log(
            layout, bound.cpu().numpy().T, "Theorem 1 bound (L(0)-L*) exp(-2 lambda_r(Sigma_x) c t)"
        ),
    }
    return variables


def _diagnostic_variables(result, layout: MemberLayout) -> dict:
    """The v2 rate bound and the drifts of ``U_2`` and of the imbalance at logged steps."""
    metrics = result.metrics
    return {
        "v2_bound": _per_log(layout, metrics["v2_bound"], "v2 Prop. 1 lower bound on the rate", "1/time"),
        "u2_drift": _per_log(layout, metrics["u2_drift"], "||U_2 - U_2(0)|| / ||U_2(0)||"),
        "lambda_drift": _per_log(layout, metrics["lambda_drift"], "||Lambda - Lambda_0||_F / ||Lambda_0||_F"),
    }


def _final_variables(
    result, batch: _Batch, c: Tensor, U0: Tensor, V0: Tensor, layout: MemberLayout, u2_norm0: Tensor
) -> dict:
    """Per-run values: rate constant, optimal loss, outcome, and the end state against the min-norm
    solution and its Prop. 1 prediction."""
    U_end = result.weights[0].transpose(-1, -2)
    V_end = result.weights[1]
    product = U_end @ V_end.transpose(-1, -2)  # (E, D, m)
    U2_0 = batch.phi2.transpose(-1, -2) @ U0
    U2_end = batch.phi2.transpose(-1, -2) @ U_end
    prop1_error = batch.phi2 @ (U2_0 @ V_end.transpose(-1, -2))
    norm = torch.linalg.matrix_norm
    run = lambda values, long_name, units="1": _per_run(layout, values, long_name, units)  # noqa: E731
    return {
        "c": run(c, "imbalance rate constant c = [lambda_r(Lambda0)]_+ + [lambda_m(-Lambda0)]_+"),
        "lambda_r_sigma": run(batch.lam_r_sigma, "lambda_r(Sigma_x), smallest non-zero squared singular value of X"),
        "loss_star": run(batch.loss_star, "optimal loss L*"),
        "status": (*run(result.status, "")[:2], status_attrs()),
        "stop_step": run(result.stop_step, "step at which the run stopped", "step"),
        "distance_to_min_norm": run(norm(product - batch.theta_hat), "||U V^T - Theta_hat||_F at the end"),
        "prop1_error_norm": run(norm(prop1_error), "||Phi_2 U_2(0) V(end)^T||_F (Prop. 1 prediction of the distance)"),
        "init_error_norm": run(norm(U2_0 @ V0.transpose(-1, -2)), "||U_2(0) V(0)^T||_F"),
        "dynamics_error_norm": run(norm(U2_0 @ (V_end - V0).transpose(-1, -2)), DYNAMICS_ERROR_NAME),
        "u2_final_drift": run(norm(U2_end - U2_0) / u2_norm0, "||U_2(end) - U_2(0)|| / ||U_2(0)||"),
    }


def _coords(schedule: Schedule, layout: MemberLayout) -> dict:
    lead = (1,) * len(layout.extra_dims)
    log_steps, time = schedule.log_steps, schedule.log_steps * schedule.lr
    coords = {name: (name, np.asarray(vals)) for name, vals in layout.extra_dims.items()}
    coords.update({name: (name, np.asarray(layout.member_coords[name])) for name in layout.member_dims})
    coords["log_point"] = ("log_point", np.arange(len(log_steps)))
    coords["step"] = (
        (*layout.extra_dims, "log_point"),
        log_steps.reshape(lead + log_steps.shape),
        attrs("GD step", "step"),
    )
    coords["time"] = (
        (*layout.extra_dims, "log_point"),
        time.reshape(lead + time.shape),
        attrs("gradient-flow time t = eta * step", "time"),
    )
    return coords
