"""Tests of deeplinear.papers.sirignano2022.experiments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplinear.numerics.seeding import Streams
from deeplinear.papers.sirignano2022 import about, experiments, theory

P = {"n_train": 3, "input_dim": 3, "activation": "tanh", "base_seed": 11}


def test_relu_is_refused_with_the_theorems_reason():
    with pytest.raises(ValueError, match="excluded by the theorem"):
        theory.activation("relu")
    with pytest.raises(ValueError, match="excluded by the theorem"):
        experiments.sgd_cases({**P, "activation": "relu", "widths": [10]})


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_quadrature_kernels_match_monte_carlo(act):
    """A and Sigma_G by quadrature vs 400000 Monte Carlo draws of (c, w); 4 SE per entry."""
    X, _ = experiments.make_data(P, Streams(P["base_seed"], about.KEY))
    A, sigma_g = theory.limit_kernels(X, 2.0, act)
    sigma, dsigma = theory.activation(act)
    rng = np.random.default_rng(0)
    n = 400000
    w = rng.standard_normal((n, 3))
    c = rng.uniform(-1, 1, n)
    pre = w @ X.T
    f_g = (c[:, None] * sigma(pre))[:, :, None] * sigma(pre)[:, None, :] * c[:, None, None]
    f_a = (
        2.0
        / 3
        * (
            sigma(pre)[:, :, None] * sigma(pre)[:, None, :]
            + (c**2)[:, None, None] * dsigma(pre)[:, :, None] * dsigma(pre)[:, None, :] * (X @ X.T)
        )
    )
    for exact, draws in ((sigma_g, f_g), (A, f_a)):
        assert np.all(np.abs(draws.mean(0) - exact) <= 4 * draws.std(0) / np.sqrt(n))
    assert np.linalg.eigvalsh(A).min() > 0  # distinct directions, non-polynomial sigma


def test_ode_solution_solves_the_ode():
    X, y = experiments.make_data(P, Streams(P["base_seed"], about.KEY))
    A, _ = theory.limit_kernels(X, 3.0, "tanh")
    h0 = np.array([0.3, -0.2, 0.1])
    t = np.array([0.5, 0.5 + 1e-6])
    h = theory.ode_solution(A, y, h0, t)
    assert np.allclose((h[1] - h[0]) / 1e-6, A @ (y - h[0]), atol=1e-5)
    assert np.allclose(theory.ode_solution(A, y, h0, np.array([200.0]))[0], y)


def test_one_sgd_step_is_the_papers_update():
    X, y = experiments.make_data(P, Streams(P["base_seed"], about.KEY))
    rng = np.random.default_rng(1)
    N, alpha = 7, 0.8
    C0, W0 = rng.uniform(-1, 1, N), rng.standard_normal((N, 3))
    j = 2
    x = X[j]
    g = (C0 * np.tanh(W0 @ x)).sum() / np.sqrt(N)
    eta = alpha / N / np.sqrt(N)
    C_want = C0 + eta * (y[j] - g) * np.tanh(W0 @ x)
    W_want = W0 + eta * (y[j] - g) * (C0 * (1 - np.tanh(W0 @ x) ** 2))[:, None] * x[None, :]
    C, W = torch.as_tensor(C0)[None].clone(), torch.as_tensor(W0)[None].clone()
    experiments.sgd(C, W, torch.as_tensor(X), torch.as_tensor(y), torch.tensor([[j]]), alpha, "tanh", np.array([0, 1]))
    assert np.allclose(C[0].numpy(), C_want) and np.allclose(W[0].numpy(), W_want)


def test_init_kurtosis_formula_matches_sampling():
    """Excess kurtosis of g_0 at N = 1 (largest): 400000 draws, 4 SE (SE ~ sqrt(24/n) x 1.5)."""
    X, _ = experiments.make_data(P, Streams(P["base_seed"], about.KEY))
    rng = np.random.default_rng(2)
    n = 400000
    g = rng.uniform(-1, 1, n) * np.tanh(rng.standard_normal((n, 3)) @ X[0])
    kurt = ((g - g.mean()) ** 4).mean() / g.var() ** 2 - 3
    assert abs(kurt - theory.init_excess_kurtosis(X, 1, "tanh")[0]) <= 4 * 1.5 * np.sqrt(24 / n)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("width", [7, 64])
def test_compiled_kernel_follows_the_torch_loop_on_the_same_draws(act, width):
    """The CPU kernel and the torch loop (the CUDA path) run the same SGD: over 4N steps from the
    same draws and samples their outputs and weights agree to rounding (the two tanh differ in the
    last bit; relative 1e-11 leaves room for its growth over the steps)."""
    from deeplinear.papers.sirignano2022 import sgd_kernel

    streams = Streams(P["base_seed"], about.KEY)
    X, y = experiments.make_data({**P, "n_train": 4}, streams)
    C0, W0 = experiments.init_params(5, width, 3, streams, "init")
    steps = 4 * width
    samples = torch.randint(0, 4, (5, steps), generator=torch.Generator().manual_seed(3))
    log_steps = np.array([0, steps // 3, steps])
    C_t, W_t = torch.as_tensor(C0).clone(), torch.as_tensor(W0).clone()
    ref = experiments.sgd(C_t, W_t, torch.as_tensor(X), torch.as_tensor(y), samples, 20.0, act, log_steps)
    C, W = C0.copy(), W0.copy()
    new = sgd_kernel.sgd(C, W, X, y, samples.numpy(), 20.0, act, log_steps)
    np.testing.assert_allclose(new["h"], ref["h"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(C, C_t.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(W, W_t.numpy(), rtol=1e-11, atol=1e-13)
    assert not np.allclose(C, C0)  # it trained


def test_seed_blocks_do_not_change_a_seeds_trajectory(monkeypatch):
    """Seeds run in cache-sized blocks; a seed's numbers do not depend on the block it is in."""
    from deeplinear.papers.sirignano2022 import sgd_kernel

    streams = Streams(P["base_seed"], about.KEY)
    X, y = experiments.make_data({**P, "n_train": 4}, streams)
    C0, W0 = experiments.init_params(6, 32, 3, streams, "init")
    samples = np.random.default_rng(1).integers(0, 4, (6, 100))
    runs = []
    for cache in (1, sgd_kernel.CACHE_BYTES):  # one seed per block, then all six in one
        monkeypatch.setattr(sgd_kernel, "CACHE_BYTES", cache)
        C, W = C0.copy(), W0.copy()
        runs.append(sgd_kernel.sgd(C, W, X, y, samples, 20.0, "tanh", np.array([0, 100]))["h"])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_seeds_by_width_sets_each_jobs_seed_count():
    """``seeds_by_width`` gives the named widths their own seed count; a width not in the grid is refused."""
    section = {**P, "lr": 10.0, "time": 1.0, "widths": [20, 40], "n_seeds": 32, "n_log": 3}
    cases = experiments.sgd_cases({**section, "seeds_by_width": {40: 8}})
    assert {name: p["n_seeds"] for name, p in cases.items()} == {"N_20": 32, "N_40": 8}
    assert all("seeds_by_width" not in p for p in cases.values())
    with pytest.raises(ValueError, match="not in widths"):
        experiments.sgd_cases({**section, "seeds_by_width": {80: 8}})


