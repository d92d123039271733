"""Min et al. (2021): the two experiments as job runners (config section -> cases, params -> Dataset)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from deeplinear.numerics import engine, krylov, synthetic_data
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.min2021.about import DYNAMICS_ERROR_NAME, INIT_BALANCED, KEY, LR_SHARPNESS_NAME
from deeplinear.papers.min2021.theory import (
    imbalance_spectrum,
    rate_constant,
)
from deeplinear.papers.min2021.two_layer_gd import (
    MemberLayout,
    Schedule,
    SeedProblems,
    hidden_span_reduction,
    run_two_layer,
)
from deeplinear.variables import attrs, status_attrs

# ---- experiment (i): imbalance against convergence ------------------------------------------------


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
    if section["width"] < section["n_samples"] + section["output_dim"]:
        raise ValueError(
            f"{KEY}.imbalance.width ({section['width']}) must be >= n_samples + output_dim "
            f"({section['n_samples'] + section['output_dim']}): the rate constant c needs lambda_r of Lambda_0"
        )
    if not 0 <= section["balanced_like"] < len(section["inits"]):
        raise ValueError(
            f"{KEY}.imbalance.balanced_like ({section['balanced_like']}) must index inits "
            f"(0..{len(section['inits']) - 1})"
        )
    factors = section["lr_factors"]
    if len(factors) < 2 or max(factors) != 1.0:
        raise ValueError(
            f"{KEY}.imbalance.lr_factors ({factors}) must hold 1.0 as its largest factor and at least one smaller "
            "one: claims M1, M3 and M6 read the paper's step (factor 1), M2 compares it with a smaller step"
        )
    for factor in section["lr_factors"]:
        steps = section["time"] / (section["lr"] * factor)
        if abs(steps - round(steps)) > 1e-6 * steps:
            raise ValueError(f"{KEY}.imbalance.time / (lr * lr_factor={factor}) must be a whole number of steps")
    return one_job_per(section, "lr_factors", "lr_factor", "lr_factor", float)


def _imbalance_inits(p: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``U`` (I, D, h) and ``V`` (I, m, h): ``sigma_U U_0, sigma_V V_0`` per scale pair, then the
    balanced init (``U^T U = V^T V``) with the same product as ``inits[balanced_like]``.

    The balanced init is balanced in the whole input space R^D. The paper's invariant uses the row
    space of ``X`` only, :math:`\\Lambda_0 = U_1^\\top U_1 - V^\\top V` with :math:`U_1 = \\Phi_1^\\top U`,
    and with D > n the columns of ``U`` leave the row space: that :math:`\\Lambda_0` is not zero,
    only the smallest of the four (claims and captions say so)."""
    D, h, m = p["input_dim"], p["width"], p["output_dim"]
    U0 = rng.standard_normal((D, h))
    V0 = rng.standard_normal((m, h))
    Us = [su * U0 for su, _ in p["inits"]]
    Vs = [sv * V0 for _, sv in p["inits"]]
    su, sv = p["inits"][p["balanced_like"]]
    A, s, Bt = np.linalg.svd(su * sv * U0 @ V0.T, full_matrices=False)  # product D x m
    Q = synthetic_data.haar_orthonormal(h, m, rng)
    Us.append(A * np.sqrt(s) @ Q.T)
    Vs.append(Bt.T * np.sqrt(s) @ Q.T)
    return np.stack(Us), np.stack(Vs)


