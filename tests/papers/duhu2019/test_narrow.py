"""The narrow-net path: exact against the engine on the same draws, scans against direct
products, early stopping that leaves every known median unchanged, and the narrow experiment."""

import numpy as np
import pytest
import torch
import yaml

from conftest import ROOT
from deeplinear.numerics import engine
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019 import experiments, narrow
from deeplinear.papers.duhu2019.analysis import _censored_median_over_seeds
from deeplinear.papers.duhu2019.theory import output_scale, theorem_lr
from deeplinear.pipeline.jobs import job_context
from tests.papers.duhu2019.common import NARROW, SMALL


def _problem():
    X, Y = experiments.make_data(SMALL, Streams(3, "duhu2019"))
    return X, Y, narrow.EigenData.from_data(X, Y, SMALL["rank"])


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_narrow_gd_equals_the_engine_on_the_same_draws(width):
    """Every depth of one batch follows the engine's GD trajectory (float64 round-off only)."""
    X, Y, data = _problem()
    depths = [1, 2, 3, 6]
    nets = [experiments.init_weights(L, width, 4, 1, np.random.default_rng(L)) for L in depths]
    lrs = np.array([theorem_lr(L, 1, data.lam[0]) for L in depths])
    chains = narrow.chains_from_weights(nets, [output_scale(width, L, 1) for L in depths], data)
    ours = []
    for _ in range(40):
        loss, grads = narrow.loss_and_gradients(chains, data)
        ours.append(loss)
        narrow.step(chains, grads, lrs)
    ours = np.array(ours)
    reg = engine.Regression(torch.as_tensor(X)[None], torch.as_tensor(Y)[None])
    for i, (L, ws) in enumerate(zip(depths, nets, strict=True)):
        ref = engine.train(
            [torch.as_tensor(w)[None] for w in ws],
            reg,
            lrs[i],
            39,
            scale=output_scale(width, L, 1),
            log_steps=np.arange(40),
        ).metrics["loss"][:, 0]
        np.testing.assert_allclose(ours[:, i], ref, rtol=1e-12, atol=1e-14)


def test_middle_gradients_equal_direct_products():
    """The rank-one factors of the middle layers' gradients (vector chains) against the gradient
    formula with the suffix and prefix products formed directly, at widths 1 to 4."""
    _, _, data = _problem()
    for width in (1, 2, 3, 4):
        rng = np.random.default_rng(width)
        nets = [experiments.init_weights(L, width, 4, 1, rng) for L in (3, 5, 7)]
        chains = narrow.chains_from_weights(nets, [0.7, 1.0, 1.3], data)
        _, grads = narrow.loss_and_gradients(chains, data)
        full = grads.middle(chains.alpha)  # (K, m, m, E)
        for e, ws in enumerate(nets):
            U, a, middle = ws[0] @ data.basis, ws[-1], ws[1:-1]
            h = a.copy()
            for w in middle[::-1]:
                h = h @ w
            g = data.lam * (chains.alpha[e] * (h @ U)[0] - data.phi)
            q = U @ g
            for k in range(len(middle)):
                suffix, prefix = a.copy(), q.copy()
                for w in middle[k + 1 :][::-1]:
                    suffix = suffix @ w
                for w in middle[:k]:
                    prefix = w @ prefix
                expected = chains.alpha[e] * np.outer(suffix[0], prefix)
                np.testing.assert_allclose(full[k, :, :, e], expected, rtol=1e-12, atol=1e-14)


def _train(early_stop: bool, progress: bool | str = False, check_every: int = 16, seeds: int = 9, race_factor=3.0):
    _, _, data = _problem()
    depths, seeds, factors = [2, 4, 5], range(seeds), [1.0, 4.0]
    nets, alphas, lr, cell = [], [], [], []
    for i, L in enumerate(depths):
        for s in seeds:
            ws = experiments.init_weights(L, 1, 4, 1, np.random.default_rng([L, s]))
            for j, f in enumerate(factors):
                nets.append(ws), alphas.append(1.0), lr.append(f * theorem_lr(L, 1, data.lam[0]))
                cell.append(i * len(factors) + j)
    chains = narrow.chains_from_weights(nets, alphas, data)
    cells = np.asarray(cell)
    result = narrow.train_cells(
        chains,
        data,
        np.asarray(lr),
        cells,
        np.repeat(np.arange(3), 2),
        60000,
        [1e-2, 1e-5],
        early_stop=early_stop,
        progress=progress,
        check_every=check_every,
        race_factor=race_factor,
    )
    return result, cells


