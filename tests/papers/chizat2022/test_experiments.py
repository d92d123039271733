"""Tests of deeplinear.papers.chizat2022.experiments."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear.numerics.seeding import Streams
from deeplinear.papers.chizat2022 import about, experiments, theory

PARAMS = {"n_samples": 3, "input_dim": 5, "output_dim": 2, "condition_number": 3.0, "lr": 0.25, "base_seed": 7}


@pytest.fixture(scope="module")
def problem() -> theory.Problem:
    return experiments.make_problem(PARAMS, Streams(PARAMS["base_seed"], about.KEY))


def test_problem_has_the_requested_spectrum(problem):
    eig = np.linalg.eigvalsh(problem.sigma)[::-1]
    assert np.allclose(eig[:3], [1.0, 3**-0.5, 1 / 3]) and np.allclose(eig[3:], 0, atol=1e-12)
    # beta* = C Sigma^+ minimises the risk and lies in the row space
    assert np.allclose(problem.beta_star @ problem.sigma, problem.C)
    assert np.allclose(problem.beta_star @ problem.row_projector, problem.beta_star)


def test_cases_split_the_shared_block():
    section = {
        **PARAMS,
        "steps": 10,
        "widths": [1000, 16],
        "brute_force_widths": [8, 16],
        "n_seeds": 2,
        "word_length": 2,
        "truncation_margins": [3, 10],
    }
    fw = experiments.finite_width_cases(section)
    assert list(fw) == ["all"] and fw["all"]["widths"] == [8, 16, 1000]  # the sampler meets brute force
    assert "truncation_margins" not in fw["all"] and "brute_force_widths" not in fw["all"]
    bf = experiments.brute_force_cases(section)
    assert sorted(bf) == ["m_16", "m_8"] and bf["m_8"]["width"] == 8 and "widths" not in bf["m_8"]
    (limit,) = experiments.limit_cases(section).values()
    assert "widths" not in limit and "n_seeds" not in limit
    with pytest.raises(ValueError, match="truncation_margins"):
        experiments.limit_cases({**section, "truncation_margins": [1, 3]})
