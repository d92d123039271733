"""Sirignano & Spiliopoulos (2022): data, the network, batch-one SGD and the two experiments as job
runners."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor
from tqdm.auto import tqdm

from deeplinear.numerics import engine, seeding
from deeplinear.numerics.seeding import Streams
from deeplinear.paper_api import JobContext, JobCost, one_job_per
from deeplinear.papers.sirignano2022.about import KEY
from deeplinear.papers.sirignano2022.theory import (
    activation,
    derivative_from_value,
    init_excess_kurtosis,
    limit_kernels,
    ode_solution,
)
from deeplinear.variables import attrs, status_attrs

# ---- data and the network ---------------------------------------------------------------------------


def make_data(p: Mapping[str, Any], streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """``M`` unit-norm inputs in distinct directions (Gaussian directions, normalised) and targets
    ``Ŷ ~ U[-1, 1]``; one draw per ``base_seed``."""
    g = streams.rng("data")
    X = g.standard_normal((p["n_train"], p["input_dim"]))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, g.uniform(-1, 1, p["n_train"])


def init_params(
    n_seeds: int, width: int, input_dim: int, streams: Streams, stream: str
) -> tuple[np.ndarray, np.ndarray]:
    """``C`` (S, N) ~ U[-1, 1] and ``W`` (S, N, d) ~ N(0, 1), one stream per (width, seed)."""
    Cs, Ws = [], []
    for s in range(n_seeds):
        g = streams.rng(stream, width, s)
        Cs.append(g.uniform(-1, 1, width))
        Ws.append(g.standard_normal((width, input_dim)))
    return np.stack(Cs), np.stack(Ws)


def network_outputs(C: Tensor, W: Tensor, X: Tensor, sigma: Callable) -> Tensor:
    r""":math:`g^N(x_j) = N^{-1/2}\sum_i C^i\sigma(W^i\cdot x_j)` for every seed and input, (S, M)."""
    pre = W @ X.T  # (S, N, M)
    return (C.unsqueeze(-1) * sigma(pre)).sum(-2) / np.sqrt(C.shape[-1])


def sgd(
    C: Tensor,
    W: Tensor,
    X: Tensor,
    y: Tensor,
    samples: Tensor,
    lr: float,
    act: str,
    log_steps: np.ndarray,
    progress: bool | str = False,
) -> dict[str, np.ndarray]:
    r"""Batch-one SGD of every seed at once, in place; no autograd.

    Step ``k`` uses the sample ``samples[:, k]`` (S, steps) of each seed:
    :math:`e = y_j - g(x_j)`, :math:`C \mathrel{+}= \eta e\,\sigma(Wx_j)`,
    :math:`W \mathrel{+}= \eta e\,(C \odot \sigma'(Wx_j))\,x_j^\top` with
    :math:`\eta = \alpha N^{-3/2}` and the pre-step ``C`` in the ``W`` update. Records ``h``
    (S, M) on the whole training set at ``log_steps``. Cost ``O(S N d)`` per step.
    """
    sigma, _ = activation(act)
    dsigma_of_value = derivative_from_value(act)
    n_seeds, width = C.shape
    eta = lr * width**-1.5
    rsqrt = width**-0.5
    xs = X[samples]  # (S, steps, d)
    ys = y[samples]  # (S, steps)
    log_set = {int(s): i for i, s in enumerate(log_steps)}
    h = np.empty((len(log_steps), n_seeds, X.shape[0]))
    steps = int(log_steps.max())
    for k in tqdm(range(steps + 1), disable=not progress, desc=progress or "SGD", mininterval=2.0, unit="step"):
        if k in log_set:
            h[log_set[k]] = network_outputs(C, W, X, sigma).cpu().numpy()
        if k == steps:
            break
        x = xs[:, k]  # (S, d)
        pre = torch.bmm(W, x.unsqueeze(-1)).squeeze(-1)  # (S, N)
        act_v = sigma(pre)
        err = ys[:, k] - (C * act_v).sum(-1) * rsqrt  # (S,)
        scaled = (eta * err).unsqueeze(-1)
        gate = C * dsigma_of_value(act_v) * scaled  # uses the pre-step C
        C.add_(act_v * scaled)
        W.baddbmm_(gate.unsqueeze(-1), x.unsqueeze(1))
    return {"h": h}


# ---- experiment (i): SGD against the random ODE -------------------------------------------------------


def _check(section: Mapping[str, Any], experiment: str) -> None:
    activation(section["activation"])  # refuses relu with the theorem's reason
    if section["input_dim"] < 2 and section["n_train"] > 1:
        raise ValueError(
            f"{KEY}.{experiment}.input_dim must be >= 2 for n_train = {section['n_train']}: unit-norm inputs in one "
            "dimension are +1 or -1, so the training points cannot have distinct directions and the limit "
            "kernel A is singular (the theorem's convergence claims S5 need lambda_min(A) > 0)"
        )


def sgd_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job per width ``N``; all seeds of a width batched. ``seeds_by_width`` (optional) sets
    ``n_seeds`` of the widths it names; a job sees only its own count."""
    _check(section, "sgd")
    by_width = {int(n): int(s) for n, s in (section.get("seeds_by_width") or {}).items()}
    unknown = sorted(set(by_width) - {int(n) for n in section["widths"]})
    if unknown:
        raise ValueError(f"{KEY}.sgd.seeds_by_width names widths {unknown} that are not in widths {section['widths']}")
    cases = one_job_per({k: v for k, v in section.items() if k != "seeds_by_width"}, "widths", "width", "N")
    for params in cases.values():
        params["n_seeds"] = by_width.get(params["width"], params["n_seeds"])
    return cases


