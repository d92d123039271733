"""Progress bars predict the end of a run that stops at a target loss, not its step cap."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear.numerics.progress import fraction_done


def test_a_linearly_converging_run_is_halfway_at_half_its_steps():
    # loss = r^t, target 1e-6 reached at t = 1000; the cap (10^6 steps) would say 0.05 %
    rate = 1e-6 ** (1 / 1000)
    for t in (100, 500, 900):
        assert fraction_done(t, 10**6, [1.0], [rate**t], [1e-6]) == pytest.approx(t / 1000, rel=1e-9)


def test_the_slowest_running_member_sets_the_fraction():
    loss0 = np.array([1.0, 1.0])
    assert fraction_done(10, 10**6, loss0, [1e-5, 1e-2], [1e-6, 1e-6]) == pytest.approx(1 / 3)


def test_without_a_target_or_running_members_the_step_cap_or_the_end():
    assert fraction_done(250, 1000, [1.0], [0.5], [1.0]) == pytest.approx(0.25)  # target = loss(0): no target
    assert fraction_done(10, 1000, [], [], []) == 1.0
    assert fraction_done(10, 1000, [1.0], [np.inf], [1e-6]) == pytest.approx(0.01)  # a diverging value


def test_the_bar_shows_the_step_while_the_fraction_stands_still():
    """A member stuck on a plateau keeps the fraction at 0; the bar must still say how far it ran."""
    import io

    from deeplinear.numerics.progress import TargetProgress

    out = io.StringIO()
    bar = TargetProgress(10_000_000, "plateau", "run", mininterval=0.0, file=out)
    for step in (10, 20, 30):
        bar.update(step, loss0=[1.0], loss=[1.0], target=[1e-6])
    assert bar.bar.n == 0 and "step 30" in out.getvalue()
    bar.close()
