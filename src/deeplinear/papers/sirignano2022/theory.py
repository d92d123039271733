"""Sirignano & Spiliopoulos (2022): activations, the limit kernels A and Sigma_G by quadrature, the
random ODE's solution and law, and the exact excess kurtosis at initialisation."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from scipy import linalg

from deeplinear.papers.sirignano2022.about import KEY

C_SECOND_MOMENT = 1 / 3  # E c^2 for c ~ U[-1, 1]
C_FOURTH_MOMENT = 1 / 5  # E c^4

# ---- activations ---------------------------------------------------------------------------------


def activation(name: str) -> tuple[Callable, Callable]:
    """``(sigma, sigma')`` for ``tanh`` or ``sigmoid`` (works on numpy arrays and torch tensors).

    ReLU is refused: Theorem 1.2 needs a smooth bounded activation with bounded derivatives.
    """
    if name == "tanh":
        return _tanh, _tanh_prime
    if name == "sigmoid":
        return _sigmoid, _sigmoid_prime
    if name == "relu":
        raise ValueError(
            f"{KEY}: activation 'relu' is excluded by the theorem (Sirignano & Spiliopoulos need a smooth, "
            "bounded activation with bounded derivatives); use 'tanh' or 'sigmoid'"
        )
    raise ValueError(f"{KEY}: unknown activation {name!r}; use 'tanh' or 'sigmoid'")


def derivative_from_value(name: str) -> Callable:
    """``sigma'`` as a function of ``sigma(u)``: ``1 - s^2`` for tanh, ``s (1 - s)`` for the sigmoid;
    :func:`activation`'s derivatives are these functions of the activation's value, so the same
    bits with one evaluation of the activation fewer per SGD step."""
    activation(name)  # the same refusals
    return _tanh_prime_of_value if name == "tanh" else _sigmoid_prime_of_value


def _torch_of(u):
    """torch if ``u`` is a tensor, else ``None`` (a tensor exists only once torch is imported, so
    this never imports it: the claim and figure jobs use these functions on numpy arrays)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(u, torch.Tensor) else None


def _tanh(u):
    torch = _torch_of(u)
    return torch.tanh(u) if torch is not None else np.tanh(u)


def _tanh_prime_of_value(s):
    return 1 - s**2


def _tanh_prime(u):
    return _tanh_prime_of_value(_tanh(u))


def _sigmoid(u):
    torch = _torch_of(u)
    return torch.sigmoid(u) if torch is not None else 1 / (1 + np.exp(-u))


def _sigmoid_prime_of_value(s):
    return s * (1 - s)


def _sigmoid_prime(u):
    return _sigmoid_prime_of_value(_sigmoid(u))


# ---- the limit -------------------------------------------------------------------------------


def gaussian_pair_expectation(
    f: Callable, g: Callable, var_x: float, var_y: float, cov: float, nodes: int = 80
) -> float:
    r""":math:`E[f(u) g(v)]` for :math:`(u, v)` centred Gaussian with the given covariance, by
    tensor Gauss-Hermite quadrature after a Cholesky factorisation."""
    t, wts = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-t^2/2)
    wts = wts / wts.sum()
    l00 = np.sqrt(var_x)
    l10 = cov / l00
    l11 = np.sqrt(max(var_y - l10**2, 0.0))  # 0 for u = v (a singular, rank-one covariance)
    z1, z2 = np.meshgrid(t, t, indexing="ij")
    u = l00 * z1
    v = l10 * z1 + l11 * z2
    return float(np.einsum("i,j,ij->", wts, wts, f(u) * g(v)))