def _train(ctx: JobContext, C0, W0, X_np, y_np, samples: Tensor, log_steps: np.ndarray):
    """Final ``C``, ``W`` (numpy) and the logged outputs ``h`` (T, S, M): on the CPU by the compiled
    kernel (:mod:`.sgd_kernel`), on a GPU by the torch loop :func:`sgd`; the same trajectories to
    rounding."""
    p = ctx.params
    if ctx.device.type == "cpu":
        from deeplinear.papers.sirignano2022 import sgd_kernel  # numba only where SGD runs

        C, W = np.array(C0, dtype=np.float64), np.array(W0, dtype=np.float64)
        rec = sgd_kernel.sgd(C, W, X_np, y_np, samples.numpy(), p["lr"], p["activation"], log_steps, ctx.progress_label)
        return C, W, rec["h"]
    C = torch.as_tensor(C0, dtype=ctx.dtype, device=ctx.device).clone()
    W = torch.as_tensor(W0, dtype=ctx.dtype, device=ctx.device).clone()
    X = torch.as_tensor(X_np, dtype=ctx.dtype, device=ctx.device)
    y = torch.as_tensor(y_np, dtype=ctx.dtype, device=ctx.device)
    rec = sgd(C, W, X, y, samples, p["lr"], p["activation"], log_steps, ctx.progress_label)
    return C.cpu().numpy(), W.cpu().numpy(), rec["h"]


def run_sgd(ctx: JobContext) -> xr.Dataset:
    """SGD for ``⌊TN⌋`` steps on every seed; ``h^N_t`` on the training set at logged times, the
    paired ODE solution from each run's own ``h^N_0``, the loss and the parameter movement."""
    p = ctx.params
    device = ctx.device
    N, S, act = p["width"], p["n_seeds"], p["activation"]
    X_np, y_np = make_data(p, ctx.streams)
    steps = int(np.floor(p["time"] * N))
    log_steps = np.unique(np.round(np.linspace(0, steps, p["n_log"])).astype(np.int64))
    C0, W0 = init_params(S, N, p["input_dim"], ctx.streams, "init")
    sample_rng = ctx.streams.rng("samples", N)
    gen = seeding.torch_generator(sample_rng, device)
    samples = torch.randint(0, p["n_train"], (S, max(steps, 1)), generator=gen, device=device)
    C, W, h = _train(ctx, C0, W0, X_np, y_np, samples, log_steps)
    times = log_steps / N
    A, sigma_g = limit_kernels(X_np, p["lr"], act)
    paired = ode_solution(A, y_np, h[0], times)  # (T, S, M)
    dims = ("width", "log_point", "seed", "train")
    loss = 0.5 * np.mean((h - y_np) ** 2, axis=-1)  # (T, S)
    variables = {
        "status": (("width", "seed"), engine.fixed_horizon_status(loss.T)[None], status_attrs("ran ⌊TN⌋ steps")),
        "h": (dims, h[None], attrs("network output h^N_t(x_j) on the training set")),
        "h_ode": (dims, paired[None], attrs("random ODE solution from the run's own h^N_0")),
        "loss": (
            ("width", "log_point", "seed"),
            loss[None],
            attrs("training loss (1/2M) sum_j (h_t(x_j) - y_j)^2"),
        ),
        "c_movement": (("width", "seed"), np.abs(C - C0).max(-1)[None], attrs("max_i |C^i_T - C^i_0|")),
        "w_movement": (
            ("width", "seed"),
            np.linalg.norm(W - W0, axis=-1).max(-1)[None],
            attrs("max_i ||W^i_T - W^i_0||"),
        ),
        "A": (("train", "train_"), A, attrs("limit kernel A (quadrature)", "1/time")),
        "sigma_g": (("train", "train_"), sigma_g, attrs("init covariance Sigma_G (quadrature)")),
        "y": (("train",), y_np, attrs("targets Y-hat")),
    }
    coords = {
        "width": [N],
        "log_point": np.arange(len(log_steps)),
        "seed": np.arange(S),
        "train": np.arange(p["n_train"]),
        "train_": np.arange(p["n_train"]),
        # k/N on a rounded step grid differs slightly between widths: time is per width
        "time": (("width", "log_point"), times[None], attrs("time t = k / N", "time")),
    }
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs.update(activation=act)
    return ds


