"""Du & Hu (2019): what every experiment starts from: the data, the initial weights, the logged
steps, the hidden layers whose movement is tracked, and the width check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deeplinear.numerics import engine, synthetic_data
from deeplinear.numerics.seeding import Streams
from deeplinear.papers.duhu2019.about import KEY


def make_data(p: Mapping[str, Any], streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n x d_in, samples as rows) of rank ``r`` with :math:`\\lambda(X^\\top X)` from 1 down
    to ``1/condition_number``, and ``Y = X Φ^T`` for Φ with entries ``N(0, 1/d_in)``; one draw per
    ``base_seed``, shared by every depth, width and seed."""
    g = streams.rng("data")
    eig = synthetic_data.geometric_spectrum(p["rank"], p["condition_number"])
    X = synthetic_data.matrix_with_singular_values(p["n_samples"], p["input_dim"], np.sqrt(eig), g)
    phi = synthetic_data.gaussian_matrix(p["output_dim"], p["input_dim"], 1 / np.sqrt(p["input_dim"]), g)
    return X, X @ phi.T


def init_weights(depth: int, width: int, input_dim: int, output_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``W_1`` (m x d_in), ``W_2..W_{L-1}`` (m x m), ``W_L`` (d_out x m), entries ``N(0, 1)``;
    for ``L = 1`` a single ``d_out x d_in`` matrix."""
    dims = [input_dim] + [width] * (depth - 1) + [output_dim]
    return [rng.standard_normal((dims[i + 1], dims[i])) for i in range(depth)]


def check_widths(section: Mapping[str, Any], experiment: str) -> None:
    if min(section["widths"]) < section["output_dim"]:
        raise ValueError(
            f"{KEY}.{experiment}.widths must be >= output_dim ({section['output_dim']}): "
            "narrower nets cannot reach OPT = 0"
        )


MOVEMENT_LAYERS = 4


def movement_layers(depth: int) -> list[int]:
    """Indices of the hidden m x m layers (``W_2..W_{L-1}``) whose movement is tracked: all of
    them up to :data:`MOVEMENT_LAYERS`, else that many evenly spaced (memory: each needs a copy)."""
    hidden = np.arange(1, depth - 1)
    if hidden.size <= MOVEMENT_LAYERS:
        return hidden.tolist()
    return np.unique(np.round(np.linspace(1, depth - 2, MOVEMENT_LAYERS)).astype(int)).tolist()


def log_grid(p: Mapping[str, Any]) -> np.ndarray:
    """The logged steps: ``n_log`` log-spaced steps in ``[0, max_steps]``."""
    return engine.log_spaced_steps(p["max_steps"], p["n_log"])