def test_early_stopping_keeps_every_known_median_exact():
    """Stopping a cell once its median is known, and racing, change no median that the early-stopped
    run reports as known; the run is shorter."""
    full, cells = _train(early_stop=False)
    fast, _ = _train(early_stop=True)
    assert fast.steps_run < full.steps_run
    hit_full = np.where(full.hit_step[:, -1] >= 0, full.hit_step[:, -1], np.nan)
    hit_fast = np.where(fast.hit_step[:, -1] >= 0, fast.hit_step[:, -1], np.nan)
    known = 0
    for k in np.unique(cells):
        m_fast = _censored_median_over_seeds_np(hit_fast[cells == k])
        if np.isfinite(m_fast):
            known += 1
            assert m_fast == _censored_median_over_seeds_np(hit_full[cells == k])
    assert known >= 3
    # members that converged in the early-stopped run did so at the same step as in the full run
    both = np.isfinite(hit_fast)
    np.testing.assert_array_equal(hit_fast[both], hit_full[both])


def _censored_median_over_seeds_np(values):
    from deeplinear.numerics.stats import censored_median

    return float(censored_median(values, np.isnan(values)))


def test_run_narrow_dataset():
    params = {**experiments.narrow_cases(NARROW)["m_1"], "base_seed": 3}
    ds = experiments.run_narrow(job_context("duhu2019", "narrow", "m_1", params))
    assert ds["depth"].values.tolist() == [1, 2, 3, 4, 5]
    assert ds["t_hit"].dims == ("width", "depth", "seed", "lr_factor", "epsilon")
    # the coarse threshold is reached no later than the fine one
    hit = ds["t_hit"]
    both = hit.notnull().all("epsilon")
    assert bool((hit.sel(epsilon=1e-2) <= hit.sel(epsilon=1e-4)).where(both, True).all())
    np.testing.assert_allclose(ds["t_hit_flow"], ds["t_hit"] * ds["flow_per_step"])
    med = _censored_median_over_seeds(ds["t_hit"].sel(epsilon=1e-4))
    assert np.isfinite(med).any()


def test_narrow_cases_check_their_inputs():
    assert sorted(experiments.narrow_cases(NARROW)) == ["m_1", "m_2"]
    with pytest.raises(ValueError, match="max_depths"):
        experiments.narrow_cases({**NARROW, "max_depths": [5]})
    with pytest.raises(ValueError, match="lr_factors"):
        experiments.narrow_cases({**NARROW, "lr_factors": [1.0, 2.0]})
    # an even seed count's median averages two order statistics: racing at 1x could stop the fastest cell
    with pytest.raises(ValueError, match="race_factor"):
        experiments.narrow_cases({**NARROW, "n_seeds": 8, "race_factor": 1.5})
    assert experiments.narrow_cases({**NARROW, "n_seeds": 9, "race_factor": 1.0})


def test_racing_at_one_with_odd_seeds_keeps_the_fastest_cell_exact():
    """With an odd seed count and race_factor 1 every cell's median is either exact (and equal to
    the full run's) or censored at a stop step that lies below its true median."""
    full, cells = _train(early_stop=False, seeds=9)
    fast, _ = _train(early_stop=True, seeds=9, race_factor=1.0)
    assert fast.steps_run < full.steps_run
    for k in np.unique(cells):
        t_full = np.sort(np.where(full.hit_step[cells == k, -1] >= 0, full.hit_step[cells == k, -1], np.inf))
        hits = fast.hit_step[cells == k, -1]
        if (hits >= 0).sum() >= 5:
            assert np.sort(hits[hits >= 0])[4] == t_full[4]
        else:
            assert t_full[4] > fast.stop_step[cells == k].max()