# ---- experiment (ii): the law of g^N_0 -------------------------------------------------------------


def init_law_cases(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One job for every width of the init-law scan (each width costs milliseconds)."""
    _check(section, "init_law")
    return {"all": dict(section)}


def excess_kurtosis_with_se(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Excess kurtosis :math:`m_4/m_2^2 - 3` of each column of ``samples`` (n, M) (central sample
    moments) and its standard error by the delta method with the sample moments,
    :math:`n\,\mathrm{Var} \approx (m_8 - m_4^2)/m_2^4 - 4m_4(m_6 - m_4m_2)/m_2^5 + 4m_4^2(m_4 - m_2^2)/m_2^6`
    (the law of g_0 is symmetric, so odd moments vanish). For the bounded outputs at small N the
    Gaussian value sqrt(24/n) would overstate the error by about 1.7."""
    z = samples - samples.mean(0)
    m2, m4, m6, m8 = (np.mean(z**k, axis=0) for k in (2, 4, 6, 8))
    var = (m8 - m4**2) / m2**4 - 4 * m4 * (m6 - m4 * m2) / m2**5 + 4 * m4**2 * (m4 - m2**2) / m2**6
    return m4 / m2**2 - 3, np.sqrt(var / len(z))


def run_init_law(ctx: JobContext) -> xr.Dataset:
    """``n_samples`` independent networks per width: sample covariance of ``g^N_0`` on the
    training set with entrywise standard errors, and the excess kurtosis of each output."""
    p = ctx.params
    X_np, _ = make_data(p, ctx.streams)
    sigma, _ = activation(p["activation"])
    _, sigma_g = limit_kernels(X_np, 1.0, p["activation"])
    X = torch.as_tensor(X_np, dtype=ctx.dtype)
    cov, cov_se, kurt, kurt_se, kurt_pred = [], [], [], [], []
    for N in p["widths"]:
        g = ctx.streams.rng("init_law", N)
        gen = seeding.torch_generator(g)
        C = torch.rand(p["n_samples"], N, generator=gen, dtype=ctx.dtype) * 2 - 1
        W = torch.randn(p["n_samples"], N, X_np.shape[1], generator=gen, dtype=ctx.dtype)
        out = network_outputs(C, W, X, sigma).numpy()  # (n, M)
        prods = out[:, :, None] * out[:, None, :]
        cov.append(prods.mean(0))
        cov_se.append(prods.std(0, ddof=1) / np.sqrt(len(out)))
        k, k_se = excess_kurtosis_with_se(out)
        kurt.append(k), kurt_se.append(k_se)
        kurt_pred.append(init_excess_kurtosis(X_np, N, p["activation"]))
    variables = {
        "cov": (("width", "train", "train_"), np.stack(cov), attrs("sample E g_0(x) g_0(x')")),
        "cov_se": (("width", "train", "train_"), np.stack(cov_se), attrs("standard error of cov")),
        "kurtosis": (("width", "train"), np.stack(kurt), attrs("sample excess kurtosis of g_0(x_j)")),
        "kurtosis_se": (
            ("width", "train"),
            np.stack(kurt_se),
            attrs("standard error of the excess kurtosis (delta method with the sample moments)"),
        ),
        "kurtosis_pred": (("width", "train"), np.stack(kurt_pred), attrs("exact excess kurtosis (derived)")),
        "sigma_g": (("train", "train_"), sigma_g, attrs("Sigma_G (quadrature)")),
    }
    ds = xr.Dataset(
        variables,
        coords={"width": np.asarray(p["widths"]), "train": np.arange(p["n_train"]), "train_": np.arange(p["n_train"])},
    )
    ds.attrs.update(n_samples=p["n_samples"])
    return ds


# ---- cost model inputs (see deeplinear.pipeline.cost) ---------------------------------------------------


def sgd_cost(p: Mapping[str, Any]) -> JobCost:
    """floor(T N) sequential SGD steps over N neurons, for every seed."""
    n = p["width"]
    return JobCost(
        work=p["n_seeds"] * p["time"] * n * n * p["input_dim"], memory_bytes=8 * 4 * p["n_seeds"] * n * p["input_dim"]
    )


def init_law_cost(p: Mapping[str, Any]) -> JobCost:
    """``n_samples`` networks at init per width."""
    work = p["n_samples"] * sum(p["widths"]) * p["n_train"] * p["input_dim"]
    return JobCost(work=work, memory_bytes=8 * 2 * p["n_samples"] * max(p["widths"]) * p["n_train"])
