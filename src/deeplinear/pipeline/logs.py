"""Logging for workflow jobs: everything a job prints, warns or raises goes to its log file."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path | None) -> Iterator[logging.Logger]:
    """Send stdout, stderr (progress bars) and logging to ``path``; record any exception there.

    Snakemake keeps the log of a failed job, so the traceback is where the user looks first.
    """
    logger = logging.getLogger("deeplinear")
    if path is None:
        yield logger
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            yield logger
        except BaseException:
            traceback.print_exc(file=fh)
            raise
        finally:
            logger.removeHandler(handler)
            fh.flush()
            sys.stderr.flush()
