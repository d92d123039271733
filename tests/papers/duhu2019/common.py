"""Parameters shared by the Du & Hu tests: a tiny phase-diagram section."""

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
    "late_epsilon": 1e-8,
    "width_bands": [1],
    "max_steps": 600,
    "n_seeds": 3,
    "n_log": 20,
    "base_seed": 3,
    "device": "cpu",
}

NARROW = {
    "input_dim": 4,
    "n_samples": 6,
    "output_dim": 1,
    "rank": 3,
    "condition_number": 2.0,
    "widths": [1, 2],
    "max_depths": [5, 4],
    "lr_factors": [1.0, 4.0, 16.0],
    "epsilons": [1e-2, 1e-4],
    "max_steps": 20000,
    "race_factor": 2.0,
    "n_seeds": 8,
    "base_seed": 3,
    "device": "cpu",
}
