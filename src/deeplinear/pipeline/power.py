"""Can-fail and power figures of the claims on a finished run.

For every claim: whether its can-fail contract holds on the run's datasets (passes unaltered,
fails under its declared alteration), and the smallest violation the run's scale detects with
probability >= 0.9 (:data:`POWER`), by simulation from the test's exact null law:

* a Holm family of ``n`` z-tests at level ``alpha``: the null law is ``z ~ N(0, I_n)``; reported
  are the shifts ``delta`` (in standard errors) of one test, and of every test, that Holm rejects
  with probability 0.9. A family of p-values (KS, rank-sum) reads the same, in the z-equivalent
  ``Phi^-1(1 - p/2)`` of one test.
* a power-law exponent accepted in ``[low, high]``: the estimate is ``N(slope, s)`` with ``s`` the
  seed-sampling SD of the slope (from its seed bootstrap); reported is the smallest exponent error
  ``|delta|`` beyond the accepted band's centre that is rejected with probability 0.9.
* a deterministic rule (a bound, an identity, an ordering): any violation beyond the stated
  tolerance fails; reported is the margin of the measured value to its limit where numeric.

``python -m deeplinear can-fail`` prints the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplinear import claims
from deeplinear.pipeline import dataset, registry

POWER = 0.9
N_SIMULATIONS = 4000
SIMULATION_SEED = 20251
STEP = 0.05  # resolution of the detectable violation (SE units or exponent)


def _holm_power(n_tests: int, alpha: float, delta: float, every: bool, z0: np.ndarray) -> float:
    shifted = z0.copy()
    if every:
        shifted += delta
    else:
        shifted[:, 0] += delta
    from scipy.stats import norm

    p = 2 * norm.sf(np.abs(shifted))
    # Holm rejects at least one hypothesis iff the smallest p is below alpha / n
    return float((p.min(axis=1) <= alpha / n_tests).mean())


def detectable_shift(n_tests: int, alpha: float, *, every: bool = False) -> float:
    """Smallest shift ``delta`` (standard errors) of one test (or of every test) of a Holm family
    of ``n_tests`` z-tests at level ``alpha`` rejected with probability >= :data:`POWER`,
    simulated from the null law ``N(0, I)`` (:data:`N_SIMULATIONS` draws, fixed seed)."""
    rng = np.random.Generator(np.random.PCG64(SIMULATION_SEED))
    z0 = rng.standard_normal((N_SIMULATIONS, max(int(n_tests), 1)))
    delta = 0.0
    while _holm_power(n_tests, alpha, delta, every, z0) < POWER:
        delta += STEP
    return round(delta, 2)


def detectable_exponent_error(low: float, high: float, slope_sd: float) -> float:
    """Smallest error ``|delta|`` of a power-law exponent, beyond the centre of the accepted band
    ``[low, high]``, whose estimate ``N(centre + delta, slope_sd)`` falls outside the band with
    probability >= :data:`POWER` (simulated with a fixed seed); for a one-sided band
    ``(-inf, high]`` the excess over ``high`` that is rejected with that probability."""
    rng = np.random.Generator(np.random.PCG64(SIMULATION_SEED))
    noise = rng.standard_normal(N_SIMULATIONS) * slope_sd
    if not np.isfinite(low):  # a one-sided bound: the error is counted from the bound itself
        return round(float(np.quantile(noise, POWER)), 3)
    centre, delta = (low + high) / 2, 0.0
    while True:
        estimate = centre + delta + noise
        if ((estimate < low) | (estimate > high)).mean() >= POWER:
            return round(delta, 3)
        delta += STEP / 10


def power_figure(outcome: claims.Outcome) -> str:
    """The detectable violation of one outcome, in words."""
    kind = outcome.design[0] if outcome.design else "deterministic"
    if kind in ("z", "p"):
        _, n, alpha = outcome.design
        one, every = detectable_shift(n, alpha), detectable_shift(n, alpha, every=True)
        unit = "SE" if kind == "z" else "SE (z-equivalent of one test)"
        return f"one of {n} tests shifted by {one:g} {unit}, or every test by {every:g}"
    if kind == "slope":
        _, low, high, sd = outcome.design
        if not np.isfinite(sd):
            return "exponent: no seed spread to simulate"
        error = detectable_exponent_error(low, high, sd)
        if not np.isfinite(low):
            return f"exponent above the bound {high:g} by {error:.3f} (slope SD {sd:.2g})"
        return f"exponent off by {error:.3f} (band [{low:g}, {high:g}], slope SD {sd:.2g})"
    return f"deterministic rule ({outcome.tolerance.rule}); measured {outcome.measured}"


@dataclass(frozen=True)
class ClaimPower:
    """One claim on one run: its can-fail contract and the power figure of each record."""

    paper: str
    contract: claims.CanFail
    figures: Mapping[str, str]


def read_paper_datasets(paper_key: str, results: str | Path) -> dict:
    """A paper's combined datasets of a finished run (``results/<kind>/<paper>/<experiment>.nc``)."""
    paper = registry.paper(paper_key)
    return {
        name: dataset.read_dataset(Path(results) / exp.kind / paper_key / f"{name}.nc")
        for name, exp in paper.experiments.items()
    }


def claim_powers(paper_keys: Sequence[str], results: str | Path) -> list[ClaimPower]:
    """The can-fail contract and power figures of every claim of ``paper_keys`` on a finished run
    (each check computed once on the unaltered datasets, once on its alteration)."""
    out = []
    for key in paper_keys:
        datasets = read_paper_datasets(key, results)
        for check in registry.paper(key).claims:
            try:
                outcomes = check.outcomes(datasets)
            except Exception:  # the contract's failed record says why
                outcomes = {}
            unaltered = check.records(key, outcomes) if outcomes else None
            contract = claims.check_can_fail(key, check, datasets, unaltered)
            figures = {rid: power_figure(o) for rid, o in outcomes.items()}
            out.append(ClaimPower(key, contract, figures))
    return out


def format_powers(powers: Sequence[ClaimPower]) -> str:
    lines = []
    for p in powers:
        c = p.contract
        verdict = "holds" if c.holds else "BROKEN"
        detail = (
            f"unaltered {'pass' if c.passes_unaltered else 'FAIL'}, altered {'fail' if c.fails_altered else 'PASS'}"
        )
        lines.append(f"{p.paper} {c.claim_id}: contract {verdict} ({detail}); alteration: {c.alteration}")
        lines += [f"    {rid}: detectable with power {POWER:g}: {text}" for rid, text in p.figures.items()]
    broken = [f"{p.paper} {p.contract.claim_id}" for p in powers if not p.contract.holds]
    lines.append(
        f"{len(powers) - len(broken)} of {len(powers)} claims hold their can-fail contract"
        + (f"; broken: {', '.join(broken)}" if broken else "")
    )
    return "\n".join(lines)
