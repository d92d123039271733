"""The contract every registered paper honours (one parametrised suite over the registry, like
scikit-learn's estimator checks): its config expands to jobs, each experiment runs on the tiny
config of its own ``smoke.yaml``, every claim id is produced exactly once and every figure
renders from the tiny datasets with labelled axes."""

from __future__ import annotations

import json
import re

import matplotlib
import numpy as np
import pytest
import yaml

from conftest import ROOT, smoke_config
from deeplinear.numerics import run_status
from deeplinear.pipeline import configuration, dataset, jobs, registry

matplotlib.use("Agg")

PAPERS = list(registry.PAPER_MODULES)
CASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # the workflow's wildcard constraint


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture(scope="module", params=PAPERS)
def tiny(request, tmp_path_factory):
    """One paper's jobs of the smoke config, run in-process and combined: ``(paper, datasets)``."""
    key = request.param
    config = smoke_config()
    out = tmp_path_factory.mktemp(key)
    table = {k: job for k, job in jobs.job_table(config).items() if k[0] == key}
    files: dict[str, list] = {}
    for (_, experiment, case), job in table.items():
        files.setdefault(experiment, []).append(jobs.run_job(job, out / experiment / f"{case}.nc"))
    datasets = {name: dataset.combine_cases(paths) for name, paths in files.items()}
    return registry.paper(key), datasets, files


@pytest.mark.parametrize("key", PAPERS)
@pytest.mark.parametrize("scale", ["quick", "paper"])
def test_cases_expand_from_the_config(key, scale):
    config = default_config()
    config["scale"] = scale
    configuration.validate_config(config)
    paper = registry.paper(key)
    section = config[key][scale]
    for name, exp in paper.experiments.items():
        assert exp.kind in registry.KINDS
        cases = exp.cases(section[exp.section_key])
        assert cases, f"{key}.{name} has no jobs at scale {scale}"
        for case, params in cases.items():
            assert CASE_NAME.fullmatch(case), case
            json.dumps(params)  # params travel through Snakemake and into the dataset's attrs


@pytest.mark.parametrize("key", PAPERS)
def test_every_deferred_runner_case_and_cost_function_exists(key):
    """A paper names its experiment functions lazily (paper_api.Deferred): a misspelt name would
    only fail when the first job calls it, so resolve them all here."""
    from deeplinear.paper_api import Deferred

    for exp in registry.paper(key).experiments.values():
        for fn in (exp.cases, exp.run, exp.cost):
            target = fn.resolve() if isinstance(fn, Deferred) else fn
            assert callable(target), (key, exp.name, fn)


@pytest.mark.parametrize("key", PAPERS)
def test_paper_is_documented_and_self_contained(key):
    paper = registry.paper(key)
    module = __import__(f"deeplinear.papers.{key}", fromlist=["PAPER"])
    assert len(module.__doc__) > 400, "the package docstring states the model and the theory"
    assert paper.reference and paper.title
    assert paper.schema_file.exists()
    schema = configuration.config_schema([key])
    assert f"{key}_scale" in schema["$defs"] and key in schema["required"]
    for fig in paper.figures.values():
        assert len(fig.caption) > 80, f"{key}.{fig.name}: a caption says what the data and the overlay are"


@pytest.mark.parametrize("key", PAPERS)
def test_paper_key_matches_its_registry_key_and_package(key):
    paper = registry.paper(key)
    assert paper.key == key
    assert registry.PAPER_MODULES[key] == f"deeplinear.papers.{key}"


@pytest.mark.parametrize("key", PAPERS)
def test_every_claim_function_of_the_paper_is_listed(key):
    """A claim written in the paper's modules but left out of ``Paper.claims`` would never run."""
    import importlib
    import pkgutil

    from deeplinear.claims import ClaimCheck

    package = importlib.import_module(registry.PAPER_MODULES[key])
    defined = {}
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        defined.update({id(v): v for v in vars(module).values() if isinstance(v, ClaimCheck)})
    listed = {id(c) for c in registry.paper(key).claims}
    unlisted = sorted(c.id for i, c in defined.items() if i not in listed)
    assert defined and not unlisted, f"{key}: claim checks defined but not in PAPER.claims: {unlisted}"


@pytest.mark.parametrize("key", PAPERS)
def test_smoke_section_is_a_valid_scale_block(key):
    config = default_config()
    config[key]["quick"] = registry.paper(key).smoke_section()
    configuration.validate_config(config)
    jobs.job_table({**config, "papers": [key]})  # the cross-field checks of its cases pass too


def test_every_dataset_has_cf_metadata_and_records_its_streams(tiny):
    paper, datasets, files = tiny
    assert set(datasets) == set(paper.experiments)
    for ds in datasets.values():
        dataset.check_cf_metadata(ds)
    for paths in files.values():
        for path in paths:
            seeds = json.loads(dataset.read_dataset(path).attrs["seeds_json"])
            assert seeds["paper"] == paper.key and seeds["streams"], path
            for stream in seeds["streams"]:
                assert stream["label"] and stream["seed_indices"] == sorted(set(stream["seed_indices"]))


