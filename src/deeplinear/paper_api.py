"""The paper API: the records every reproduced paper fills in, and nothing else.

A paper package (:mod:`deeplinear.papers`) builds one :class:`Paper` from :class:`Experiment`,
:class:`FigureSpec` and claim checks (:mod:`deeplinear.claims`); its runners receive a
:class:`JobContext` and price themselves with :class:`JobCost`. This module imports only the
numerics layer (:mod:`deeplinear.numerics`) and the claims vocabulary; the pipeline
(:mod:`deeplinear.pipeline`) finds papers through its registry and runs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from deeplinear.claims import Claim, ClaimCheck, evaluate_claims
from deeplinear.numerics.seeding import Streams

if TYPE_CHECKING:
    import torch
    import xarray as xr


@dataclass(frozen=True)
class Deferred:
    """The function ``name`` of ``module``, imported on its first call. A paper's ``__init__``
    names its runners, case and cost functions this way, so the claim and figure jobs, which load
    the paper but run no experiment, never import what only experiments use (torch: about 1 s
    of every job's start-up)."""

    module: str
    name: str

    def resolve(self) -> Callable[..., Any]:
        """The function itself (imports its module)."""
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


class DeferredModule:
    """A module whose functions are handed out as :class:`Deferred`: ``DeferredModule(m).f`` is
    ``Deferred(m, "f")``; nothing is imported until one of them is called."""

    def __init__(self, module: str) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("__"):
            raise AttributeError(name)
        return Deferred(self.module, name)


#: The three kinds of experiment, one Snakemake rule each.
KINDS = ("width_scaling", "depth_scaling", "prior_sampling")


@dataclass(frozen=True)
class JobContext:
    """Everything one experiment job needs: where it sits in the grid, its resolved params, the
    resolved torch device and dtype, and its random streams (which record what they hand out)."""

    paper: str
    experiment: str
    case: str
    params: Mapping[str, Any]
    device: torch.device
    streams: Streams
    dtype: torch.dtype | None = None
    progress: bool = False

    @property
    def progress_label(self) -> str | bool:
        """Label of this job's progress bar, or ``False`` when no bar is wanted."""
        return f"{self.paper}/{self.experiment}/{self.case}" if self.progress else False


@dataclass(frozen=True)
class JobCost:
    """What a job costs before calibration: ``work`` in arbitrary units proportional to its
    arithmetic (e.g. runs x steps x m^2 x L), ``memory_bytes`` the size of its largest arrays."""

    work: float
    memory_bytes: float


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
    #: ``cost(params) -> JobCost``: a job's work and array memory, the cost model's inputs
    #: (:mod:`deeplinear.pipeline.cost` calibrates seconds per work unit on benchmark files).
    cost: Callable[[Mapping[str, Any]], JobCost] | None = None

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
    """A reproduced paper: metadata, experiments, figures, claim checks and config schema."""

    key: str
    title: str
    reference: str
    experiments: Mapping[str, Experiment]
    figures: Mapping[str, FigureSpec]
    claims: tuple[ClaimCheck, ...]
    #: ``config.schema.yaml`` of the paper: the JSON Schema of one scale block of its config section.
    schema_file: Path
    #: Bumped when this paper's numbers change; jobs get ``numerics_version`` =
    #: "<package NUMERICS_VERSION>.<this>", so only the changed paper's jobs rerun.
    version: str = "1"
    description: str = field(default="")

    def __post_init__(self) -> None:
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.key}: claim ids are not unique: {ids}")
        for name, fig in self.figures.items():
            unknown = set(fig.experiments) - set(self.experiments)
            if unknown:
                raise ValueError(f"{self.key}: figure {name} reads unknown experiments {sorted(unknown)}")

    @property
    def claim_ids(self) -> tuple[str, ...]:
        """The ids of the paper's claims, in order (a claim stated per parameter value produces
        records ``<id>[<qualifier>]``)."""
        return tuple(c.id for c in self.claims)

    def check_claims(self, datasets: Mapping[str, xr.Dataset]) -> list[Claim]:
        """Every claim of the paper against its combined datasets (``experiment -> Dataset``)."""
        return evaluate_claims(self.key, self.claims, datasets)

    @property
    def smoke_file(self) -> Path:
        """``smoke.yaml`` beside the schema: the paper's smoke-test section, a grid tiny enough to run
        every experiment, claim and figure in seconds (one scale block, the schema's keys)."""
        return self.schema_file.with_name("smoke.yaml")

    def smoke_section(self) -> dict[str, Any]:
        """The smoke-test section (:attr:`smoke_file`), parsed."""
        return yaml.safe_load(self.smoke_file.read_text())

    def config_schema(self) -> dict[str, Any]:
        """The JSON Schema of one scale block (``<key>.quick``, ``<key>.paper``) of the config."""
        return yaml.safe_load(self.schema_file.read_text())


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
