"""Du & Hu (2019): the theorem's model, the Gram operator, the init law and the phase diagram."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplinear import engine
from deeplinear.papers import duhu2019 as D
from deeplinear.registry import JobContext

SMALL = {
    "input_dim": 4,
    "n_samples": 6,
    "output_dim": 1,
    "rank": 3,
    "condition_number": 2.0,
    "depths": [1, 3],
    "widths": [1, 24],
    "lr_factors": [1.0, 2.0],
    "narrow_max_width": 1,
    "epsilon": 1e-4,
    "max_steps": 600,
    "n_seeds": 3,
    "n_log": 20,
    "base_seed": 3,
    "device": "cpu",
}


def test_data_have_rank_kappa_and_zero_opt():
    X, Y = D.make_data(SMALL)
    eig = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    assert np.allclose(eig[:3], [1.0, 2**-0.5, 0.5]) and np.allclose(eig[3:], 0, atol=1e-12)
    theta = np.linalg.lstsq(X, Y, rcond=None)[0]
    assert np.allclose(X @ theta, Y)  # OPT = 0


def test_alpha_and_step_follow_the_theorem():
    assert D.output_scale(4, 3, 2) == pytest.approx(1 / np.sqrt(4**2 * 2))
    assert D.theorem_lr(5, 2, 3.0) == pytest.approx(2 / 45)
    assert D.theorem_rate(0.1, 4, 0.5, 1) == pytest.approx(1 - 0.05)


def test_gram_operator_is_the_gradient_flow_kernel():
    """-d vec(R)/dt = P vec(R): check P vec(R) against the residual change of a tiny GD step."""
    rng = np.random.default_rng(0)
    X, Y = D.make_data({**SMALL, "output_dim": 2})
    ws = [torch.as_tensor(w)[None] for w in D.init_weights(3, 5, 4, 2, rng)]
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    scale = D.output_scale(5, 3, 2)
    P = D.gram_operator(ws, reg.X, scale)[0]
    R0 = engine.residual(engine.end_to_end(ws, scale), reg)[0]  # (n, d_out)
    h = 1e-7
    ws1 = engine.train(ws, reg, h, 1, scale=scale).weights
    R1 = engine.residual(engine.end_to_end(ws1, scale), reg)[0]
    predicted = -(P @ R0.reshape(-1)).reshape(R0.shape)  # vec in (sample, output) order
    assert torch.allclose((R1 - R0) / h, predicted, rtol=1e-5, atol=1e-8)


def test_gram_operator_approaches_the_wide_limit():
    """P(0) -> (L / d_out) X^T X (x) I as m grows; normalised extremes near 1 at m = 2000."""
    X, _ = D.make_data(SMALL)
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    ws = [torch.as_tensor(w)[None] for w in D.init_weights(3, 2000, 4, 1, np.random.default_rng(1))]
    P = D.gram_operator(ws, torch.as_tensor(X)[None], D.output_scale(2000, 3, 1))
    lo, hi = D.normalised_gram_extremes(P, 3, 1, 3, lam[2], lam[0])
    assert abs(float(lo) - 1) < 0.15 and abs(float(hi) - 1) < 0.15


def test_init_output_law_matches_real_networks():
    """Sample mean of q and ln q of real networks vs the exact chi^2 product law, 4 exact SE;
    20000 networks at L = 4, m = 3, d_out = 2."""
    gen = torch.Generator().manual_seed(5)
    q = D.sample_init_outputs(4, 3, 5, 2, 20000, gen).numpy()
    mom = D.init_output_moments(3, 4, 2)
    assert abs(q.mean() - 1) <= 4 * np.sqrt(mom["var"] / q.size)
    assert abs(np.log(q).mean() - mom["log_mean"]) <= 4 * np.sqrt(mom["log_var"] / q.size)
    assert q.var() == pytest.approx(mom["var"], rel=0.15)  # (1 + 2/3)^3 * 2 - 1 = 8.26


def test_chi2_log_mean_closed_form():
    rng = np.random.default_rng(2)
    draws = rng.chisquare(5, 400000) / 5
    assert np.log(draws).mean() == pytest.approx(D.chi2_log_mean(5), abs=4 * np.log(draws).std() / 632)


@pytest.fixture(scope="module")
def phase():
    """Depths 1 and 3, widths 1 and 24, small enough to run in seconds."""
    return {L: D.run_phase_diagram(JobContext(D.KEY, "phase_diagram", f"L_{L}", {**SMALL, "depth": L})) for L in (1, 3)}


def test_phase_diagram_flags_and_shapes(phase):
    ds = phase[3]
    status = ds["status"].sel(depth=3)
    # the wide net runs only the theorem's step; the other factor is marked not_run
    assert (status.sel(width=24, lr_factor=2.0) == D.STATUS_NOT_RUN).all()
    assert (status.sel(width=24, lr_factor=1.0) == engine.STATUS_CODES[engine.STATUS_CONVERGED]).all()
    t = ds["t_eps"].sel(depth=3, width=24, lr_factor=1.0)
    assert np.all((t > 0) & (t <= SMALL["max_steps"]))
    # T_eps is the first logged-or-not step with loss <= eps loss(0): loss at the logged step
    # just before T_eps is above the target
    rel = ds["loss"] / ds["loss"].isel(log_point=0)
    for s in range(3):
        ts = float(t.isel(seed=s))
        before = rel.sel(depth=3, width=24, lr_factor=1.0).isel(seed=s).where(ds["step"] < ts, drop=True)
        assert float(before.min()) > SMALL["epsilon"]
    # L = 1: every width is the same network
    l1 = phase[1]["t_eps"].sel(depth=1, lr_factor=1.0)
    assert np.array_equal(l1.sel(width=1).values, l1.sel(width=24).values)


def test_capped_and_diverged_runs_are_data_not_errors():
    """A tiny cap marks runs capped; a huge step marks them diverged; the job still finishes."""
    capped = D.run_phase_diagram(JobContext(D.KEY, "phase_diagram", "L_3", {**SMALL, "depth": 3, "max_steps": 3}))
    assert (capped["status"].sel(lr_factor=1.0) == engine.STATUS_CODES[engine.STATUS_CAPPED]).all()
    assert capped["t_eps"].sel(lr_factor=1.0).isnull().all()
    wild = {**SMALL, "depth": 3, "lr_factors": [1.0, 5000.0]}
    diverged = D.run_phase_diagram(JobContext(D.KEY, "phase_diagram", "L_3", wild))
    assert (diverged["status"].sel(width=1, lr_factor=5000.0) == engine.STATUS_CODES[engine.STATUS_DIVERGED]).all()
    assert np.isinf(D.median_t_eps(diverged, 5000.0).sel(depth=3, width=1))


def test_cases_check_their_inputs():
    with pytest.raises(ValueError, match="output_dim"):
        D.phase_diagram_cases({**SMALL, "output_dim": 2})
    with pytest.raises(ValueError, match="lr_factors"):
        D.phase_diagram_cases({**SMALL, "lr_factors": [2.0]})
    assert sorted(D.phase_diagram_cases(SMALL)) == ["L_1", "L_3"]
