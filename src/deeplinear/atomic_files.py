"""Atomic file writes: a reader (or Snakemake) sees the old complete file or the new complete one.

Every output of the pipeline (datasets, claim records, figures, the report) is written through
:func:`atomic_path`: to a hidden temporary file beside the target, renamed over it only once the
write finished. A crash, a full disk or a read-only folder leaves no file under the final name
and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; rename it over ``path`` when the block
    ends normally, remove it whatever happens (the folder is created first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
