"""Seeding contract: every random stream derives from (base seed, paper, case, width, seed index).

Streams are independent of how many seeds a job batches together, so seed 3 of a width-64 run
is the same whether the job ran 5 or 50 seeds, and identical across machines (numpy PCG64).
"""

from __future__ import annotations

import zlib

import numpy as np


def _label_key(label: str) -> int:
    """Stable 32-bit integer for a string label (crc32; Python's ``hash`` is salted per process)."""
    return zlib.crc32(label.encode("utf-8"))


def seed_sequence(base_seed: int, paper: str, case: str, width: int = 0, seed_index: int = 0) -> np.random.SeedSequence:
    """SeedSequence for one stream, keyed by ``(paper, case, width, seed_index)``.

    ``spawn_key = (crc32(paper), crc32(case), width, seed_index)`` under ``entropy = base_seed``.
    """
    if base_seed < 0 or width < 0 or seed_index < 0:
        raise ValueError("base_seed, width and seed_index must be non-negative")
    key = (_label_key(paper), _label_key(case), int(width), int(seed_index))
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=key)


def rng(base_seed: int, paper: str, case: str, width: int = 0, seed_index: int = 0) -> np.random.Generator:
    """numpy Generator (PCG64) for one stream; see :func:`seed_sequence`."""
    return np.random.Generator(np.random.PCG64(seed_sequence(base_seed, paper, case, width, seed_index)))


def stream_record(base_seed: int, paper: str, case: str, width: int, seed_indices) -> dict:
    """JSON-ready description of the streams a job used, stored in every dataset's attrs."""
    return {
        "base_seed": int(base_seed),
        "paper": paper,
        "case": case,
        "width": int(width),
        "seed_indices": [int(s) for s in seed_indices],
        "scheme": "numpy SeedSequence(entropy=base_seed, spawn_key=(crc32(paper), crc32(case), width, seed_index)), PCG64",
    }