def test_a_width_with_fewer_seeds_joins_the_grid(tmp_path):
    """The smoke grid with 8 of 32 seeds at its widest width: the combined dataset pads that width
    with NaN, its 8 seeds are the first 8 of a 32-seed run (streams do not depend on the count),
    S2/S3 fit all three widths, S4/S5 test the widths with 32 seeds, and the figures draw."""
    from conftest import smoke_config
    from deeplinear.papers.sirignano2022 import PAPER
    from deeplinear.papers.sirignano2022.analysis import distance_to_ode, law_widths, seed_counts
    from deeplinear.pipeline import dataset, jobs

    config = {**smoke_config(), "min_job_seconds": 0}
    section = config[about.KEY][config["scale"]]["sgd"]
    widest = max(section["widths"])
    full = jobs.job_table(config)[(about.KEY, "sgd", f"N_{widest}")]
    section["seeds_by_width"] = {widest: 8}
    table = {k: j for k, j in jobs.job_table(config).items() if k[:2] == (about.KEY, "sgd")}
    ds = dataset.combine_cases([jobs.run_job(job, tmp_path / f"{k[2]}.nc") for k, job in table.items()])
    assert seed_counts(ds).values.tolist() == [32, 32, 8]
    assert law_widths(ds).tolist() == sorted(section["widths"])[:2]
    reference = dataset.read_dataset(jobs.run_job(full, tmp_path / "full.nc"))
    np.testing.assert_array_equal(
        ds["h"].sel(width=widest).isel(seed=slice(0, 8)), reference["h"].isel(width=0, seed=slice(0, 8))
    )
    assert ds["h"].sel(width=widest).isel(seed=slice(8, None)).isnull().all()
    sgd_claims = [c for c in PAPER.claims if c.id in ("S2", "S3", "S4", "S5", "S5[bound]")]
    records = {r.id: r for check in sgd_claims for r in check.evaluate(about.KEY, {"sgd": ds})}
    assert all(np.isfinite(float(r.measured)) for r in records.values())
    distance = distance_to_ode(ds).sel(width=widest)
    assert int(distance.count()) == 8  # the padded seeds are missing, not zero distances
    own = distance_to_ode(reference).isel(width=0, seed=slice(0, 8))
    assert float(distance.mean()) == pytest.approx(float(own.mean()), rel=1e-12)
    means = distance_to_ode(ds).mean("seed").values
    slope = np.polyfit(np.log(ds["width"].values), np.log(means), 1)[0]
    assert float(records["S2"].measured) == pytest.approx(slope, rel=1e-9)  # S2 fits these seed means
    assert f"N = {sorted(section['widths'])[1]} (the largest width with the most seeds), 32 seeds" in records["S4"].note
    for figure in ("ode_distance", "law", "movement", "loss"):
        jobs.draw_figure(about.KEY, figure, {"sgd": ds})
