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
    "max_steps": 600,
    "n_seeds": 3,
    "n_log": 20,
    "base_seed": 3,
    "device": "cpu",
}
