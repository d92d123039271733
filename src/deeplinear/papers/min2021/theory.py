"""Min et al. (2021): the imbalance invariant, the Theorem 1 bound, the v2 rate bound and the exact
initial-error law (closed forms on tensors; no data, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported by the functions that compute with it
    from torch import Tensor

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
    import torch

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
    import torch

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


def imbalance_spectrum(U1: Tensor, V: Tensor, width: int | None = None) -> Tensor:
    r"""All ``h`` eigenvalues of :math:`\Lambda = U_1^\top U_1 - V^\top V`, sorted descending.

    :math:`\Lambda = C^\top J C` with :math:`C = [U_1; V]` ((r+m) x h) and
    :math:`J = \mathrm{diag}(I_r, -I_m)` has at most ``r + m`` non-zero eigenvalues, those of the
    symmetric :math:`S^{1/2} J S^{1/2}` with :math:`S = C C^\top`; the rest are zero. Cost
    :math:`O((r+m)^2 h)` instead of :math:`O(h^3)`.

    ``width``: the hidden coordinates are those of a width-``width`` network restricted to an
    orthonormal basis of a subspace holding every row of ``U_1`` and ``V``
    (:func:`deeplinear.papers.min2021.two_layer_gd.hidden_span_reduction`); its spectrum is this
    one padded with ``width - h`` zeros.
    """
    import torch

    r, m, h = U1.shape[-2], V.shape[-2], U1.shape[-1]
    if h <= r + m:  # narrow: the direct eigendecomposition is the cheap one
        eigs = torch.linalg.eigvalsh(imbalance_matrix(U1, V))
    else:
        C = torch.cat([U1, V], dim=-2)
        evals, evecs = torch.linalg.eigh(C @ C.transpose(-1, -2))
        root = evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)  # S^{1/2} up to a rotation
        J = torch.cat([torch.ones(r, dtype=C.dtype, device=C.device), -torch.ones(m, dtype=C.dtype, device=C.device)])
        eigs = torch.linalg.eigvalsh(root.transpose(-1, -2) @ (J.unsqueeze(-1) * root))
    total = max(h, width or 0)
    eigs = torch.cat([eigs, eigs.new_zeros((*eigs.shape[:-1], total - eigs.shape[-1]))], dim=-1)
    return eigs.sort(dim=-1, descending=True).values


def rate_constant(eigs: Tensor, r: int, m: int) -> Tensor:
    r""":math:`c = [\lambda_r(\Lambda)]_+ + [\lambda_m(-\Lambda)]_+` from the descending spectrum."""
    lam_r = eigs[..., r - 1].clamp_min(0)
    lam_m_neg = (-eigs[..., -m]).clamp_min(0)  # m-th largest eigenvalue of -Lambda
    return lam_r + lam_m_neg


def theorem1_bound(excess0: Tensor, c: Tensor, lam_r_sigma: float, time: Tensor) -> Tensor:
    r"""Theorem 1: :math:`(L(0)-L^*)\, e^{-2 \lambda_r(\Sigma_x) c t}`; ``time`` broadcasts last."""
    import torch

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
    import torch

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