def run_imbalance(ctx: JobContext) -> xr.Dataset:
    """Figure 1 of the paper: GD from four initialisations with the same product scale.

    Members are (seed, init) pairs, all advanced in one batched GD, each as its exact reduction
    to hidden width ``r + m`` (:func:`~deeplinear.papers.min2021.two_layer_gd.hidden_span_reduction`;
    every recorded value is the width-``h`` network's). Records, at log-spaced
    times, the excess loss, the Theorem 1 bound, the measured instantaneous rate
    ``||grad||^2 / (L - L*)`` (exact for gradient flow at the current point) against the v2 bound,
    the frozen-component drift ``||U_2 - U_2(0)|| / ||U_2(0)||`` and the imbalance drift
    ``||Lambda - Lambda_0||_F / ||Lambda_0||_F``.
    """
    p = ctx.params
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
        g = ctx.streams.rng("imbalance", h, s)
        X = synthetic_data.matrix_with_singular_values(n, D, np.ones(n), g)
        theta = synthetic_data.gaussian_matrix(D, m, 1 / np.sqrt(D), g)
        Y = X @ theta + synthetic_data.gaussian_matrix(n, m, p["noise_std"], g)
        U, V = _imbalance_inits(p, g)
        phi1, phi2 = synthetic_data.row_space_basis(X)
        Xs.append(X), Ys.append(Y), Phi1s.append(phi1), Phi2s.append(phi2), Us.append(U), Vs.append(V)
    U, V, span = hidden_span_reduction(np.concatenate(Us), np.concatenate(Vs), Phi1s, Phi2s, n_inits)
    return run_two_layer(
        ctx,
        SeedProblems(Xs, Ys, Phi1s, Phi2s),
        U,
        V,
        Schedule(lr, steps, log_steps, target_relative=p["stop_relative_loss"]),
        MemberLayout(n_inits, ("seed", "init"), {"seed": seeds, "init": np.arange(n_inits)}, {"lr": [lr]}),
        span=span,
    ).assign_coords(
        sigma_u=("init", [su for su, _ in p["inits"]] + [np.nan], attrs("init scale of U")),
        sigma_v=("init", [sv for _, sv in p["inits"]] + [np.nan], attrs("init scale of V")),
        init_label=("init", [f"σU={su:g}, σV={sv:g}" for su, sv in p["inits"]] + [INIT_BALANCED]),
    )


# ---- experiment (ii): implicit bias against width ---------------------------------------------


BRUTE_KEYS = ("brute_force_widths", "brute_force_seeds")


def implicit_bias_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The exact reduction: one job for every width (every (width, seed, alpha) run is one member
    of a single batched GD in ``r + m_out`` hidden coordinates)."""
    _check_dims(section, "implicit_bias")
    _check_widths(section)
    params = {k: v for k, v in section.items() if k not in BRUTE_KEYS}
    params["widths"] = sorted(set(section["widths"]) | set(section["brute_force_widths"]))
    return {"all": params}


def _check_widths(section: Mapping[str, Any]) -> None:
    """Every width list of the section (both methods run every width of both lists) holds only
    widths ``h >= n + m_out``: the reduction keeps ``r + m_out`` hidden coordinates, and the rate
    constant needs the ``(r + m_out)``-th eigenvalue of the ``h x h`` imbalance."""
    least = section["n_samples"] + section["output_dim"]
    for key in ("widths", "brute_force_widths"):
        if min(section[key]) < least:
            raise ValueError(
                f"{KEY}.implicit_bias.{key} ({section[key]}) must all be >= n_samples + output_dim ({least}): "
                "the reduction keeps r + m_out hidden coordinates"
            )


def implicit_bias_brute_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Brute force (the cross-check): one job per brute-force width, ``brute_force_seeds`` seeds."""
    _check_dims(section, "implicit_bias")
    _check_widths(section)
    params = {k: v for k, v in section.items() if k not in ("widths", "brute_force_seeds")}
    params["n_seeds"] = section["brute_force_seeds"]
    return one_job_per(params, "brute_force_widths", "width", "h")


