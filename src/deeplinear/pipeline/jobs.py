"""From a validated config to the table of jobs, and running one job, one claim check, one figure.

These functions are what the workflow scripts and the command line call; they take plain values,
so every number a job uses is visible in Snakemake's ``params:`` and in the dataset's attrs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deeplinear import NUMERICS_VERSION, claims
from deeplinear.numerics import seeding
from deeplinear.paper_api import JobContext
from deeplinear.pipeline import cost, dataset, registry

#: Config keys shared by every job (the rest of a job's params come from its paper section).
GLOBAL_KEYS = ("base_seed", "device")


@dataclass(frozen=True)
class Job:
    """One experiment job: where it sits and the resolved params it runs with. A job that runs
    several cases of its experiment (:func:`bundle_cases`) holds them under
    :data:`~deeplinear.pipeline.cost.BUNDLE_KEY` in ``params``, case name -> params."""

    kind: str
    paper: str
    experiment: str
    case: str
    params: dict[str, Any]

    def parts(self) -> list[tuple[str, dict[str, Any]]]:
        """``(case, params)`` of every case the job runs, in order."""
        if cost.BUNDLE_KEY in self.params:
            return list(self.params[cost.BUNDLE_KEY].items())
        return [(self.case, self.params)]


def papers_in(config: Mapping[str, Any]) -> list[str]:
    """The papers the config asks for, in config order."""
    return list(config["papers"])


def scale_section(config: Mapping[str, Any], paper: str) -> Mapping[str, Any]:
    """The paper's config section at the selected scale (``config[paper][config['scale']]``)."""
    scale = config["scale"]
    try:
        return config[paper][scale]
    except KeyError as exc:
        raise KeyError(f"config has no section {paper}.{scale} (scale={scale!r})") from exc


def job_table(config: Mapping[str, Any]) -> dict[tuple[str, str, str], Job]:
    """Every job of the selected papers: ``(paper, experiment, case) -> Job``. Cases estimated
    shorter than the config's ``min_job_seconds`` share jobs (:func:`bundle_cases`)."""
    table: dict[tuple[str, str, str], Job] = {}
    min_seconds = float(config.get("min_job_seconds", 0))
    for paper_key in papers_in(config):
        paper = registry.paper(paper_key)
        section = scale_section(config, paper_key)
        shared = {k: config[k] for k in GLOBAL_KEYS}
        shared["numerics_version"] = f"{NUMERICS_VERSION}.{paper.version}"
        for name, exp in paper.experiments.items():
            cases = {
                case: {**case_params, **shared} for case, case_params in exp.cases(section[exp.section_key]).items()
            }
            seconds = cost.case_seconds_function(paper_key, name) if min_seconds > 0 else None
            groups = bundle_cases(cases, seconds, min_seconds) if seconds else [[case] for case in cases]
            for group in groups:
                case = group[0] if len(group) == 1 else f"{group[0]}..{group[-1]}"
                params = cases[case] if len(group) == 1 else {cost.BUNDLE_KEY: {c: cases[c] for c in group}, **shared}
                table[(paper_key, name, case)] = Job(exp.kind, paper_key, name, case, params)
    return table


def single_case_job(table: Mapping[tuple[str, str, str], Job], paper: str, experiment: str, case: str) -> Job | None:
    """The job of one case that runs inside a bundled job of ``table`` (to run it alone), or ``None``."""
    for (p, e, _), job in table.items():
        if (p, e) == (paper, experiment):
            params = dict(job.parts()).get(case)
            if params is not None:
                return Job(job.kind, paper, experiment, case, params)
    return None


def bundle_cases(cases: Mapping[str, Any], seconds, min_seconds: float) -> list[list[str]]:
    """Consecutive cases grouped so that each group's estimated seconds (``seconds(params)``, the
    cost model's time without the start-up overhead) reach ``min_seconds``, the last group
    excepted; a case estimated at ``min_seconds`` or more runs alone. A job's start-up (interpreter,
    imports, about 1.5 s here) is paid once per group, and the combined datasets do not change:
    every stream is keyed by what it draws for, never by the job."""
    groups: list[list[str]] = []
    current: list[str] = []
    total = 0.0
    for case, params in cases.items():
        own = seconds(params)
        if own >= min_seconds and current:  # a long case does not carry short ones along
            groups.append(current)
            current, total = [], 0.0
        current.append(case)
        total += own
        if total >= min_seconds:
            groups.append(current)
            current, total = [], 0.0
    if current:
        groups.append(current)
    return groups


def job_context(
    paper: str, experiment: str, case: str, params: Mapping[str, Any], *, progress: bool = False
) -> JobContext:
    """The context a runner receives: params, resolved device (``params["device"]``, default
    ``cpu``), float64, and fresh random streams under ``params["base_seed"]``. The one place a
    :class:`~deeplinear.paper_api.JobContext` is built (jobs, tests and benchmarks alike)."""
    import torch

    from deeplinear.numerics.devices import resolve_device

    device = resolve_device(params.get("device", "cpu"))
    streams = seeding.Streams(params["base_seed"], paper)
    return JobContext(paper, experiment, case, params, device, streams, torch.float64, progress)


