r"""Progress bars for runs that stop at a target loss, in units that predict the end.

A GD ensemble usually stops long before its step cap, so a bar over the cap shows an ETA of hours
for a job that ends in a minute. :class:`TargetProgress` shows instead how far the *slowest
running member* is on its way to its target, on a log scale,

.. math:: f = \max\Big(\frac{t}{T_{\max}},\ \min_{i\ \mathrm{running}}
          \frac{\ln(\ell_i(0)/\ell_i(t))}{\ln(\ell_i(0)/\ell_i^{\mathrm{target}})}\Big) \in [0, 1],

which grows linearly in the step for a linearly converging run, so the bar's rate and ETA are
meaningful; without a target it falls back to the fraction of the step cap.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

#: Resolution of the bar: its total, in thousandths of the way to the end.
UNITS = 1000


def fraction_done(step: int, max_steps: int, loss0, loss, target) -> float:
    """``f`` of the module doc for the running members' ``loss0``, ``loss`` and ``target`` (arrays)."""
    by_steps = step / max(max_steps, 1)
    loss0, loss, target = (np.asarray(a, dtype=np.float64).ravel() for a in (loss0, loss, target))
    if loss.size == 0:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        way = np.log(loss0 / loss) / np.log(loss0 / target)
    way = np.where(np.isfinite(way), way, 0.0)
    return float(np.clip(max(by_steps, way.min()), 0.0, 1.0))


class TargetProgress:
    """A tqdm bar over :data:`UNITS` thousandths of the way to the stopping rule (module doc)."""

    def __init__(self, max_steps: int, label: str | bool, default_label: str, *, mininterval: float = 2.0, file=None):
        self.max_steps = max_steps
        self.bar = tqdm(
            total=UNITS,
            desc=label if isinstance(label, str) else default_label,
            disable=not label,
            mininterval=mininterval,
            unit="‰",
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}‰ [{elapsed}<{remaining}{postfix}]",
            file=file,
        )
        self._drawn = time.monotonic()

    @property
    def enabled(self) -> bool:
        return not self.bar.disable

    def update(self, step: int, loss0, loss, target) -> None:
        """Move to the current fraction (never backwards); the step shows as the postfix, redrawn
        at most every ``mininterval`` seconds even while the fraction stands still (a member that
        has not started to converge keeps it at 0 for a long time)."""
        if not self.enabled:
            return
        n = int(UNITS * fraction_done(step, self.max_steps, loss0, loss, target))
        if n > self.bar.n:
            self.bar.update(n - self.bar.n)
        self.bar.set_postfix_str(f"step {step}", refresh=False)
        now = time.monotonic()
        if now - self._drawn >= self.bar.mininterval:
            self.bar.refresh()
            self._drawn = now

    def close(self) -> None:
        self.bar.update(UNITS - self.bar.n)
        self.bar.close()
