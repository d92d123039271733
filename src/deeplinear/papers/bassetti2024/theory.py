"""Bassetti et al. (2024): closed forms exact at finite N (from the Bartlett representation) and the
proportional limit laws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special, stats

# ---- theory (exact at finite N, equal or unequal widths) --------------------------------------


def s_product(widths: Sequence[int]) -> float:
    r""":math:`s = \prod_l (1 + 2/N_l)`, so :math:`E R_{11}^2 = s` and the kurtosis is :math:`3s`."""
    return float(np.prod([1 + 2 / n for n in widths]))


def d_product(widths: Sequence[int]) -> float:
    r""":math:`d = \prod_l (1 - 1/N_l)`."""
    return float(np.prod([1 - 1 / n for n in widths]))


def cross_moments(widths: Sequence[int]) -> dict[str, float]:
    r"""Exact :math:`E R_{11}^2 = s`, :math:`E R_{12}^2 = (s - d)/3`, :math:`E R_{11}R_{22} = (s + 2d)/3`,
    kurtosis :math:`3s` and :math:`\mathrm{Cov}(f_1^2, f_2^2)/(\lambda_* K)^2 = s - 1` (derived)."""
    s, d = s_product(widths), d_product(widths)
    return {"r11_sq": s, "r12_sq": (s - d) / 3, "r11_r22": (s + 2 * d) / 3, "kurtosis": 3 * s, "cov_sq": s - 1}


def standardised_output_moment(widths: Sequence[int], j: int) -> float:
    r""":math:`E z^{2j}` of a standardised output :math:`z = f_1(x_1)/\sqrt{\lambda_* K_{11}}` at finite
    widths: given ``R``, ``z`` is :math:`N(0, R_{11})`, so :math:`E z^{2j} = (2j-1)!!\,E R_{11}^j` and
    :math:`E R_{11}^j = \prod_l E(\chi^2_{N_l}/N_l)^j = \prod_l \prod_{i<j}(1 + 2i/N_l)` (derived)."""
    double_factorial = float(np.prod(np.arange(2 * j - 1, 0, -2))) if j > 0 else 1.0
    return double_factorial * float(np.prod([(1 + 2 * i / n) for n in widths for i in range(j)]))


def kurtosis_standard_error(widths: Sequence[int], n_samples: int) -> float:
    r"""Standard error of the sample kurtosis :math:`\hat k = \overline{z^4}/(\overline{z^2})^2` of
    ``n_samples`` draws, by the delta method with the *exact* moments :math:`\mu_{2j} = E z^{2j}`:

    .. math:: n\,\mathrm{Var}\,\hat k \approx \frac{\mu_8 - \mu_4^2}{\mu_2^4}
              - \frac{4\mu_4(\mu_6 - \mu_4\mu_2)}{\mu_2^5} + \frac{4\mu_4^2(\mu_4 - \mu_2^2)}{\mu_2^6}.

    Unlike a batch-means error of a heavy-tailed statistic it does not depend on the sample, so
    the z-score of the kurtosis is calibrated (tests/test_calibration.py checks it under the exact law).
    """
    m2, m4, m6, m8 = (standardised_output_moment(widths, j) for j in (1, 2, 3, 4))
    var = (m8 - m4**2) / m2**4 - 4 * m4 * (m6 - m4 * m2) / m2**5 + 4 * m4**2 * (m4 - m2**2) / m2**6
    return float(np.sqrt(var / n_samples))


def conditional_second_moment(R: np.ndarray, z1: np.ndarray, which: np.ndarray, n_bins: int) -> np.ndarray:
    r""":math:`E[z_2^2 \mid |z_1| \in \text{bin}]` for two standardised outputs at one input under the
    mixture :math:`z \mid R \sim N(0, R)`, one value per bin (``which``: the bin of each draw), from
    joint draws ``R`` (S, 2, 2) and ``z1`` (S,): the average over the draws in the bin of the exact conditional
    expectation :math:`E[z_2^2 \mid z_1, R] = R_{22} - R_{12}^2/R_{11} + R_{12}^2 z_1^2/R_{11}^2`
    (derived; a Rao-Blackwellised estimate, less noisy than the raw :math:`z_2^2`). Equal to 1 in
    every bin when ``R = I`` (the Gaussian a = 0 limit)."""
    r11, r12, r22 = R[:, 0, 0], R[:, 0, 1], R[:, 1, 1]
    inner = r22 - r12**2 / r11 + (r12 / r11) ** 2 * z1**2
    return np.array([inner[which == b].mean() for b in range(n_bins)])


def log_r11_moments(widths: Sequence[int]) -> tuple[float, float]:
    r""":math:`R_{11} = \prod_l \chi^2_{N_l}/N_l`: mean :math:`\sum_l[\psi(N_l/2) + \log(2/N_l)]`,
    variance :math:`\sum_l \psi'(N_l/2)`."""
    n = np.asarray(widths, dtype=float)
    return float(np.sum(special.digamma(n / 2) + np.log(2 / n))), float(np.sum(special.polygamma(1, n / 2)))


def log_det_moments(widths: Sequence[int], dim: int) -> tuple[float, float]:
    r""":math:`\log\det R = \sum_l \sum_{i=1}^D \log(\chi^2_{N_l - i + 1}/N_l)`: mean and variance."""
    n = np.asarray(widths, dtype=float)[:, None]
    k = n - np.arange(dim)[None, :]
    return float(np.sum(special.digamma(k / 2) + np.log(2 / n))), float(np.sum(special.polygamma(1, k / 2)))


def limit_log_det_moments(a: float, dim: int) -> tuple[float, float]:
    r"""a > 0 limit: :math:`\log\det R_a \sim N(-aD(D+1)/2,\ 2aD)` (derived)."""
    return -a * dim * (dim + 1) / 2, 2 * a * dim


def kurtosis_limit(a: float | np.ndarray) -> float | np.ndarray:
    """Limit kurtosis :math:`3 e^{2a}` of one output."""
    return 3 * np.exp(2 * np.asarray(a, dtype=float))


def _hermite(a: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (scales e^{g/2}) and weights of G ~ N(-a, 2a) by Gauss-Hermite quadrature."""
    t, w = np.polynomial.hermite.hermgauss(n)
    g = -a + np.sqrt(2 * 2 * a) * t
    return np.exp(g / 2), w / np.sqrt(np.pi)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    r""":math:`\Phi(x)` by ``scipy.special.ndtr``: the values of ``scipy.stats.norm.cdf`` (which calls
    it) without that method's argument handling, which costs more than the function on large arrays."""
    return special.ndtr(x)


def limit_cdf(x: np.ndarray, a: float) -> np.ndarray:
    r"""CDF of the a-limit of a standardised output, :math:`\int \Phi(x e^{-g/2})\, dN(-a, 2a)(g)`
    (a = 0: the standard Gaussian)."""
    x = np.asarray(x, dtype=float)
    if a == 0:
        return normal_cdf(x)
    scale, w = _hermite(a)
    return normal_cdf(x[..., None] / scale) @ w


def limit_pdf(x: np.ndarray, a: float) -> np.ndarray:
    """Density of the a-limit of a standardised output (log-normal scale mixture of Gaussians)."""
    x = np.asarray(x, dtype=float)
    if a == 0:
        return stats.norm.pdf(x)
    scale, w = _hermite(a)
    return (stats.norm.pdf(x[..., None] / scale) / scale) @ w


def depth_for(width: int, ratio: float, depth_at_zero: int) -> int:
    """L = round(a N), at least 1; a = 0 means the fixed depth ``depth_at_zero``."""
    return depth_at_zero if ratio == 0 else max(1, round(ratio * width))
