"""How a run ended, as the small integer codes datasets store (CF flag values).

* ``CAPPED`` (0): ran to its step cap or fixed horizon without meeting its stopping rule;
* ``CONVERGED`` (1): met its target loss and stopped;
* ``DIVERGED`` (2): its loss became non-finite or exceeded ``1e8 x loss(0)``; frozen there.

``NOT_RUN`` (-1) marks a grid cell a job deliberately left out (e.g. a step size outside the
narrow-net grid); only datasets that can hold such cells declare it in their flags.
"""

from __future__ import annotations

CAPPED, CONVERGED, DIVERGED = 0, 1, 2
NOT_RUN = -1

#: status name -> code, in flag order (the order of ``flag_values`` / ``flag_meanings``).
CODES: dict[str, int] = {"capped": CAPPED, "converged": CONVERGED, "diverged": DIVERGED}
FLAG_MEANINGS = " ".join(CODES)


def code(name: str) -> int:
    """The stored code of a status name (``"converged"`` -> 1), with a clear error otherwise."""
    try:
        return CODES[name]
    except KeyError:
        raise ValueError(f"unknown run status {name!r}; known: {list(CODES)}") from None