def run_job(
    job: Job,
    output: str | Path,
    *,
    threads: int | None = None,
    progress: bool = False,
    rule: str = "",
    wildcards: Mapping[str, str] | None = None,
) -> Path:
    """Run one experiment job and write its dataset (with provenance) atomically to ``output``."""
    # torch is imported here (through job_context), so combine and claims-table jobs never pay for it
    from deeplinear.numerics.devices import configure_threads, device_description, set_deterministic

    configure_threads(threads)
    set_deterministic()
    exp = registry.experiment(job.paper, job.experiment)
    paper = registry.paper(job.paper)
    parts = job.parts()
    # one context (device, streams) for every case: the dataset records every stream the job drew
    ctx = job_context(job.paper, job.experiment, job.case, parts[0][1], progress=progress)
    pieces = [exp.run(replace(ctx, case=case, params=params)) for case, params in parts]
    ds = pieces[0] if len(pieces) == 1 else dataset.combine_pieces(pieces)
    ds.attrs.update(
        dataset.provenance_attrs(
            paper=job.paper,
            experiment=job.experiment,
            case=job.case,
            params=job.params,
            device=device_description(ctx.device),
            seeds=ctx.streams.record(),
            references=paper.reference,
            title=f"{paper.title}: {job.experiment} ({exp.description})",
            rule=rule,
            wildcards=wildcards,
        )
    )
    return dataset.write_dataset(ds, output)


def combine(inputs: Sequence[str | Path], output: str | Path) -> Path:
    """Combine one experiment's per-job datasets into ``output``."""
    return dataset.write_dataset(dataset.combine_cases(inputs), output)


def check_paper_claims(paper_key: str, inputs: Mapping[str, str | Path], output: str | Path) -> list[claims.Claim]:
    """Run a paper's claim checks on its combined datasets (``experiment -> path``); write JSON."""
    paper = registry.paper(paper_key)
    missing = sorted(set(paper.experiments) - set(inputs))
    if missing:
        raise KeyError(f"claims of {paper_key} need datasets for experiments {missing}")
    datasets = {name: dataset.read_dataset(path) for name, path in inputs.items()}
    records = paper.check_claims(datasets)
    claims.write_claims_json(records, output)
    return records


def claims_code_fingerprint(paper_key: str) -> str:
    """A hash of the source the claims of ``paper_key`` are computed by: the paper's package, the
    claims vocabulary and the statistics. It is a param of the claims rule, so a revised claim is
    rechecked on the cached datasets (claims jobs cost seconds), whatever clone or machine runs it."""
    import hashlib
    import importlib

    from deeplinear import claims as vocabulary
    from deeplinear.numerics import stats

    package = Path(importlib.import_module(registry.PAPER_MODULES[paper_key]).__file__).parent
    files = [*sorted(package.rglob("*.py")), Path(vocabulary.__file__), Path(stats.__file__)]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def gather_claims(inputs: Sequence[str | Path], output: str | Path) -> list[claims.Claim]:
    """Concatenate per-paper claim JSON files into one CSV table."""
    records = [c for path in inputs for c in claims.read_claims_json(path)]
    claims.write_claims_csv(records, output)
    return records


def job_dataset_path(results: str | Path, kind: str, paper: str, experiment: str, case: str) -> Path:
    """``<results>/<kind>/<paper>/<experiment>/<case>.nc``: where an experiment job writes its
    dataset (the workflow's ``JOB_NC`` pattern in workflow/rules/common.smk)."""
    return Path(results) / kind / paper / experiment / f"{case}.nc"


def make_figure(paper_key: str, figure: str, inputs: Mapping[str, str | Path], outputs: Sequence[str | Path]) -> None:
    """Plot one registered figure from its combined datasets and save it to every output path."""
    make_figures(paper_key, inputs, {figure: outputs})


def make_figures(paper_key: str, inputs: Mapping[str, str | Path], outputs: Mapping[str, Sequence[str | Path]]) -> None:
    """Plot registered figures of one paper (``outputs``: figure -> its paths), reading each
    combined dataset once; one figure job per paper calls this for all of them."""
    paper = registry.paper(paper_key)
    unknown = sorted(set(outputs) - set(paper.figures))
    if unknown:
        raise KeyError(f"paper {paper_key!r} has no figure {unknown[0]!r}; it has {sorted(paper.figures)}")
    from deeplinear import plotting  # matplotlib only in figure jobs

    needed = {name for figure in outputs for name in paper.figures[figure].experiments}
    datasets = {name: dataset.read_dataset(inputs[name]) for name in sorted(needed)}
    for figure, paths in outputs.items():
        own = {
            name: datasets[name].copy(deep=True) for name in paper.figures[figure].experiments
        }  # no figure sees another's changes
        plotting.save_figure(draw_figure(paper_key, figure, own), paths)


def draw_figure(paper_key: str, figure: str, datasets: Mapping[str, Any]):
    """One registered figure from its combined datasets (``experiment -> Dataset``), diverged runs
    left out and counted under the figure (:func:`deeplinear.plotting.leave_out_diverged`)."""
    from deeplinear import plotting  # matplotlib only in figure jobs

    cleaned, n_diverged = {}, 0
    for name, ds in datasets.items():
        cleaned[name], n = plotting.leave_out_diverged(ds)
        n_diverged += n
    fig = registry.paper(paper_key).figures[figure].plot(cleaned)
    if n_diverged:
        plotting.note_left_out(fig, n_diverged)
    return fig


def params_json(job: Job) -> str:
    """The job's params as canonical JSON (what the rule passes and the dataset records)."""
    return json.dumps(job.params, sort_keys=True)
