r"""Min, Tarmoun, Vidal, Mallada (2021): initialisation, convergence and implicit bias of
overparametrised two-layer linear networks (ICML 2021; arXiv:2105.06351 v2).

Model: :math:`f(x) = V U^\top x` with ``U`` (D x h), ``V`` (m x h), loss
:math:`L = \tfrac12\lVert Y - X U V^\top\rVert_F^2` on ``X`` (n x D, D > n), trained by GD with
small step ``eta`` as a proxy for gradient flow (time ``t = eta * step``). With the SVD
:math:`X = W \Sigma_x^{1/2} \Phi_1^\top`, ``U_1 = Phi_1^T U`` and ``U_2 = Phi_2^T U`` (frozen);
the imbalance :math:`\Lambda = U_1^\top U_1 - V^\top V` is invariant under the flow.

* Theorem 1: :math:`L(t) - L^* \le e^{-2\lambda_r(\Sigma_x) c t}(L(0) - L^*)`,
  :math:`c = [\lambda_r(\Lambda_0)]_+ + [\lambda_m(-\Lambda_0)]_+`.
* v2, Prop. 1: the instantaneous rate bound of :func:`v2_rate_bound`.
* Prop. 1 / Theorem 2: at zero loss :math:`UV^\top - \hat\Theta = \Phi_2 U_2(0) V(\infty)^\top`;
  for init entries :math:`N(0, h^{-2\alpha})` the distance is :math:`O(h^{-(2\alpha - 1/2)})`.

Experiments: ``imbalance`` (the paper's Figure 1: four initialisations, loss against the bound)
and ``implicit_bias`` (Figure 2: distance to the min-norm solution against width ``h``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr
from torch import Tensor

from deeplinear import data, engine, plotting, seeding
from deeplinear.claims import Claim, loglog_slope
from deeplinear.devices import resolve_device
from deeplinear.registry import Experiment, FigureSpec, JobContext, Paper, one_job_per

KEY = "min2021"
REFERENCE = (
    "Min, Tarmoun, Vidal, Mallada, On the Explicit Role of Initialization on the Convergence and "
    "Implicit Bias of Overparametrized Linear Networks, ICML 2021; arXiv:2105.06351 (v2)"
)
DTYPE = torch.float64


# ---- theory ------------------------------------------------------------------------------------


def imbalance_matrix(U1: Tensor, V: Tensor) -> Tensor:
    r"""The imbalance :math:`\Lambda = U_1^\top U_1 - V^\top V` (h x h), batched over members."""
    return U1.transpose(-1, -2) @ U1 - V.transpose(-1, -2) @ V


def _gram_form_norm(F: Tensor, B: Tensor) -> Tensor:
    r""":math:`\lVert F^\top B F\rVert_F` for a thin ``F`` (q x h): :math:`\sqrt{\mathrm{tr}(B S B S)}`,
    :math:`S = F F^\top`, in :math:`O(q^2 h)` time and :math:`O(q^2)` memory (never h x h)."""
    S = F @ F.transpose(-1, -2)
    BS = B @ S
    return (BS * BS.transpose(-1, -2)).sum(dim=(-2, -1)).clamp_min(0).sqrt()


def imbalance_norm(U1: Tensor, V: Tensor) -> Tensor:
    r""":math:`\lVert\Lambda\rVert_F` with :math:`\Lambda = C^\top J C`, :math:`C = [U_1; V]`, without forming Λ."""
    r, m = U1.shape[-2], V.shape[-2]
    J = torch.diag(torch.cat([U1.new_ones(r), -V.new_ones(m)]))
    return _gram_form_norm(torch.cat([U1, V], dim=-2), J)


def imbalance_drift_norm(U1: Tensor, V: Tensor, U1_0: Tensor, V_0: Tensor) -> Tensor:
    r""":math:`\lVert\Lambda - \Lambda_0\rVert_F` without forming h x h matrices.

    With :math:`\Delta U = U_1 - U_{1,0}`, :math:`\Delta V = V - V_0`:
    :math:`\Lambda - \Lambda_0 = U_{1,0}^\top\Delta U + \Delta U^\top U_{1,0} + \Delta U^\top\Delta U
    - (V_0^\top\Delta V + \Delta V^\top V_0 + \Delta V^\top\Delta V) = F^\top B F` with
    :math:`F = [U_{1,0}; \Delta U; V_0; \Delta V]` and a constant block matrix ``B``.
    """
    r, m = U1.shape[-2], V.shape[-2]
    Ir, Im = torch.eye(r, dtype=U1.dtype, device=U1.device), torch.eye(m, dtype=V.dtype, device=V.device)
    Zrm = U1.new_zeros(r, m)
    B = torch.cat(
        [
            torch.cat([torch.zeros_like(Ir), Ir, Zrm, Zrm], dim=1),
            torch.cat([Ir, Ir, Zrm, Zrm], dim=1),
            torch.cat([Zrm.T, Zrm.T, torch.zeros_like(Im), -Im], dim=1),
            torch.cat([Zrm.T, Zrm.T, -Im, -Im], dim=1),
        ]
    )
    F = torch.cat([U1_0, U1 - U1_0, V_0, V - V_0], dim=-2)
    return _gram_form_norm(F, B)


def imbalance_spectrum(U1: Tensor, V: Tensor) -> Tensor:
    r"""All ``h`` eigenvalues of :math:`\Lambda = U_1^\top U_1 - V^\top V`, sorted descending.

    :math:`\Lambda = C^\top J C` with :math:`C = [U_1; V]` ((r+m) x h) and
    :math:`J = \mathrm{diag}(I_r, -I_m)` has at most ``r + m`` non-zero eigenvalues, those of the
    symmetric :math:`S^{1/2} J S^{1/2}` with :math:`S = C C^\top`; the rest are zero. Cost
    :math:`O((r+m)^2 h)` instead of :math:`O(h^3)`.
    """
    r, m, h = U1.shape[-2], V.shape[-2], U1.shape[-1]
    if h <= r + m:  # narrow: the direct eigendecomposition is the cheap one
        return torch.linalg.eigvalsh(imbalance_matrix(U1, V)).flip(-1)
    C = torch.cat([U1, V], dim=-2)
    evals, evecs = torch.linalg.eigh(C @ C.transpose(-1, -2))
    root = evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)  # S^{1/2} up to a rotation
    J = torch.cat([torch.ones(r, dtype=C.dtype, device=C.device), -torch.ones(m, dtype=C.dtype, device=C.device)])
    eigs = torch.linalg.eigvalsh(root.transpose(-1, -2) @ (J.unsqueeze(-1) * root))
    eigs = torch.cat([eigs, eigs.new_zeros((*eigs.shape[:-1], h - r - m))], dim=-1)
    return eigs.sort(dim=-1, descending=True).values


def rate_constant(eigs: Tensor, r: int, m: int) -> Tensor:
    r""":math:`c = [\lambda_r(\Lambda)]_+ + [\lambda_m(-\Lambda)]_+` from the descending spectrum."""
    lam_r = eigs[..., r - 1].clamp_min(0)
    lam_m_neg = (-eigs[..., -m]).clamp_min(0)  # m-th largest eigenvalue of -Lambda
    return lam_r + lam_m_neg


def theorem1_bound(excess0: Tensor, c: Tensor, lam_r_sigma: float, time: Tensor) -> Tensor:
    r"""Theorem 1: :math:`(L(0)-L^*)\, e^{-2 \lambda_r(\Sigma_x) c t}`; ``time`` broadcasts last."""
    return excess0.unsqueeze(-1) * torch.exp(-2.0 * lam_r_sigma * c.unsqueeze(-1) * time)


def v2_rate_bound(eigs: Tensor, svals: Tensor, lam_r_sigma: float, r: int, m: int) -> Tensor:
    r"""v2 Prop. 1 lower bound on the instantaneous rate :math:`-\dot{\tilde L}/\tilde L`.

    .. math:: \lambda_r(\Sigma_x)\big[-\Delta_+ + \sqrt{(\Delta_+ + \Delta)^2 + 4\sigma_m^2(U_1V^\top)}
              - \Delta_- + \sqrt{(\Delta_- + \Delta)^2 + 4\sigma_r^2(U_1V^\top)}\big]

    with :math:`\Delta_+ = [\lambda_1(\Lambda)]_+ - [\lambda_r(\Lambda)]_+`,
    :math:`\Delta_- = [\lambda_1(-\Lambda)]_+ - [\lambda_m(-\Lambda)]_+`,
    :math:`\Delta = [\lambda_r(\Lambda)]_+ + [\lambda_m(-\Lambda)]_+`. ``svals`` are the singular
    values of :math:`U_1 V^\top` (r x m) in descending order; missing ones count as zero.
    """
    pos = eigs.clamp_min(0)
    neg = (-eigs).flip(-1).clamp_min(0)  # spectrum of -Lambda, descending
    delta_plus = pos[..., 0] - pos[..., r - 1]
    delta_minus = neg[..., 0] - neg[..., m - 1]
    delta = pos[..., r - 1] + neg[..., m - 1]

    def sval(k: int) -> Tensor:
        return svals[..., k - 1] if svals.shape[-1] >= k else torch.zeros_like(delta)

    term_out = -delta_plus + torch.sqrt((delta_plus + delta) ** 2 + 4 * sval(m) ** 2)
    term_in = -delta_minus + torch.sqrt((delta_minus + delta) ** 2 + 4 * sval(r) ** 2)
    return lam_r_sigma * (term_out + term_in)


def init_error_norm_expected(input_dim: int, rank: int, output_dim: int, width: np.ndarray, alpha: float) -> np.ndarray:
    r"""Exact :math:`\sqrt{E\lVert U_2(0)V(0)^\top\rVert_F^2} = \sqrt{(D-r)\, m\, h^{1-4\alpha}}`
    for iid :math:`N(0, h^{-2\alpha})` entries (derived here, not quoted)."""
    return np.sqrt((input_dim - rank) * output_dim * np.asarray(width, dtype=float) ** (1 - 4 * alpha))


# ---- shared pieces of both experiments ------------------------------------------------------------


def _stacked_regression(Xs: list[np.ndarray], Ys: list[np.ndarray], repeat: int, device) -> engine.Regression:
    """Per-seed data, each repeated for ``repeat`` consecutive members (member = seed*repeat + j)."""
    X = torch.as_tensor(np.stack(Xs), dtype=DTYPE, device=device).repeat_interleave(repeat, dim=0)
    Y = torch.as_tensor(np.stack(Ys), dtype=DTYPE, device=device).repeat_interleave(repeat, dim=0)
    return engine.Regression(X=X, Y=Y)


def _attrs(long_name: str, units: str = "1", **extra: str) -> dict[str, str]:
    return {"long_name": long_name, "units": units, **extra}


def _status_attrs() -> dict[str, Any]:
    return _attrs(
        "run outcome",
        flag_values=np.array(list(engine.STATUS_CODES.values()), dtype=np.int8),
        flag_meanings=engine.STATUS_FLAG_MEANINGS,
    )


# ---- experiment (i): imbalance against convergence ------------------------------------------------

INIT_BALANCED = "balanced"


def _check_dims(section: Mapping[str, Any], experiment: str) -> None:
    """Cross-field checks the schema cannot express; the message names the offending key."""
    if section["input_dim"] <= section["n_samples"]:
        raise ValueError(
            f"{KEY}.{experiment}.input_dim ({section['input_dim']}) must exceed n_samples "
            f"({section['n_samples']}): the paper's setting is overparametrised, D > n"
        )


def imbalance_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per step-size factor (``1`` = the paper's ``eta``; ``0.5`` for claim M2)."""
    _check_dims(section, "imbalance")
    if not 0 <= section["balanced_like"] < len(section["inits"]):
        raise ValueError(
            f"{KEY}.imbalance.balanced_like ({section['balanced_like']}) must index inits "
            f"(0..{len(section['inits']) - 1})"
        )
    for factor in section["lr_factors"]:
        steps = section["time"] / (section["lr"] * factor)
        if abs(steps - round(steps)) > 1e-6 * steps:
            raise ValueError(f"{KEY}.imbalance.time / (lr * lr_factor={factor}) must be a whole number of steps")
    return one_job_per(section, "lr_factors", "lr_factor", "lr_factor", float)