def test_a_progress_bar_changes_nothing_and_survives_members_leaving():
    """The bar is fed the live members' losses before each step's compaction: a stale loss array
    after members left once crashed the quick narrow job (its m = 1 grid, cut to 3,000 steps, is the
    case: members leave at a step the bar is fed at). With or without the bar, the same numbers."""
    section = {**yaml.safe_load((ROOT / "config.yaml").read_text())["duhu2019"]["quick"]["narrow"], "max_steps": 3000}
    params = {**experiments.narrow_cases(section)["m_1"], "base_seed": 3}
    quiet = experiments.run_narrow(job_context("duhu2019", "narrow", "m_1", params))
    shown = experiments.run_narrow(job_context("duhu2019", "narrow", "m_1", params, progress=True))
    assert quiet.identical(shown)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_compiled_step_equals_the_numpy_formulas_bit_for_bit(width):
    """:func:`narrow.loss_and_step` (the numba kernels, members in blocks) against the numpy
    :func:`narrow.loss_and_gradients` and :func:`narrow.step` over 40 steps of 300 members of depths
    1-11 (three blocks, the last one partial; padded chains; L = 1's fixed ``a``), some step sizes
    diverging: every loss and weight equal bit for bit. Members outside ``below < loss <= above``
    (here: a loss above 10 x its start, or NaN) keep their weights."""
    _, _, data = _problem()
    rng = np.random.default_rng(20 + width)
    depths = [int(L) for L in rng.integers(1, 12, size=300)]
    nets = [experiments.init_weights(L, width, 4, 1, rng) for L in depths]
    alphas = [output_scale(width, L, 1) for L in depths]
    lrs = rng.uniform(0.5, 20.0, size=300) * np.array([theorem_lr(L, 1, data.lam[0]) for L in depths])
    ours, ref = (narrow.chains_from_weights(nets, alphas, data) for _ in range(2))
    above = 10 * narrow.loss_and_gradients(ref, data)[0]
    below = np.full(300, -np.inf)
    frozen = np.zeros(300, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):  # the largest step sizes diverge
        for _ in range(40):
            before = {name: getattr(ours, name).copy() for name in ("U", "middle", "last")}
            loss = narrow.loss_and_step(ours, data, lrs, below, above)
            loss_ref, grads = narrow.loss_and_gradients(ref, data)
            np.testing.assert_array_equal(loss, loss_ref)
            moves = (loss_ref > below) & (loss_ref <= above)
            frozen |= ~moves
            narrow.step(ref, grads, lrs)
            for name in ("U", "middle", "last"):
                expected = np.where(moves, getattr(ref, name), before[name])
                np.testing.assert_array_equal(getattr(ours, name), expected)
                getattr(ref, name)[...] = expected
    assert 10 < frozen.sum() < 290  # both kinds of member were exercised


def test_the_general_kernel_at_width_2_equals_the_written_out_one():
    """``step_wide`` at m = 2 sums in the order of ``step_width2`` (which runs width 2 for speed):
    20 steps of 200 members of depths 1-9 give the same losses and weights bit for bit."""
    from deeplinear.papers.duhu2019 import narrow_kernel

    _, _, data = _problem()
    rng = np.random.default_rng(7)
    depths = [int(L) for L in rng.integers(1, 10, size=200)]
    nets = [experiments.init_weights(L, 2, 4, 1, rng) for L in depths]
    alphas = [output_scale(2, L, 1) for L in depths]
    lrs = np.array([theorem_lr(L, 1, data.lam[0]) for L in depths])
    wide, written = (narrow.chains_from_weights(nets, alphas, data) for _ in range(2))
    low, high = np.full(200, -np.inf), np.full(200, np.inf)
    lam, phi = np.ascontiguousarray(data.lam), np.ascontiguousarray(data.phi)
    for _ in range(20):
        losses = []
        for kernel, c in ((narrow_kernel.step_wide, wide), (narrow_kernel.step_width2, written)):
            loss = np.empty(200)
            kernel(c.U, c.middle, c.mask, c.last, c.last_mask, c.alpha, lam, phi, lrs, low, high, loss)
            losses.append(loss)
        np.testing.assert_array_equal(*losses)
    for name in ("U", "middle", "last"):
        np.testing.assert_array_equal(getattr(wide, name), getattr(written, name))
