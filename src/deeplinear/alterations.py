"""Alterations: the can-fail contract of the claims (:mod:`deeplinear.claims`).

An :class:`Alteration` is a documented change of a claim's input datasets that violates its
theorem by a stated margin; each claim declares one beside its definition, and the contract is
that the claim passes on the unaltered datasets and fails, every record of it, on the altered
ones (:func:`deeplinear.claims.check_can_fail`). The helpers build the usual kinds: a wrong
exponent (:func:`tilted`), means shifted by k standard errors (:func:`shifted_by_se`), a bound
exceeded or a swapped law (:func:`scaled`), and any transform of a deep copy (:func:`altered`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Alteration:
    """A documented change of a claim's input datasets that violates its theorem by a stated
    margin (a wrong exponent, a mean shifted by k standard errors, a swapped law, a bound exceeded
    by 10 %). A claim its alteration does not break has no power to fail.

    ``apply`` receives a shallow copy of the datasets mapping and returns the altered mapping; it
    must not modify the datasets it was given (use the helpers below, which copy).
    """

    description: str
    apply: Callable[[dict], Mapping[str, object]]

    def __call__(self, datasets: Mapping[str, object]) -> dict:
        return dict(self.apply(dict(datasets)))


def _replace(experiment: str, transform: Callable[[object], object]) -> Callable[[dict], dict]:
    def apply(datasets: dict) -> dict:
        datasets[experiment] = transform(datasets[experiment].copy(deep=True))
        return datasets

    return apply


def altered(experiment: str, description: str, transform: Callable[[object], object]) -> Alteration:
    """An alteration of one experiment's dataset by ``transform(deep copy) -> dataset``."""
    return Alteration(description, _replace(experiment, transform))


def scaled(experiment: str, variables: str | Sequence[str], factor: float, why: str) -> Alteration:
    """One or several variables multiplied by ``factor`` everywhere (a bound exceeded by
    ``factor - 1``, or a swapped law)."""
    names = (variables,) if isinstance(variables, str) else tuple(variables)

    def transform(ds):
        for name in names:
            ds[name] = ds[name] * factor
        return ds

    listed = ", ".join(f"{experiment}.{name}" for name in names)
    return altered(experiment, f"{listed} multiplied by {factor:g} ({why})", transform)


def tilted(experiment: str, variable: str, dim: str, exponent: float, why: str = "") -> Alteration:
    """``variable`` multiplied by ``(x / min x)^exponent`` along coordinate ``dim``: its power law in
    ``x`` changes exponent by ``exponent`` (a wrong exponent)."""

    def transform(ds):
        x = ds[dim].astype(float)
        ds[variable] = ds[variable] * (x / x.min()) ** exponent
        return ds

    text = f"{experiment}.{variable} times ({dim}/min {dim})^{exponent:g}: exponent off by {exponent:g}"
    return altered(experiment, text + (f" ({why})" if why else ""), transform)


def shifted_by_se(experiment: str, pairs: Mapping[str, str], k: float) -> Alteration:
    """Each estimate ``variable`` moved by ``k`` of its standard errors ``pairs[variable]`` (a mean
    shifted by ``k`` SE in every cell)."""

    def transform(ds):
        for variable, se in pairs.items():
            ds[variable] = ds[variable] + k * ds[se]
        return ds

    names = ", ".join(pairs)
    return altered(experiment, f"{experiment}: {names} shifted by {k:g} standard errors in every cell", transform)
