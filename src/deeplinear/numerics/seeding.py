"""Seeding contract: every random stream derives from (base seed, paper, label, width, seed index).

Streams are independent of how many seeds a job batches together, so seed 3 of a width-64 run
is the same whether the job ran 5 or 50 seeds, and identical across machines (numpy PCG64).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: How a stream's numbers follow from its key (recorded in every dataset's ``seeds_json``).
SCHEME = "numpy SeedSequence(entropy=base_seed, spawn_key=(crc32(paper), crc32(label), width, seed_index)), PCG64"


def _label_key(label: str) -> int:
    """Stable 32-bit integer for a string label (crc32; Python's ``hash`` is salted per process)."""
    return zlib.crc32(label.encode("utf-8"))


def seed_sequence(
    base_seed: int, paper: str, label: str, width: int = 0, seed_index: int = 0
) -> np.random.SeedSequence:
    """SeedSequence for one stream, keyed by ``(paper, label, width, seed_index)``.

    ``spawn_key = (crc32(paper), crc32(label), width, seed_index)`` under ``entropy = base_seed``;
    ``label`` names what the stream is for (e.g. ``"init"``, ``"implicit_bias-data"``).
    """
    if base_seed < 0 or width < 0 or seed_index < 0:
        raise ValueError("base_seed, width and seed_index must be non-negative")
    key = (_label_key(paper), _label_key(label), int(width), int(seed_index))
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=key)


def rng(base_seed: int, paper: str, label: str, width: int = 0, seed_index: int = 0) -> np.random.Generator:
    """numpy Generator (PCG64) for one stream; see :func:`seed_sequence`."""
    return np.random.Generator(np.random.PCG64(seed_sequence(base_seed, paper, label, width, seed_index)))


class Streams:
    """The random streams of one job, keyed under its ``(base_seed, paper)``.

    Runners ask for a stream by ``(label, width, seed_index)`` (:meth:`rng`); every stream drawn is
    recorded, so the dataset's ``seeds_json`` lists exactly the streams the job used
    (:meth:`record`).
    """

    def __init__(self, base_seed: int, paper: str) -> None:
        self.base_seed = int(base_seed)
        self.paper = paper
        self._drawn: dict[tuple[str, int], list[int]] = {}

    def rng(self, label: str, width: int = 0, seed_index: int = 0) -> np.random.Generator:
        """The numpy Generator of stream ``(label, width, seed_index)``; see :func:`seed_sequence`."""
        indices = self._drawn.setdefault((label, int(width)), [])
        if int(seed_index) not in indices:
            indices.append(int(seed_index))
        return rng(self.base_seed, self.paper, label, width, seed_index)

    def record(self) -> dict:
        """JSON-ready list of the streams drawn so far, grouped by ``(label, width)``."""
        return {
            "base_seed": self.base_seed,
            "paper": self.paper,
            "scheme": SCHEME,
            "streams": [
                {"label": label, "width": width, "seed_indices": sorted(indices)}
                for (label, width), indices in sorted(self._drawn.items())
            ],
        }


def torch_generator(rng: np.random.Generator, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch Generator seeded from a numpy stream (keeps the seeding contract for torch draws)."""
    import torch  # lazily: jobs that draw nothing with torch do not pay for importing it

    return torch.Generator(device=device).manual_seed(int(rng.integers(2**63 - 1)))
