"""The uniform shape every reproduced paper plugs into, and the list of papers.

A paper is one module in :mod:`deeplinear.papers` exposing ``PAPER``, a :class:`Paper`. Adding a
sixth paper means one new module, one entry in :data:`PAPER_MODULES`, one config section and one
rules entry (its figure targets).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from deeplinear.claims import Claim

KINDS = ("width_scaling", "depth_scaling", "prior_sampling")

#: paper key -> module under deeplinear.papers (imported lazily).
PAPER_MODULES: dict[str, str] = {
    "chizat2022": "deeplinear.papers.chizat2022",
    "duhu2019": "deeplinear.papers.duhu2019",
    "min2021": "deeplinear.papers.min2021",
    "bassetti2024": "deeplinear.papers.bassetti2024",
    "sirignano2022": "deeplinear.papers.sirignano2022",
}


@dataclass(frozen=True)
class JobContext:
    """Everything one experiment job needs: its resolved params and where it sits in the grid."""

    paper: str
    experiment: str
    case: str
    params: Mapping[str, Any]
    progress: bool = False


@dataclass(frozen=True)
class Experiment:
    """An experiment: its kind, how config expands to jobs, and the job runner.

    ``cases(section) -> {case name: job params}``, where ``section`` is the experiment's config
    section at the chosen scale; ``run(ctx) -> Dataset`` (provenance is added by the caller).
    """

    name: str
    kind: str
    cases: Callable[[Mapping[str, Any]], dict[str, dict[str, Any]]]
    run: Callable[[JobContext], xr.Dataset]
    description: str = ""
    #: The key of the paper's config block this experiment reads (default: its own name).
    #: Two experiments may share one block, e.g. a finite-width run and its exact limit.
    config_section: str = ""

    @property
    def section_key(self) -> str:
        """The config block ``<paper>.<scale>.<section_key>`` this experiment's cases come from."""
        return self.config_section or self.name

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"experiment {self.name}: kind must be one of {KINDS}")


@dataclass(frozen=True)
class FigureSpec:
    """A figure: the experiments it reads, a plotting function and its caption."""

    name: str
    experiments: tuple[str, ...]
    plot: Callable[[Mapping[str, xr.Dataset]], Any]  # -> matplotlib Figure
    caption: str


@dataclass(frozen=True)
class Paper:
    """A reproduced paper: metadata, experiments, figures and its claim checks."""

    key: str
    title: str
    reference: str
    experiments: Mapping[str, Experiment]
    figures: Mapping[str, FigureSpec]
    check_claims: Callable[[Mapping[str, xr.Dataset]], list[Claim]]
    claim_ids: tuple[str, ...] = field(default=())
    #: Bumped when this paper's numbers change; jobs get ``numerics_version`` =
    #: "<package NUMERICS_VERSION>.<this>", so only the changed paper's jobs rerun.
    version: str = "1"


def one_job_per(
    section: Mapping[str, Any], list_key: str, param_key: str, prefix: str, cast: Callable = int
) -> dict[str, dict[str, Any]]:
    """Cases with one job per entry of ``section[list_key]``.

    Each job gets the section's other keys plus ``param_key = cast(entry)``; its case name is
    ``<prefix>_<entry>`` (e.g. ``h_1600``, ``lr_factor_0.5``).
    """
    cases = {}
    for entry in section[list_key]:
        value = cast(entry)
        params = {k: v for k, v in section.items() if k != list_key}
        params[param_key] = value
        cases[f"{prefix}_{value:g}" if isinstance(value, float) else f"{prefix}_{value}"] = params
    return cases


def paper(key: str) -> Paper:
    """The :class:`Paper` registered under ``key``; a clear error for an unknown key."""
    if key not in PAPER_MODULES:
        raise KeyError(f"unknown paper {key!r}; known papers: {sorted(PAPER_MODULES)}")
    module = importlib.import_module(PAPER_MODULES[key])
    return module.PAPER


def experiment(paper_key: str, name: str) -> Experiment:
    """One experiment of a paper, with a clear error for an unknown name."""
    p = paper(paper_key)
    if name not in p.experiments:
        raise KeyError(f"paper {paper_key!r} has no experiment {name!r}; it has {sorted(p.experiments)}")
    return p.experiments[name]