def test_every_training_dataset_flags_each_runs_outcome(tiny):
    """Every experiment that trains (width or depth scaling) carries a CF ``status`` flag.
    Before: Chizat et al.'s limit and Sirignano's SGD datasets had none."""
    paper, datasets, _ = tiny
    for name, ds in datasets.items():
        if paper.experiments[name].kind == "prior_sampling":
            continue
        assert "status" in ds, f"{paper.key}.{name} has no status flag"
        codes = set(np.asarray(ds["status"].attrs["flag_values"]).tolist())
        assert set(np.unique(ds["status"].values).tolist()) <= codes
        assert len(ds["status"].attrs["flag_meanings"].split()) == len(codes)


def test_every_claim_id_is_produced_once(tiny):
    paper, datasets, _ = tiny
    records = paper.check_claims(datasets)
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    for claim_id in paper.claim_ids:
        produced = [i for i in ids if i == claim_id or i.startswith(f"{claim_id}[")]
        assert produced, f"{claim_id} produced no record"
    for r in records:
        assert r.paper == paper.key and r.theorem
        assert isinstance(r.passed, bool)
        assert "[" in str(r.tolerance) or r.note.startswith("claim computation failed"), r
    broken = [r for r in records if r.note.startswith("claim computation failed")]
    assert not broken, f"claims that could not be computed on the tiny config: {broken}"


def test_every_figure_renders_with_labelled_axes(tiny):
    import matplotlib.pyplot as plt

    paper, datasets, _ = tiny
    for name, spec in paper.figures.items():
        fig = spec.plot({e: datasets[e] for e in spec.experiments})
        try:
            panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
            assert panels, name
            for ax in panels:
                assert ax.get_xlabel() and ax.get_ylabel(), f"{paper.key}.{name}: unlabelled axes"
            assert any(ax.get_title() for ax in panels) or fig._suptitle, f"{paper.key}.{name}: no title"
        finally:
            plt.close(fig)


def _with_one_diverged_run(ds):
    """``ds`` with its first run flagged diverged and its float values there set to 1e12."""

    ds = ds.copy(deep=True)
    first = {dim: 0 for dim in ds["status"].dims}
    ds["status"][first] = run_status.DIVERGED
    for name, var in ds.data_vars.items():
        if name != "status" and var.dtype.kind == "f" and set(first) <= set(var.dims):
            var[first] = 1e12
    return ds


def _plotted_values(fig) -> list[np.ndarray]:
    values = []
    for ax in fig.axes:
        values += [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
        values += [np.asarray(c.get_offsets(), dtype=float) for c in ax.collections if hasattr(c, "get_offsets")]
        values += [np.asarray(im.get_array(), dtype=float) for im in ax.get_images()]
    return values


def test_every_figure_leaves_out_diverged_runs_and_says_so(tiny):
    """A run flagged diverged (values 1e12) is not drawn as data; the figure says it was left out."""
    import matplotlib.pyplot as plt

    paper, datasets, _ = tiny
    flagged = {name for name, ds in datasets.items() if "status" in ds}
    for name, spec in paper.figures.items():
        touched = flagged & set(spec.experiments)
        if not touched:
            continue
        inputs = {e: _with_one_diverged_run(datasets[e]) if e in touched else datasets[e] for e in spec.experiments}
        fig = jobs.draw_figure(paper.key, name, inputs)
        try:
            texts = " ".join(t.get_text() for t in fig.texts)
            n_diverged = sum(int((inputs[e]["status"] == run_status.DIVERGED).sum()) for e in touched)
            assert f"{n_diverged} diverged run" in texts, f"{paper.key}.{name}: {texts!r}"
            for values in _plotted_values(fig):
                finite = values[np.isfinite(values)]
                assert not (np.abs(finite) >= 1e11).any(), f"{paper.key}.{name} draws a diverged run"
        finally:
            plt.close(fig)


def test_every_claim_can_fail(tiny):
    """The can-fail contract, over every registered claim: each declares beside its definition an
    alteration of its input datasets that violates the theorem by a stated margin, and on the tiny
    datasets every record of the claim fails once altered. A claim without an alteration, or one
    its alteration does not break, fails here. (On the default config the unaltered claims pass
    as well: ``python -m deeplinear can-fail`` checks both halves on a finished run.)"""
    from deeplinear import claims

    paper, datasets, _ = tiny
    broken = []
    for check in paper.claims:
        assert check.alteration is not None, f"{paper.key} {check.id} declares no alteration"
        assert len(check.alteration.description) > 15, f"{check.id}: say what the alteration violates"
        result = claims.check_can_fail(paper.key, check, datasets)
        if not result.fails_altered:
            broken.append((check.id, [(r.id, r.measured, r.tolerance) for r in result.altered if r.passed]))
    assert not broken, f"{paper.key}: alterations that do not make their claim fail: {broken}"


def test_the_alterations_leave_the_given_datasets_unchanged(tiny):
    paper, datasets, _ = tiny
    before = {name: ds.copy(deep=True) for name, ds in datasets.items()}
    for check in paper.claims:
        check.alteration(datasets)
    for name, ds in datasets.items():
        assert ds.identical(before[name]), f"{paper.key}: an alteration modified {name} in place"
