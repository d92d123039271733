"""The list of reproduced papers and the lookups the pipeline uses.

A paper is one package in :mod:`deeplinear.papers` exposing ``PAPER``, a
:class:`deeplinear.paper_api.Paper`, with one module per concern (theory, experiments, analysis,
claims, figures), its config schema (``config.schema.yaml``) and its smoke-test section
(``smoke.yaml``) beside it. Adding a sixth paper means one new package, one entry in
:data:`PAPER_MODULES` and one config section: the workflow's schema, job table, claim rules,
named figure targets, the test suite's smoke config and its end-to-end tables are all generated
from this registry.
"""

from __future__ import annotations

import importlib
from typing import Any

from deeplinear.paper_api import KINDS, Experiment, Paper

__all__ = ["KINDS", "PAPER_MODULES", "experiment", "figure_targets", "paper", "papers", "smoke_config"]

#: paper key -> package under deeplinear.papers (imported lazily). The one list of papers.
PAPER_MODULES: dict[str, str] = {
    "chizat2022": "deeplinear.papers.chizat2022",
    "duhu2019": "deeplinear.papers.duhu2019",
    "min2021": "deeplinear.papers.min2021",
    "bassetti2024": "deeplinear.papers.bassetti2024",
    "sirignano2022": "deeplinear.papers.sirignano2022",
}


def paper(key: str) -> Paper:
    """The :class:`Paper` registered under ``key``; a clear error for an unknown key."""
    if key not in PAPER_MODULES:
        raise KeyError(f"unknown paper {key!r}; known papers: {sorted(PAPER_MODULES)}")
    module = importlib.import_module(PAPER_MODULES[key])
    return module.PAPER


def papers() -> list[Paper]:
    """Every registered paper, in registry order."""
    return [paper(key) for key in PAPER_MODULES]


def figure_targets(paper_keys: list[str] | None = None) -> list[tuple[str, str]]:
    """``(paper, figure)`` for every figure of the given papers (default: all registered)."""
    return [(key, name) for key in (paper_keys or list(PAPER_MODULES)) for name in paper(key).figures]


def experiment(paper_key: str, name: str) -> Experiment:
    """One experiment of a paper, with a clear error for an unknown name."""
    p = paper(paper_key)
    if name not in p.experiments:
        raise KeyError(f"paper {paper_key!r} has no experiment {name!r}; it has {sorted(p.experiments)}")
    return p.experiments[name]


def smoke_config(paper_keys: list[str] | None = None) -> dict[str, Any]:
    """A config overlay (merge it over ``config.yaml``, as ``--configfile`` does) that runs the given
    papers (default: every registered one) on their smoke-test sections at ``scale: quick``: the
    test suite's end-to-end run, derived from the registry so a new paper is checked with the rest."""
    keys = list(paper_keys or PAPER_MODULES)
    config: dict[str, Any] = {"scale": "quick", "papers": keys}
    for key in keys:
        config[key] = {"quick": paper(key).smoke_section()}
    return config
