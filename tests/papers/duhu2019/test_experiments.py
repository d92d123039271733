"""Tests of deeplinear.papers.duhu2019.experiments."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from deeplinear.numerics import engine, run_status
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019 import about, experiments, theory
from deeplinear.pipeline.jobs import job_context

from .common import SMALL


@pytest.fixture(scope="module")
def phase():
    """Depths 1 and 3, widths 1 and 24, small enough to run in seconds."""
    return {
        L: experiments.run_phase_diagram(job_context(about.KEY, "phase_diagram", f"L_{L}", {**SMALL, "depth": L}))
        for L in (1, 3)
    }


def test_data_have_rank_kappa_and_zero_opt():
    X, Y = experiments.make_data(SMALL, Streams(SMALL["base_seed"], about.KEY))
    eig = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    assert np.allclose(eig[:3], [1.0, 2**-0.5, 0.5]) and np.allclose(eig[3:], 0, atol=1e-12)
    theta = np.linalg.lstsq(X, Y, rcond=None)[0]
    assert np.allclose(X @ theta, Y)  # OPT = 0


def test_gram_operator_is_the_gradient_flow_kernel():
    """-d vec(R)/dt = P vec(R): check P vec(R) against the residual change of a tiny GD step."""
    rng = np.random.default_rng(0)
    X, Y = experiments.make_data({**SMALL, "output_dim": 2}, Streams(SMALL["base_seed"], about.KEY))
    ws = [torch.as_tensor(w)[None] for w in experiments.init_weights(3, 5, 4, 2, rng)]
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    scale = theory.output_scale(5, 3, 2)
    P = theory.gram_operator(ws, reg.X, scale)[0]
    R0 = engine.residual(engine.end_to_end(ws, scale), reg)[0]  # (n, d_out)
    h = 1e-7
    ws1 = engine.train(ws, reg, h, 1, scale=scale).weights
    R1 = engine.residual(engine.end_to_end(ws1, scale), reg)[0]
    predicted = -(P @ R0.reshape(-1)).reshape(R0.shape)  # vec in (sample, output) order
    assert torch.allclose((R1 - R0) / h, predicted, rtol=1e-5, atol=1e-8)


def test_gram_operator_approaches_the_wide_limit():
    """P(0) -> (L / d_out) X^T X (x) I as m grows; normalised extremes near 1 at m = 2000."""
    X, _ = experiments.make_data(SMALL, Streams(SMALL["base_seed"], about.KEY))
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    ws = [torch.as_tensor(w)[None] for w in experiments.init_weights(3, 2000, 4, 1, np.random.default_rng(1))]
    P = theory.gram_operator(ws, torch.as_tensor(X)[None], theory.output_scale(2000, 3, 1))
    lo, hi = theory.normalised_gram_extremes(P, 3, 1, 3, lam[2], lam[0])
    assert abs(float(lo) - 1) < 0.15 and abs(float(hi) - 1) < 0.15


def test_gram_operator_stays_finite_at_depth_256():
    """At L = 256, m = 32 the unscaled B_i reach m^255 ~ 1e384 and overflowed (the paper-scale run
    failed in eigvalsh); computed from the rescaled matrices, P is finite with a positive top
    eigenvalue (normalised, about exp(E ln q) ~ e^-8 here: the chi-square product law at this depth)."""
    X, _ = experiments.make_data(SMALL, Streams(SMALL["base_seed"], about.KEY))
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    ws = [torch.as_tensor(w)[None] for w in experiments.init_weights(256, 32, 4, 1, np.random.default_rng(2))]
    P = theory.gram_operator(ws, torch.as_tensor(X)[None], theory.output_scale(32, 256, 1))
    assert torch.isfinite(P).all()
    lo, hi = theory.normalised_gram_extremes(P, 3, 1, 256, lam[2], lam[0])
    assert np.isfinite(float(lo)) and 0 < float(hi) < 1e3


def test_init_output_law_matches_real_networks():
    """Sample mean of q and ln q of real networks vs the exact chi^2 product law, 4 exact SE;
    20000 networks at L = 4, m = 3, d_out = 2."""
    gen = torch.Generator().manual_seed(5)
    log_q = experiments.sample_init_log_outputs(4, 3, 5, 2, 20000, gen).numpy()
    q = np.exp(log_q)
    mom = theory.init_output_moments(3, 4, 2)
    assert abs(q.mean() - 1) <= 4 * np.sqrt(mom["var"] / q.size)
    assert abs(log_q.mean() - mom["log_mean"]) <= 4 * np.sqrt(mom["log_var"] / q.size)
    assert q.var() == pytest.approx(mom["var"], rel=0.15)  # (1 + 2/3)^3 * 2 - 1 = 8.26


def test_init_log_outputs_stay_finite_and_match_the_law_at_depth_256():
    """At L = 256, m = 32 the unnormalised product ||W_{L:1} x||^2 ~ 32^255 = 2^1275 overflows float64;
    the renormalised sampler's mean of ln q matches the exact E ln q within 4 exact SE
    (500 networks; the law's SE is sqrt(Var ln q / n))."""
    gen = torch.Generator().manual_seed(11)
    log_q = experiments.sample_init_log_outputs(256, 32, 8, 1, 500, gen).numpy()
    mom = theory.init_output_moments(32, 256, 1)
    assert np.isfinite(log_q).all()
    assert abs(log_q.mean() - mom["log_mean"]) <= 4 * np.sqrt(mom["log_var"] / log_q.size)


def test_phase_diagram_flags_and_shapes(phase):
    ds = phase[3]
    status = ds["status"].sel(depth=3)
    # the wide net runs only the theorem's step; the other factor is marked not_run
    assert (status.sel(width=24, lr_factor=2.0) == run_status.NOT_RUN).all()
    assert (status.sel(width=24, lr_factor=1.0) == run_status.CONVERGED).all()
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


def test_cases_check_their_inputs():
    with pytest.raises(ValueError, match="output_dim"):
        experiments.phase_diagram_cases({**SMALL, "output_dim": 2})
    with pytest.raises(ValueError, match="cross_check_widths"):
        experiments.cross_check_cases({**SMALL, "output_dim": 2, "widths": [2], "cross_check_widths": [1]})
    with pytest.raises(ValueError, match="depth >= 2"):
        experiments.cross_check_cases({**SMALL, "depths": [1]})
    with pytest.raises(ValueError, match="cross_check_max_depth"):
        experiments.cross_check_cases({**SMALL, "cross_check_max_depth": 2})
    assert sorted(experiments.cross_check_cases({**SMALL, "depths": [1, 2, 4, 8], "cross_check_max_depth": 4})) == [
        "L_2",
        "L_4",
    ]
    with pytest.raises(ValueError, match="lr_factors"):
        experiments.phase_diagram_cases({**SMALL, "lr_factors": [2.0]})
    assert sorted(experiments.phase_diagram_cases(SMALL)) == ["L_1_m_1-24", "L_3_m_1-24"]
    banded = experiments.phase_diagram_cases({**SMALL, "width_bands": [1, 8]})
    assert sorted(banded) == ["L_1_m_1-1", "L_1_m_24-24", "L_3_m_1-1", "L_3_m_24-24"]
    assert banded["L_3_m_24-24"]["widths"] == [24]
    with pytest.raises(ValueError, match="width_bands"):
        experiments.phase_diagram_cases({**SMALL, "width_bands": [2]})
    with pytest.raises(ValueError, match="late_epsilon"):
        experiments.phase_diagram_cases({**SMALL, "late_epsilon": 1e-2})


def test_wide_cells_use_the_reduction_and_say_so():
    """Widths >= reduction_min_width run by the reduction (flag 1), with the same outputs as a
    brute-force cell: converged runs with T_eps inside the cap and finite hidden movement. Widths
    up to NARROW_MAX_WIDTH run by the narrow-net path (flag 2), the others by brute force."""
    params = {**SMALL, "widths": [24, 48, 5000], "reduction_min_width": 1000, "depth": 3}
    ds = experiments.run_phase_diagram(job_context(about.KEY, "phase_diagram", "L_3", params))
    assert ds["method"].sel(depth=3).values.tolist() == [
        experiments.METHOD_NARROW,
        experiments.METHOD_BRUTE_FORCE,
        experiments.METHOD_REDUCTION,
    ]
    wide = ds.sel(depth=3, width=5000, lr_factor=1.0)
    assert (wide["status"] == run_status.CONVERGED).all()
    assert np.all((wide["t_eps"] > 0) & (wide["t_eps"] <= SMALL["max_steps"]))
    assert np.all(np.isfinite(wide["hidden_movement"])) and np.all(np.isnan(wide["gram_min_init"]))
    # movement ~ 1/m: far smaller at m = 5000 than at m = 24
    narrow = ds.sel(depth=3, width=24, lr_factor=1.0)
    assert float(wide["hidden_movement"].mean()) < float(narrow["hidden_movement"].mean()) / 20


@pytest.mark.parametrize("width", [1, 2, 4, 16])
@pytest.mark.parametrize("depth", [2, 3, 6])
def test_narrow_cells_by_scans_follow_the_engine(width, depth):
    """Widths 1, 2, 4 and 16 (at depth 2 a wide cell, m >= 8L, which runs on to late_epsilon):
    the phase-diagram cell by the narrow-net path and by the engine, on the same draws, give the same T_eps, late hits, statuses and stop steps, and the same loss curves
    and hidden movement to 1e-9 relative (the two differ by rounding only). The factors 1, 4 and
    64 give converged, capped and diverged members."""
    p = {**SMALL, "max_steps": 3000, "epsilon": 1e-3, "late_epsilon": 1e-6, "n_seeds": 4}
    streams = Streams(p["base_seed"], about.KEY)
    X, Y = experiments.make_data(p, streams)
    factors = [1.0, 4.0, 64.0]
    scans = experiments.run_cell_narrow(p, X, Y, depth, width, factors, False, streams)
    brute = experiments.run_cell(p, X, Y, depth, width, factors, torch.device("cpu"), False, streams)
    for name in ("status", "t_eps", "t_late", "stop_step"):
        np.testing.assert_array_equal(scans[name], brute[name], err_msg=name)
    for name in ("loss", "movement"):
        np.testing.assert_allclose(scans[name], brute[name], rtol=1e-9, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(scans["gram_min"], brute["gram_min"])
    assert scans["lr"] == brute["lr"]
    codes = set(run_status.CODES.values())
    assert set(np.unique(brute["status"])) <= codes
    if width >= 8 * depth:  # a wide cell: its converged runs went on to late_epsilon
        assert (scans["t_late"] > scans["t_eps"]).any()


def test_cross_check_claim_fails_when_the_methods_differ_in_law():
    """D7 on a cross-check dataset whose reduction times are shifted by 50 % rejects."""
    from deeplinear.papers.duhu2019.claims import d7

    params = {**SMALL, "depths": [3], "cross_check_widths": [8], "cross_check_seeds": 12, "depth": 3}
    ds = experiments.run_cross_check(job_context(about.KEY, "cross_check", "L_3", params))
    ok = d7.evaluate("duhu2019", {"cross_check": ds})[0]
    assert ok.passed, ok
    shifted = ds.copy(deep=True)
    shifted["t_eps"].loc[{"solver": "reduction"}] = shifted["t_eps"].sel(solver="reduction") * 1.5 + 50
    shifted["loss"].loc[{"solver": "reduction"}] = shifted["loss"].sel(solver="reduction") * 3
    bad = d7.evaluate("duhu2019", {"cross_check": shifted})[0]
    assert not bad.passed and bad.measured < 1e-4, bad


def test_experiment_jobs_import_no_scipy():
    """A Du & Hu experiment job loads the paper (claims included) and its runners without scipy
    (about 0.25 s of each job's start-up); the claims import it where they compute with it."""
    code = (
        "import sys\nfrom deeplinear.pipeline import jobs, registry\nregistry.paper('duhu2019')\n"
        "for e in ('phase_diagram', 'narrow', 'cross_check', 'init_statistics'):\n"
        "    registry.experiment('duhu2019', e).run.resolve()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
