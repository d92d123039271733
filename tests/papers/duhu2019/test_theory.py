"""Tests of deeplinear.papers.duhu2019.theory."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear.papers.duhu2019 import theory


def test_alpha_and_step_follow_the_theorem():
    assert theory.output_scale(4, 3, 2) == pytest.approx(1 / np.sqrt(4**2 * 2))
    assert theory.theorem_lr(5, 2, 3.0) == pytest.approx(2 / 45)
    assert theory.theorem_rate(0.1, 4, 0.5, 1) == pytest.approx(1 - 0.05)


def test_chi2_log_mean_closed_form():
    rng = np.random.default_rng(2)
    draws = rng.chisquare(5, 400000) / 5
    assert np.log(draws).mean() == pytest.approx(theory.chi2_log_mean(5), abs=4 * np.log(draws).std() / 632)