def limit_kernels(X: np.ndarray, lr: float, act: str) -> tuple[np.ndarray, np.ndarray]:
    r"""``(A, Σ_G)`` (M x M) on the training inputs ``X`` (M x d) for ``W ~ N(0, I)``, ``C ~ U[-1,1]``:
    :math:`\Sigma_G = E c^2\,E[\sigma\sigma']`-type entries as in Theorem 1.2 (quadrature)."""
    sigma, dsigma = activation(act)
    M = X.shape[0]
    gram = X @ X.T
    S = np.empty((M, M))
    D = np.empty((M, M))
    for a in range(M):
        for b in range(a, M):
            S[a, b] = S[b, a] = gaussian_pair_expectation(sigma, sigma, gram[a, a], gram[b, b], gram[a, b])
            D[a, b] = D[b, a] = gaussian_pair_expectation(dsigma, dsigma, gram[a, a], gram[b, b], gram[a, b])
    A = lr / M * (S + C_SECOND_MOMENT * D * gram)
    return A, C_SECOND_MOMENT * S


def ode_solution(A: np.ndarray, y: np.ndarray, h0: np.ndarray, times: np.ndarray) -> np.ndarray:
    r""":math:`h_t = \hat Y + e^{-At}(h_0 - \hat Y)` for each ``t`` (times, ..., M); ``h0`` (..., M)."""
    out = []
    for t in times:
        E = linalg.expm(-A * t)
        out.append(y + (h0 - y) @ E.T)
    return np.stack(out)


def ode_law(A: np.ndarray, y: np.ndarray, sigma_g: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean :math:`(I - e^{-At})\hat Y` (T, M) and covariance :math:`e^{-At}\Sigma_G e^{-At}` (T, M, M)."""
    means, covs = [], []
    for t in times:
        E = linalg.expm(-A * t)
        means.append(y - E @ y)
        covs.append(E @ sigma_g @ E.T)
    return np.stack(means), np.stack(covs)


def expected_loss(A: np.ndarray, y: np.ndarray, sigma_g: np.ndarray, times: np.ndarray) -> np.ndarray:
    r"""Exact expected training loss of the random ODE, in the project's normalisation
    :math:`\ell = \frac{1}{2M}\lVert h_t - \hat Y\rVert^2`: since :math:`h_t - \hat Y = e^{-At}(G - \hat Y)`
    with :math:`G \sim N(0, \Sigma_G)`,

    .. math:: E\,\ell(t) = \frac{1}{2M}\big(\lVert e^{-At}\hat Y\rVert^2 + \mathrm{tr}(e^{-At}\Sigma_G e^{-At})\big)

    (derived here, not quoted; ``A`` is symmetric). Shape (T,)."""
    out = []
    for t in times:
        E = linalg.expm(-A * t)
        out.append((np.sum((E @ y) ** 2) + np.trace(E @ sigma_g @ E.T)) / (2 * len(y)))
    return np.asarray(out)


def loss_rate_bound(loss0: float, lam_min: float, times: np.ndarray) -> np.ndarray:
    r"""Theorem 1.3's rate for the limit: :math:`e^{-2\lambda_{min}(A) t}\,\ell(0)`."""
    return np.exp(-2 * lam_min * times) * loss0  # numpy arrays and xarray objects alike


def init_excess_kurtosis(X: np.ndarray, width: int, act: str) -> np.ndarray:
    r"""Exact excess kurtosis of :math:`g^N_0(x_j)`: a sum of ``N`` iid terms
    :math:`z = c\,\sigma(w\cdot x)/\sqrt N`, so it is :math:`(E c^4 E\sigma^4 - 3(E c^2 E\sigma^2)^2)/(N (E c^2 E\sigma^2)^2)`
    (derived here, not quoted)."""
    sigma, _ = activation(act)
    sq = np.einsum("md,md->m", X, X)
    out = []
    for v in sq:
        m2 = C_SECOND_MOMENT * gaussian_pair_expectation(sigma, sigma, v, v, v)
        m4 = C_FOURTH_MOMENT * gaussian_pair_expectation(lambda u: sigma(u) ** 2, lambda u: sigma(u) ** 2, v, v, v)
        out.append((m4 - 3 * m2**2) / (width * m2**2))
    return np.asarray(out)
