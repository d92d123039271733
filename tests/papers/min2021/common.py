"""Helpers shared by the Min et al. tests: a small problem and plain GD on it."""

from types import SimpleNamespace

import numpy as np
import torch

from deeplinear.numerics import engine, synthetic_data


def setup_problem(rng, n=5, D=20, h=30, m=2, init_std=0.5):
    X = synthetic_data.matrix_with_singular_values(n, D, np.linspace(1.0, 0.5, n), rng)
    Y = rng.standard_normal((n, m))
    U = init_std * rng.standard_normal((D, h))
    V = init_std * rng.standard_normal((m, h))
    phi1, phi2 = synthetic_data.row_space_basis(X)
    reg = engine.Regression(torch.tensor(X)[None], torch.tensor(Y)[None])
    return SimpleNamespace(X=X, Y=Y, U=U, V=V, phi1=torch.tensor(phi1), phi2=torch.tensor(phi2), reg=reg)


def train(U, V, reg, lr, time, target=None):
    steps = round(time / lr)
    res = engine.train([torch.tensor(U.T)[None], torch.tensor(V)[None]], reg, lr, steps, target_loss=target)
    return res.weights[0][0].T, res.weights[1][0], res