def _imbalance_inits(p: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``U`` (I, D, h) and ``V`` (I, m, h): ``sigma_U U_0, sigma_V V_0`` per scale pair, then the
    balanced init (``U^T U = V^T V``) with the same product as ``inits[balanced_like]``."""
    D, h, m = p["input_dim"], p["width"], p["output_dim"]
    U0 = rng.standard_normal((D, h))
    V0 = rng.standard_normal((m, h))
    Us = [su * U0 for su, _ in p["inits"]]
    Vs = [sv * V0 for _, sv in p["inits"]]
    su, sv = p["inits"][p["balanced_like"]]
    A, s, Bt = np.linalg.svd(su * sv * U0 @ V0.T, full_matrices=False)  # product D x m
    Q = data.haar_orthonormal(h, m, rng)
    Us.append(A * np.sqrt(s) @ Q.T)
    Vs.append(Bt.T * np.sqrt(s) @ Q.T)
    return np.stack(Us), np.stack(Vs)


def run_imbalance(ctx: JobContext) -> xr.Dataset:
    """Figure 1 of the paper: GD from four initialisations with the same product scale.

    Members are (seed, init) pairs, all advanced in one batched GD. Records, at log-spaced
    times, the excess loss, the Theorem 1 bound, the measured instantaneous rate
    ``||grad||^2 / (L - L*)`` (exact for gradient flow at the current point) against the v2 bound,
    the frozen-component drift ``||U_2 - U_2(0)|| / ||U_2(0)||`` and the imbalance drift
    ``||Lambda - Lambda_0||_F / ||Lambda_0||_F``.
    """
    p = ctx.params
    device = resolve_device(p["device"])
    n, D, m, h = p["n_samples"], p["input_dim"], p["output_dim"], p["width"]
    n_inits = len(p["inits"]) + 1
    seeds = list(range(p["n_seeds"]))
    lr = p["lr"] * p["lr_factor"]
    base_steps = round(p["time"] / p["lr"])
    steps = round(p["time"] / lr)
    log_steps = engine.log_spaced_steps(base_steps, p["n_log"]) * round(steps / base_steps)

    Xs, Ys, Phi1s, Phi2s, Us, Vs = [], [], [], [], [], []
    for s in seeds:
        # data and base init are keyed without the step size: both lr cases see the same draws
        g = seeding.rng(p["base_seed"], KEY, "imbalance", h, s)
        X = data.matrix_with_singular_values(n, D, np.ones(n), g)
        theta = data.gaussian_matrix(D, m, 1 / np.sqrt(D), g)
        Y = X @ theta + data.gaussian_matrix(n, m, p["noise_std"], g)
        U, V = _imbalance_inits(p, g)
        phi1, phi2 = data.row_space_basis(X)
        Xs.append(X), Ys.append(Y), Phi1s.append(phi1), Phi2s.append(phi2), Us.append(U), Vs.append(V)
    return _run_two_layer(
        ctx,
        Xs,
        Ys,
        Phi1s,
        Phi2s,
        np.concatenate(Us),
        np.concatenate(Vs),
        lr=lr,
        steps=steps,
        log_steps=log_steps,
        device=device,
        target_relative=p["stop_relative_loss"],
        members_per_seed=n_inits,
        extra_dims={"lr": [lr]},
        member_dims=("seed", "init"),
        member_coords={"seed": seeds, "init": np.arange(n_inits)},
    ).assign_coords(
        sigma_u=("init", [su for su, _ in p["inits"]] + [np.nan], _attrs("init scale of U")),
        sigma_v=("init", [sv for _, sv in p["inits"]] + [np.nan], _attrs("init scale of V")),
        init_label=("init", [f"σU={su:g}, σV={sv:g}" for su, sv in p["inits"]] + [INIT_BALANCED]),
    )


def _run_two_layer(
    ctx: JobContext,
    Xs: list[np.ndarray],
    Ys: list[np.ndarray],
    Phi1s: list[np.ndarray],
    Phi2s: list[np.ndarray],
    U: np.ndarray,
    V: np.ndarray,
    *,
    lr: float,
    steps: int,
    log_steps: np.ndarray,
    device: torch.device,
    target_relative: float | None,
    target_absolute: float | None = None,
    members_per_seed: int,
    extra_dims: dict[str, list],
    member_dims: tuple[str, str],
    member_coords: dict[str, Any],
    diagnostics: bool = True,
) -> xr.Dataset:
    """Train members ``(seed, j)`` (``U`` (E, D, h), ``V`` (E, m, h)) and build the dataset."""
    m = V.shape[1]
    reg = _stacked_regression(Xs, Ys, members_per_seed, device)
    Phi1 = torch.as_tensor(np.stack(Phi1s), dtype=DTYPE, device=device).repeat_interleave(members_per_seed, 0)
    Phi2 = torch.as_tensor(np.stack(Phi2s), dtype=DTYPE, device=device).repeat_interleave(members_per_seed, 0)
    r = Phi1.shape[-1]
    sig = np.stack([np.linalg.svd(X, compute_uv=False)[:r] ** 2 for X in Xs])  # Sigma_x per seed
    lam_r_sigma = torch.as_tensor(sig[:, -1], dtype=DTYPE, device=device).repeat_interleave(members_per_seed)
    theta_hat = torch.as_tensor(
        np.stack([data.min_norm_solution(X, Y) for X, Y in zip(Xs, Ys, strict=True)]), dtype=DTYPE, device=device
    ).repeat_interleave(members_per_seed, 0)  # (E, D, m)
    loss_star = engine.loss_from_residual(engine.residual(theta_hat.transpose(-1, -2), reg))

    U_t = torch.as_tensor(U, dtype=DTYPE, device=device)
    V_t = torch.as_tensor(V, dtype=DTYPE, device=device)
    weights = [U_t.transpose(-1, -2).contiguous(), V_t]  # W_1 = U^T (h x D), W_2 = V (m x h)
    U1_0 = Phi1.transpose(-1, -2) @ U_t
    U2_0 = Phi2.transpose(-1, -2) @ U_t
    eig0 = imbalance_spectrum(U1_0, V_t)
    c = rate_constant(eig0, r, m)
    Lambda0_norm = imbalance_norm(U1_0, V_t).clamp_min(torch.finfo(DTYPE).tiny)
    loss0 = engine.loss_from_residual(engine.residual(engine.end_to_end(weights), reg))
    excess0 = loss0 - loss_star

    def metrics(ws: list[Tensor], beta: Tensor) -> dict[str, Tensor]:
        if not diagnostics:
            return {}
        U_now = ws[0].transpose(-1, -2)
        V_now = ws[1]
        U1 = Phi1.transpose(-1, -2) @ U_now
        dU = U_now - U_t
        dU_perp = dU - Phi1 @ (Phi1.transpose(-1, -2) @ dU)  # Phi_2 (U_2 - U_2(0))
        eigs = imbalance_spectrum(U1, V_now)
        svals = torch.linalg.svdvals(U1 @ V_now.transpose(-1, -2))
        return {
            "u2_drift": torch.linalg.matrix_norm(dU_perp) / torch.linalg.matrix_norm(U2_0),
            "lambda_drift": imbalance_drift_norm(U1, V_now, U1_0, V_t) / Lambda0_norm,
            "v2_bound": v2_rate_bound(eigs, svals, 1.0, r, m) * lam_r_sigma,
        }

    target = None
    if target_relative is not None:
        target = loss_star + target_relative * excess0
    elif target_absolute is not None:
        target = target_absolute
    result = engine.train(
        weights,
        reg,
        lr,
        steps,
        log_steps=log_steps,
        target_loss=target,
        metrics_fn=metrics,
        progress=f"{KEY}/{ctx.experiment}/{ctx.case}" if ctx.progress else False,
    )
    U_end = result.weights[0].transpose(-1, -2)
    V_end = result.weights[1]
    product = U_end @ V_end.transpose(-1, -2)  # (E, D, m)
    U2_end = Phi2.transpose(-1, -2) @ U_end
    prop1_error = Phi2 @ (U2_0 @ V_end.transpose(-1, -2))

    # ---- assemble: member axis -> (outer, inner), logged axis -> log_point -----------------------
    outer, inner = member_dims
    shape = (len(member_coords[outer]), members_per_seed)
    lead = (1,) * len(extra_dims)  # the job's own scan values, as length-1 dimensions
    run_dims = (*extra_dims, outer, inner)
    log_dims = (*run_dims, "log_point")

    def per_log(values, long_name: str, units: str = "1"):
        """(K, E) logged values -> (scan..., outer, inner, K)."""
        values = np.moveaxis(np.asarray(values).reshape(-1, *shape), 0, -1)
        return log_dims, values.reshape(lead + values.shape), _attrs(long_name, units)

    def per_run(values, long_name: str, units: str = "1"):
        """(E,) per-run values -> (scan..., outer, inner)."""
        values = values.cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
        return run_dims, values.reshape(lead + shape), _attrs(long_name, units)

    def norm(t: Tensor) -> Tensor:
        return torch.linalg.matrix_norm(t)

    time = log_steps * lr
    excess = result.metrics["loss"] - loss_star.cpu().numpy()
    bound = theorem1_bound(excess0, c * lam_r_sigma, 1.0, torch.as_tensor(time, dtype=DTYPE, device=device))
    variables = {
        "loss": per_log(result.metrics["loss"], "training loss 1/2 ||Y - X U V^T||_F^2"),
        "excess_loss": per_log(excess, "excess loss L - L*"),
        "rate": per_log(
            result.metrics["grad_norm_sq"] / np.where(excess > 0, excess, np.nan),
            "instantaneous rate ||grad L||^2 / (L - L*)",
            "1/time",
        ),
        "theorem1_bound": per_log(bound.cpu().numpy().T, "Theorem 1 bound (L(0)-L*) exp(-2 lambda_r(Sigma_x) c t)"),
        "c": per_run(c, "imbalance rate constant c = [lambda_r(Lambda0)]_+ + [lambda_m(-Lambda0)]_+"),
        "lambda_r_sigma": per_run(lam_r_sigma, "lambda_r(Sigma_x), smallest non-zero squared singular value of X"),
        "loss_star": per_run(loss_star, "optimal loss L*"),
        "status": (*per_run(result.status, "")[:2], _status_attrs()),
        "stop_step": per_run(result.stop_step, "step at which the run stopped", "step"),
        "distance_to_min_norm": per_run(norm(product - theta_hat), "||U V^T - Theta_hat||_F at the end"),
        "prop1_error_norm": per_run(
            norm(prop1_error), "||Phi_2 U_2(0) V(end)^T||_F (Prop. 1 prediction of the distance)"
        ),
        "init_error_norm": per_run(norm(U2_0 @ V_t.transpose(-1, -2)), "||U_2(0) V(0)^T||_F"),
        "u2_final_drift": per_run(norm(U2_end - U2_0) / norm(U2_0), "||U_2(end) - U_2(0)|| / ||U_2(0)||"),
    }
    if diagnostics:
        variables["v2_bound"] = per_log(result.metrics["v2_bound"], "v2 Prop. 1 lower bound on the rate", "1/time")
        variables["u2_drift"] = per_log(result.metrics["u2_drift"], "||U_2 - U_2(0)|| / ||U_2(0)||")
        variables["lambda_drift"] = per_log(result.metrics["lambda_drift"], "||Lambda - Lambda_0||_F / ||Lambda_0||_F")
    coords = {name: (name, np.asarray(vals)) for name, vals in extra_dims.items()}
    coords.update({name: (name, np.asarray(member_coords[name])) for name in (outer, inner)})
    coords["log_point"] = ("log_point", np.arange(len(log_steps)))
    coords["step"] = ((*extra_dims, "log_point"), log_steps.reshape(lead + log_steps.shape), _attrs("GD step", "step"))
    coords["time"] = (
        (*extra_dims, "log_point"),
        time.reshape(lead + time.shape),
        _attrs("gradient-flow time t = eta * step", "time"),
    )
    return xr.Dataset(variables, coords=coords)


# ---- experiment (ii): implicit bias against width ---------------------------------------------


def implicit_bias_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per width ``h``; all ``alpha`` values and seeds of a width run batched."""
    _check_dims(section, "implicit_bias")
    return one_job_per(section, "widths", "width", "h")


def run_implicit_bias(ctx: JobContext) -> xr.Dataset:
    """Figure 2 of the paper: distance of the GD limit to the min-norm solution against width.

    Init entries ``N(0, h^{-2 alpha})`` for each ``alpha`` (the same Gaussian draws rescaled),
    ``X`` entries ``N(0, 1/D)``; GD until the loss is below ``target_loss`` or ``max_steps``.
    """
    p = ctx.params
    device = resolve_device(p["device"])
    n, D, m, h = p["n_samples"], p["input_dim"], p["output_dim"], p["width"]
    alphas = [float(a) for a in p["alphas"]]
    seeds = list(range(p["n_seeds"]))
    Xs, Ys, Phi1s, Phi2s, Us, Vs = [], [], [], [], [], []
    for s in seeds:
        g_data = seeding.rng(p["base_seed"], KEY, "implicit_bias-data", 0, s)
        X = data.gaussian_matrix(n, D, 1 / np.sqrt(D), g_data)
        theta = data.gaussian_matrix(D, m, 1 / np.sqrt(D), g_data)
        Y = X @ theta + data.gaussian_matrix(n, m, p["noise_std"], g_data)
        g_init = seeding.rng(p["base_seed"], KEY, "implicit_bias-init", h, s)
        GU, GV = g_init.standard_normal((D, h)), g_init.standard_normal((m, h))
        phi1, phi2 = data.row_space_basis(X)
        Xs.append(X), Ys.append(Y), Phi1s.append(phi1), Phi2s.append(phi2)
        Us.extend(h**-a * GU for a in alphas)
        Vs.extend(h**-a * GV for a in alphas)
    ds = _run_two_layer(
        ctx,
        Xs,
        Ys,
        Phi1s,
        Phi2s,
        np.stack(Us),
        np.stack(Vs),
        lr=p["lr"],
        steps=p["max_steps"],
        log_steps=engine.log_spaced_steps(p["max_steps"], p["n_log"]),
        device=device,
        target_relative=None,
        target_absolute=p["target_loss"],
        members_per_seed=len(alphas),
        extra_dims={"width": [h]},
        member_dims=("seed", "alpha"),
        member_coords={"seed": seeds, "alpha": alphas},
        diagnostics=False,
    )
    ds.attrs.update(input_dim=D, rank=n, output_dim=m)
    # the log grid is the same for every width: keep step/time one-dimensional for combining
    return ds.assign_coords(
        step=("log_point", ds["step"].values[0], ds["step"].attrs),
        time=("log_point", ds["time"].values[0], ds["time"].attrs),
    )


# ---- claims ------------------------------------------------------------------------------------


def _usable(ds: xr.Dataset) -> xr.DataArray:
    """Logged points before each run stopped (frozen values after a stop are not dynamics)."""
    return ds["step"] <= ds["stop_step"]


def check_claims(datasets: Mapping[str, xr.Dataset]) -> list[Claim]:
    """Claims M1-M6 of shared/PAPERS.md P3 from the combined ``imbalance`` and ``implicit_bias``."""
    imb = datasets["imbalance"]
    ib = datasets["implicit_bias"]
    claims: list[Claim] = []
    base = imb.sel(lr=imb["lr"].max())
    diverged = int(
        (imb["status"] == engine.STATUS_CODES[engine.STATUS_DIVERGED]).sum()
        + (ib["status"] == engine.STATUS_CODES[engine.STATUS_DIVERGED]).sum()
    )
    div_note = f"; {diverged} diverged runs" if diverged else ""

    # M1: U_2 frozen
    drift = float(max(imb["u2_drift"].max(), ib["u2_final_drift"].max()))
    claims.append(
        Claim(
            "M1",
            KEY,
            "U_2 = Phi_2^T U is frozen under GD",
            drift,
            0.0,
            1e-12,
            drift <= 1e-12,
            "max over all runs and logged steps of ||U_2(k) - U_2(0)|| / ||U_2(0)||" + div_note,
        )
    )

    # M2: Lambda drift is O(eta): halving eta halves it
    lrs = np.sort(imb["lr"].values)
    if lrs.size >= 2:
        final = imb["lambda_drift"].isel(log_point=-1)
        ratio = (final.sel(lr=lrs[-1]) / final.sel(lr=lrs[0])) * (lrs[0] / lrs[-1]) * 2
        ratios = ratio.values.ravel()
        worst = float(ratios[np.argmax(np.abs(ratios - 2))])
        claims.append(
            Claim(
                "M2",
                KEY,
                "imbalance Lambda is conserved by the flow; GD drift is O(eta)",
                worst,
                2.0,
                "ratio within 2 +/- 0.2",
                bool(np.all(np.abs(ratios - 2) <= 0.2)),
                f"drift(eta)/drift(eta/2) at t={float(imb['time'].isel(log_point=-1).max()):g} per init and seed (worst shown; all: {np.round(ratios, 3).tolist()}), eta ratio {lrs[-1] / lrs[0]:g} rescaled to 2",
            )
        )
    else:
        claims.append(
            Claim(
                "M2",
                KEY,
                "GD drift of Lambda is O(eta)",
                float("nan"),
                2.0,
                "ratio within 2 +/- 0.2",
                False,
                "needs two step sizes (lr_factors) in the imbalance experiment",
            )
        )

    # M3: Theorem 1 bound at every logged step, and the ordering of the inits
    usable = _usable(base)
    ratio = (base["excess_loss"] / base["theorem1_bound"]).where(usable)
    worst = float(ratio.max())
    claims.append(
        Claim(
            "M3",
            KEY,
            "Theorem 1: L(t)-L* <= exp(-2 lambda_r(Sigma_x) c t)(L(0)-L*)",
            worst,
            1.0,
            1.01,
            worst <= 1.01,
            "max over inits, seeds and logged steps (until each run stopped) of (L-L*)/bound; GD with small eta stands in for the flow",
        )
    )
    t_conv = _time_to_fraction(base, 1e-6)  # (seed, init)
    c_mean = base["c"].mean("seed")
    measured_order = np.argsort(t_conv.mean("seed").values)  # fastest first
    predicted_order = np.argsort(-c_mean.values)
    labels = base["init_label"].values
    balanced_slowest = labels[measured_order[-1]] == INIT_BALANCED
    claims.append(
        Claim(
            "M3[ordering]",
            KEY,
            "Theorem 1: more imbalance (larger c) converges faster; balanced slowest",
            " > ".join(labels[measured_order]),
            " > ".join(labels[predicted_order]),
            "same order, balanced last",
            bool(np.array_equal(measured_order, predicted_order) and balanced_slowest),
            "order by mean time to reach 1e-6 of the initial excess loss (fastest first) vs order by c = "
            + ", ".join(f"{lab}: {v:.3g}" for lab, v in zip(labels, c_mean.values, strict=True)),
        )
    )

    # M4: distance to the min-norm solution ~ h^{-(2 alpha - 1/2)}
    dist = ib["distance_to_min_norm"].where(ib["status"] == engine.STATUS_CODES[engine.STATUS_CONVERGED])
    for alpha in ib["alpha"].values:
        d = dist.sel(alpha=alpha).mean("seed")
        fit = loglog_slope(ib["width"].values, d.values)
        predicted = -(2 * alpha - 0.5)
        claims.append(
            Claim(
                f"M4[alpha={alpha:g}]",
                KEY,
                "Theorem 2: ||U V^T - Theta_hat|| = O(h^{-(2 alpha - 1/2)})",
                fit.slope,
                predicted,
                0.05,
                bool(abs(fit.slope - predicted) <= 0.05),
                f"log-log slope of the seed-mean distance over h = {ib['width'].values.tolist()} (slope SE {fit.slope_se:.3g}); converged runs only",
            )
        )

    # M5: c exceeds h^{1 - 2 alpha}
    for alpha in ib["alpha"].values:
        per_width = (ib["c"].sel(alpha=alpha) / ib["width"] ** (1 - 2 * alpha)).min("seed")
        worst = float(per_width.min())
        by_width = ", ".join(
            f"h={int(h)}: {float(v):.3f}" for h, v in zip(ib["width"].values, per_width.values, strict=True)
        )
        claims.append(
            Claim(
                f"M5[alpha={alpha:g}]",
                KEY,
                "Theorem 2 proof: c = lambda_r(Lambda0) + lambda_m(-Lambda0) >= h^{1-2 alpha}",
                worst,
                1.0,
                "min ratio > 1",
                bool(worst > 1),
                f"min over seeds of c / h^(1-2 alpha) per width: {by_width}",
            )
        )

    # M6: v2 instantaneous-rate bound
    ok = (base["rate"] >= base["v2_bound"] * (1 - 1e-9)).where(usable & np.isfinite(base["rate"]))
    frac = float(ok.sum() / np.isfinite(ok).sum())
    claims.append(
        Claim(
            "M6",
            KEY,
            "v2 Prop. 1: -dL~/dt / L~ >= lambda_r(Sigma_x)[...] (margin-based rate)",
            frac,
            0.95,
            "fraction >= 0.95",
            frac >= 0.95,
            "fraction of logged steps (all inits, until each run stopped) where ||grad L||^2/(L-L*) >= bound; the bound is evaluated at the current Lambda",
        )
    )
    return claims


def _time_to_fraction(ds: xr.Dataset, fraction: float) -> xr.DataArray:
    """First logged time at which the excess loss is <= ``fraction`` of its initial value."""
    rel = ds["excess_loss"] / ds["excess_loss"].isel(log_point=0)
    reached = rel <= fraction
    first = reached.argmax("log_point")
    t = ds["time"].isel(log_point=first)
    return t.where(reached.any("log_point"))


# ---- figures -----------------------------------------------------------------------------------


def plot_imbalance(datasets: Mapping[str, xr.Dataset]):
    """Loss against time for the four inits with the Theorem 1 bound; rate against the v2 bound."""
    ds = datasets["imbalance"]
    ds = ds.sel(lr=ds["lr"].max()).isel(seed=0)
    fig, (ax_loss, ax_rate) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for i, color in zip(ds["init"].values, plotting.colors(ds.sizes["init"]), strict=True):
        d = ds.sel(init=i)
        keep = (d["step"] <= d["stop_step"]).values
        t = d["time"].values[keep]
        label = f"{d['init_label'].item()} (c={float(d['c']):.2g})"
        ax_loss.semilogy(t, d["excess_loss"].values[keep], color=color, label=label)
        ax_loss.semilogy(t, d["theorem1_bound"].values[keep], color=color, ls="--", lw=1)
        ax_rate.semilogy(t, d["rate"].values[keep], color=color, label=label)
        ax_rate.semilogy(t, d["v2_bound"].values[keep], color=color, ls="--", lw=1)
    ax_loss.set(xlabel="time t = η·step", ylabel="excess loss L(t) − L*", title="(a) loss; dashed: Theorem 1 bound")
    ax_rate.set(
        xlabel="time t = η·step", ylabel="rate −dL̃/dt / L̃  [1/time]", title="(b) rate; dashed: v2 Prop. 1 bound"
    )
    ax_loss.legend(fontsize=8)
    return fig


def plot_implicit_bias(datasets: Mapping[str, xr.Dataset]):
    """Distance to the min-norm solution against width, per alpha, with the predicted slopes."""
    ds = datasets["implicit_bias"]
    h = ds["width"].values
    fig, (ax, ax_init) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    dims = (int(ds.attrs["input_dim"]), int(ds.attrs["rank"]), int(ds.attrs["output_dim"]))
    for alpha, color in zip(ds["alpha"].values, plotting.colors(ds.sizes["alpha"]), strict=True):
        d = ds["distance_to_min_norm"].sel(alpha=alpha)
        mean, se = d.mean("seed").values, (d.std("seed") / np.sqrt(d.sizes["seed"])).values
        ax.errorbar(h, mean, yerr=se, fmt="o-", color=color, label=f"α={alpha:g}")
        slope = -(2 * alpha - 0.5)
        plotting.power_law_guide(ax, h, mean, slope, f"theory slope {slope:g}", color=color)
        ax.loglog(h, ds["prop1_error_norm"].sel(alpha=alpha).mean("seed"), "x", color=color, ms=7)
        i = ds["init_error_norm"].sel(alpha=alpha)
        ax_init.loglog(h, i.mean("seed"), "s", color=color, label=f"α={alpha:g}")
        ax_init.loglog(h, init_error_norm_expected(*dims, h, alpha), color=color, lw=1)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="width h",
        ylabel="‖U(∞)V(∞)ᵀ − Θ̂‖_F",
        title="(a) distance to min-norm solution\n(x: Prop. 1 error ‖Φ₂U₂(0)V(∞)ᵀ‖)",
    )
    ax_init.set(xlabel="width h", ylabel="‖U₂(0)V(0)ᵀ‖_F", title="(b) init error; line: √((D−r)·m·h^(1−4α))")
    ax.legend(fontsize=7, ncol=2)
    ax_init.legend(fontsize=8)
    return fig