def _implicit_bias_data(ctx: JobContext, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (entries N(0, 1/D)) and ``Y = X Theta + noise`` of one seed (shared by both methods)."""
    p = ctx.params
    n, D, m = p["n_samples"], p["input_dim"], p["output_dim"]
    g_data = ctx.streams.rng("implicit_bias-data", 0, seed)
    X = synthetic_data.gaussian_matrix(n, D, 1 / np.sqrt(D), g_data)
    theta = synthetic_data.gaussian_matrix(D, m, 1 / np.sqrt(D), g_data)
    return X, X @ theta + synthetic_data.gaussian_matrix(n, m, p["noise_std"], g_data)


def _reduced_members(ctx: JobContext):
    """Every (seed, width, alpha) run as one member of a batch in ``r + m_out`` hidden coordinates,
    seed-major: initial ``alpha`` (E, r, r+m), ``nu`` (E, m, r+m), ``G2`` (E, D-r, r+m), the
    row-space part of the min-norm solution ``Phi_1^T Theta_hat`` (E, r, m), the reduced regression
    ``(X Phi_1, Y)`` with one copy per seed shared by its (width, alpha) members, and the rank ``r``.
    One draw per (width, seed), rescaled for every alpha (as brute force does)."""
    p = ctx.params
    D, m = p["input_dim"], p["output_dim"]
    widths, alphas, seeds = [int(h) for h in p["widths"]], [float(a) for a in p["alphas"]], range(p["n_seeds"])
    per_seed = []
    for s in seeds:
        X, Y = _implicit_bias_data(ctx, s)
        phi1, _ = synthetic_data.row_space_basis(X)
        per_seed.append((X @ phi1, Y, phi1.T @ synthetic_data.min_norm_solution(X, Y)))
    r = per_seed[0][0].shape[1]
    A, N, G2, theta = [], [], [], []
    for s in seeds:
        for h in widths:
            alpha_u, nu_u, g2_u = krylov.sample_two_layer(
                h, r, m, D - r, 1.0, ctx.streams.rng("implicit_bias-krylov", h, s)
            )
            for a in alphas:
                sigma = float(h) ** -a
                A.append(sigma * alpha_u), N.append(sigma * nu_u), G2.append(sigma * g2_u)
                theta.append(per_seed[s][2])
    as_t = lambda arrays: torch.as_tensor(np.stack(arrays), dtype=ctx.dtype, device=ctx.device)  # noqa: E731
    shared = engine.Regression(
        as_t([x for x, _, _ in per_seed]),
        as_t([y for _, y, _ in per_seed]),
        members_per_problem=len(widths) * len(alphas),
    )
    return as_t(A), as_t(N), as_t(G2), as_t(theta), shared, r


def sharpness_bound(reg: engine.Regression, alpha: Tensor, nu: Tensor) -> Tensor:
    r"""Per member, :math:`\sigma_{max}(X\Phi_1)^2 (\lVert\alpha\rVert_2^2 + \lVert\nu\rVert_2^2)` at
    the initial state: it bounds the largest eigenvalue of the Gauss-Newton part of the loss's
    Hessian, :math:`J^\top J` with :math:`J(dU, dV) = X(dU\,V^\top + U\,dV^\top)`, which dominates at
    initialisation. GD with step ``eta`` tracks the gradient flow only while ``eta`` times it is
    well below 2 (at 2 it leaves the linearly stable regime)."""
    data = torch.linalg.matrix_norm(reg.X, ord=2).square().repeat_interleave(reg.members_per_problem)
    return data * (torch.linalg.matrix_norm(alpha, ord=2).square() + torch.linalg.matrix_norm(nu, ord=2).square())


def _width_seed_alpha(values: np.ndarray, n_seeds: int, n_widths: int, n_alphas: int) -> np.ndarray:
    """Per-member values (seed-major members, trailing axes kept) as (width, seed, alpha, ...)."""
    return np.swapaxes(values.reshape(n_seeds, n_widths, n_alphas, *values.shape[1:]), 0, 1)


def _end_state_norms(result, nu0: Tensor, G2: Tensor, theta: Tensor) -> dict[str, Tensor]:
    r"""Per run, in reduced coordinates: the distance to the min-norm solution
    :math:`(\lVert\alpha\nu^\top - \Phi_1^\top\hat\Theta\rVert^2 + \lVert G_2\nu^\top\rVert^2)^{1/2}`, its
    Prop. 1 part :math:`\lVert G_2\nu^\top\rVert`, the initial error :math:`\lVert G_2\nu(0)^\top\rVert`
    and the part training adds, :math:`\lVert G_2(\nu - \nu(0))^\top\rVert`."""
    norm = torch.linalg.matrix_norm
    alpha_end, nu_end = result.weights[0].transpose(-1, -2), result.weights[1]
    in_row_space = norm(alpha_end @ nu_end.transpose(-1, -2) - theta)
    prop1 = norm(G2 @ nu_end.transpose(-1, -2))
    return {
        "distance": (in_row_space.square() + prop1.square()).sqrt(),
        "prop1": prop1,
        "initial": norm(G2 @ nu0.transpose(-1, -2)),
        "trained": norm(G2 @ (nu_end - nu0).transpose(-1, -2)),
    }


def run_implicit_bias(ctx: JobContext) -> xr.Dataset:
    r"""Figure 2 of the paper by the exact two-layer reduction (:func:`deeplinear.numerics.krylov.sample_two_layer`):
    for every width ``h``, seed and ``alpha``, the reduced initial state drawn directly (cost flat
    in ``h``), GD on ``(alpha, nu)`` with data ``X Phi_1`` until the loss is below ``target_loss``
    or ``max_steps``; then :math:`\lVert UV^\top - \hat\Theta\rVert^2 = \lVert\alpha\nu^\top -
    \Phi_1^\top\hat\Theta\rVert^2 + \lVert G_2\nu^\top\rVert^2`. Runs that blow up (a fixed step
    with the init scale h^(1/2 - alpha) growing) are flagged ``diverged``."""
    p = ctx.params
    D, m = p["input_dim"], p["output_dim"]
    widths, alphas, seeds = [int(h) for h in p["widths"]], [float(a) for a in p["alphas"]], range(p["n_seeds"])
    alpha0, nu0, G2, theta, reg, r = _reduced_members(ctx)
    log_steps = engine.log_spaced_steps(p["max_steps"], p["n_log"])
    result = engine.train(
        [alpha0.transpose(-1, -2).clone(), nu0.clone()],
        reg,
        p["lr"],
        p["max_steps"],
        log_steps=log_steps,
        target_loss=p["target_loss"],
        progress=ctx.progress_label,
    )
    norms = _end_state_norms(result, nu0, G2, theta)
    eigs = imbalance_spectrum(alpha0, nu0)  # the non-zero part of the spectrum of Lambda_0
    eigs = torch.cat([eigs, eigs.new_zeros(eigs.shape[0], r + m)], dim=-1).sort(dim=-1, descending=True).values
    layout = (len(seeds), len(widths), len(alphas))
    dims = ("width", "seed", "alpha")

    def per_run(values, long_name: str, units: str = "1"):
        values = values.cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
        return dims, _width_seed_alpha(values, *layout), attrs(long_name, units)

    loss = _width_seed_alpha(np.moveaxis(result.metrics["loss"], 0, -1), *layout)
    variables = {
        "loss": ((*dims, "log_point"), loss, attrs("training loss 1/2 ||Y - X U V^T||_F^2")),
        "c": per_run(
            rate_constant(eigs, r, m), "imbalance rate constant c = [lambda_r(Lambda0)]_+ + [lambda_m(-Lambda0)]_+"
        ),
        "status": (*per_run(result.status, "")[:2], status_attrs()),
        "stop_step": per_run(result.stop_step, "step at which the run stopped", "step"),
        "distance_to_min_norm": per_run(norms["distance"], "||U V^T - Theta_hat||_F at the end"),
        "prop1_error_norm": per_run(norms["prop1"], "||Phi_2 U_2(0) V(end)^T||_F (Prop. 1 prediction of the distance)"),
        "init_error_norm": per_run(norms["initial"], "||U_2(0) V(0)^T||_F"),
        "dynamics_error_norm": per_run(norms["trained"], DYNAMICS_ERROR_NAME),
        "lr_sharpness": per_run(p["lr"] * sharpness_bound(reg, alpha0, nu0), LR_SHARPNESS_NAME),
    }
    coords = {
        "width": np.asarray(widths),
        "seed": np.asarray(list(seeds)),
        "alpha": np.asarray(alphas),
        "log_point": np.arange(len(log_steps)),
        "step": ("log_point", log_steps, attrs("GD step", "step")),
        "time": ("log_point", log_steps * p["lr"], attrs("gradient-flow time t = eta * step", "time")),
    }
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs.update(input_dim=D, rank=r, output_dim=m, method="exact two-layer reduction (r + m_out coordinates)")
    return ds


def run_implicit_bias_brute(ctx: JobContext) -> xr.Dataset:
    """Figure 2 of the paper: distance of the GD limit to the min-norm solution against width.

    Init entries ``N(0, h^{-2 alpha})`` for each ``alpha`` (the same Gaussian draws rescaled),
    ``X`` entries ``N(0, 1/D)``; GD until the loss is below ``target_loss`` or ``max_steps``.
    """
    p = ctx.params
    n, D, m, h = p["n_samples"], p["input_dim"], p["output_dim"], p["width"]
    alphas = [float(a) for a in p["alphas"]]
    seeds = list(range(p["n_seeds"]))
    Xs, Ys, Phi1s, Phi2s, Us, Vs = [], [], [], [], [], []
    for s in seeds:
        X, Y = _implicit_bias_data(ctx, s)
        g_init = ctx.streams.rng("implicit_bias-init", h, s)
        GU, GV = g_init.standard_normal((D, h)), g_init.standard_normal((m, h))
        phi1, phi2 = synthetic_data.row_space_basis(X)
        Xs.append(X), Ys.append(Y), Phi1s.append(phi1), Phi2s.append(phi2)
        Us.extend(h**-a * GU for a in alphas)
        Vs.extend(h**-a * GV for a in alphas)
    ds = run_two_layer(
        ctx,
        SeedProblems(Xs, Ys, Phi1s, Phi2s),
        np.stack(Us),
        np.stack(Vs),
        Schedule(
            p["lr"],
            p["max_steps"],
            engine.log_spaced_steps(p["max_steps"], p["n_log"]),
            target_absolute=p["target_loss"],
        ),
        MemberLayout(len(alphas), ("seed", "alpha"), {"seed": seeds, "alpha": alphas}, {"width": [h]}),
        diagnostics=False,
    )
    ds.attrs.update(input_dim=D, rank=n, output_dim=m)
    # the log grid is the same for every width: keep step/time one-dimensional for combining
    return ds.assign_coords(
        step=("log_point", ds["step"].values[0], ds["step"].attrs),
        time=("log_point", ds["time"].values[0], ds["time"].attrs),
    )


# ---- cost model inputs (see deeplinear.pipeline.cost) ---------------------------------------------------


def imbalance_cost(p: Mapping[str, Any]) -> JobCost:
    """t / eta steps of a two-layer net for each init and seed, at the width of its exact reduction,
    ``min(h, n + m)`` (the rank of X is n)."""
    steps = p["time"] / (p["lr"] * p["lr_factor"])
    runs = (len(p["inits"]) + 1) * p["n_seeds"]
    width = min(p["width"], p["n_samples"] + p["output_dim"])
    size = width * (p["input_dim"] + p["n_samples"] + p["output_dim"])
    return JobCost(work=runs * steps * size, memory_bytes=8 * 4 * runs * size)


def implicit_bias_steps(p: Mapping[str, Any]) -> float:
    r"""Steps until the slowest run reaches ``target_loss``, from Theorem 1's rate, capped at
    ``max_steps``: :math:`\ln(L_0/\text{target}) / (2\eta\lambda_r(\Sigma_x) c)` with
    :math:`L_0 \approx n m / 2`, :math:`\lambda_r \approx (1 - \sqrt{n/D})^2` (the smallest
    squared singular value of an n x D matrix with N(0, 1/D) entries) and the smallest
    :math:`c \ge h^{1 - 2\alpha}` of the grid (the bound M5 checks). An estimate for the cost model
    (the batch runs until its slowest member stops)."""
    n, D, m = p["n_samples"], p["input_dim"], p["output_dim"]
    lam = max((1 - np.sqrt(n / D)) ** 2, 1e-3)
    c = min(float(h) ** (1 - 2 * a) for h in p["widths"] for a in p["alphas"])
    steps = np.log(max(n * m / 2 / p["target_loss"], np.e)) / (2 * p["lr"] * lam * c)
    return float(min(p["max_steps"], steps))


def implicit_bias_cost(p: Mapping[str, Any]) -> JobCost:
    """The exact reduction: per (seed, alpha, width) a state of n x (n + m) and a product with the
    seed's shared n x n data, for :func:`implicit_bias_steps` steps."""
    runs = p["n_seeds"] * len(p["alphas"]) * len(p["widths"])
    n = p["n_samples"]
    return JobCost(work=runs * implicit_bias_steps(p) * n * n, memory_bytes=8 * 4 * runs * n * (n + p["output_dim"]))


def implicit_bias_brute_cost(p: Mapping[str, Any]) -> JobCost:
    """Brute force: width-h two-layer nets, for :func:`implicit_bias_steps` steps."""
    runs = p["n_seeds"] * len(p["alphas"])
    size = p["width"] * (p["input_dim"] + p["n_samples"])
    steps = implicit_bias_steps({**p, "widths": [p["width"]]})
    return JobCost(work=runs * steps * size, memory_bytes=8 * 4 * runs * size)