CAPTION_IMBALANCE = (
    "Min et al. (2021), Figure 1 reproduced: GD (step η, time t = η·step) from four initialisations "
    "of a two-layer linear network (D=input dim, h=width, m=1 output) with the same product scale: "
    "three scale pairs (σU, σV) and a balanced init (UᵀU = VᵀV). (a) Excess loss; dashed: the "
    "Theorem 1 bound exp(−2λ_r(Σx)ct)(L(0)−L*) with c from the initial imbalance Λ₀. (b) The "
    "instantaneous rate ‖∇L‖²/(L−L*) against the v2 Prop. 1 margin bound (dashed). More imbalance "
    "(larger c) converges faster; curves end when a run reached its target loss."
)
CAPTION_IMPLICIT_BIAS = (
    "Min et al. (2021), Figure 2 reproduced: distance of the trained product U V^T to the minimum-norm "
    "solution Θ̂ against width h for init entries N(0, h^{−2α}); points are means over seeds ± SE, "
    "dashed lines the Theorem 2 slope −(2α−½) anchored at the data, crosses the exact Prop. 1 "
    "error ‖Φ₂U₂(0)V(∞)ᵀ‖. (b) ‖U₂(0)V(0)ᵀ‖ with its exact mean-square line √((D−r)m h^{1−4α}) "
    "(derived here, not quoted)."
)

PAPER = Paper(
    key=KEY,
    title="Min, Tarmoun, Vidal, Mallada (2021)",
    reference=REFERENCE,
    experiments={
        "imbalance": Experiment(
            "imbalance",
            "width_scaling",
            imbalance_cases,
            run_imbalance,
            "four initialisations against the Theorem 1 bound",
        ),
        "implicit_bias": Experiment(
            "implicit_bias",
            "width_scaling",
            implicit_bias_cases,
            run_implicit_bias,
            "distance to the min-norm solution against width",
        ),
    },
    figures={
        "imbalance": FigureSpec("imbalance", ("imbalance",), plot_imbalance, CAPTION_IMBALANCE),
        "implicit_bias": FigureSpec("implicit_bias", ("implicit_bias",), plot_implicit_bias, CAPTION_IMPLICIT_BIAS),
    },
    check_claims=check_claims,
    claim_ids=("M1", "M2", "M3", "M4", "M5", "M6"),
)
