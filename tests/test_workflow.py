"""The workflow end to end: snakemake for real on a tiny config in a temporary directory."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil

import pytest
import yaml

from conftest import SMOKE_CONFIG, copy_checkout, copy_results, run_snakemake, smoke_config, write_config
from deeplinear.pipeline import dataset, jobs, registry

pytestmark = pytest.mark.workflow


def _smoke_tables():
    """What the smoke run must produce, derived from the registry and the smoke config (so a new
    paper is checked end to end without editing this file): jobs per (kind, paper, experiment),
    figures per paper and each paper's reference."""
    experiments: dict[tuple[str, str, str], int] = {}
    for job in jobs.job_table(smoke_config()).values():
        key = (job.kind, job.paper, job.experiment)
        experiments[key] = experiments.get(key, 0) + 1
    figures = {p.key: tuple(p.figures) for p in registry.papers()}
    references = {p.key: p.reference for p in registry.papers()}
    return experiments, figures, references


EXPERIMENTS, FIGURES, REFERENCES = _smoke_tables()


def test_the_smoke_run_covers_every_registered_paper_and_experiment():
    covered = {(paper, experiment) for (_, paper, experiment) in EXPERIMENTS}
    assert covered == {(p.key, name) for p in registry.papers() for name in p.experiments}


def test_outputs_are_complete_and_readable(smoke_run):
    for (kind, paper, experiment), n_jobs in EXPERIMENTS.items():
        job_files = sorted((smoke_run / "results" / kind / paper / experiment).glob("*.nc"))
        assert len(job_files) == n_jobs
        combined = dataset.read_dataset(smoke_run / f"results/{kind}/{paper}/{experiment}.nc")
        assert combined.attrs["references"] == REFERENCES[paper]
        for var in combined.data_vars.values():
            assert var.attrs["long_name"] and var.attrs["units"]
        job = dataset.read_dataset(job_files[0])
        params = json.loads(job.attrs["config_json"])
        assert params["base_seed"] == 20211 and params["numerics_version"]
        assert json.loads(job.attrs["seeds_json"])["base_seed"] == 20211
        assert job.attrs["device"] == "cpu" and job.attrs["snakemake_rule"] == kind
    for paper, figures in FIGURES.items():
        for figure in figures:
            for ext in ("pdf", "png"):
                assert (smoke_run / f"figures/{paper}/{figure}.{ext}").stat().st_size > 10_000
    brute = next(j for j in jobs.job_table(smoke_config()).values() if j.experiment == "implicit_bias_brute")
    assert (smoke_run / f"results/benchmarks/width_scaling/min2021/implicit_bias_brute/{brute.case}.tsv").exists()


def test_claims_table_lists_every_claim_with_numbers(smoke_run):
    rows = list(csv.DictReader((smoke_run / "results/claims.csv").open()))
    ids = {r["id"].split("[")[0] for r in rows}
    assert ids == {cid.split("[")[0] for paper in registry.papers() for cid in paper.claim_ids}
    for row in rows:
        assert row["passed"] in ("true", "false")
        assert row["measured"] not in ("", "nan"), row
    m1 = next(r for r in rows if r["id"] == "M1")
    assert float(m1["measured"]) < 1e-12 and m1["passed"] == "true"


def test_rerun_from_scratch_gives_identical_data(smoke_run, tmp_path):
    result = run_snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    for path in sorted((smoke_run / "results").rglob("*.nc")):
        other = tmp_path / path.relative_to(smoke_run)
        a, b = dataset.read_dataset(path), dataset.read_dataset(other)
        assert dataset.stable_view(a).identical(dataset.stable_view(b)), path
    assert (smoke_run / "results/claims.csv").read_text() == (tmp_path / "results/claims.csv").read_text()
    assert (smoke_run / "figures/min2021/imbalance.png").read_bytes() == (
        tmp_path / "figures/min2021/imbalance.png"
    ).read_bytes()
    assert (smoke_run / "results/report.html").read_bytes() == (tmp_path / "results/report.html").read_bytes()


def test_named_figure_target_reruns_only_its_papers_figure_job(smoke_run, tmp_path):
    shutil.copytree(smoke_run, tmp_path / "w")
    work = tmp_path / "w"
    (work / "figures/min2021/implicit_bias.pdf").unlink()
    dry = run_snakemake(work, "-n", "--cores", "1", "min2021_implicit_bias")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "figures_min2021" in dry.stdout and "width_scaling " not in dry.stdout
    assert "figures_duhu2019" not in dry.stdout and "paper_claims" not in dry.stdout
    result = run_snakemake(work, "--cores", "1", "min2021_implicit_bias")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work / "figures/min2021/implicit_bias.pdf").exists()


def test_changed_param_reruns_only_affected_jobs(smoke_run, tmp_path):
    shutil.copytree(smoke_run, tmp_path / "w")
    changed = yaml.safe_load(SMOKE_CONFIG.read_text())
    sgd = changed["sirignano2022"]["quick"]["sgd"]
    assert sgd["widths"][-1] != 60
    sgd["widths"] = [*sgd["widths"][:-1], 60]  # one new width N = 60: only that job reruns
    override = write_config(changed, tmp_path / "o.yaml")
    dry = run_snakemake(tmp_path / "w", "-n", "--cores", "1", "--quiet", "rules", configfile=override)
    assert dry.returncode == 0, dry.stderr[-3000:]
    table = dry.stdout
    assert "width_scaling" in table  # Sirignano's new width N = 60 (only that job)
    line = next(ln for ln in table.splitlines() if ln.strip().startswith("width_scaling"))
    assert line.split()[-1] == "1", table


def test_report_page_opens_with_the_claims_table_and_captions_each_figure_once(smoke_run):
    page = (smoke_run / "results/report.html").read_text()
    assert "<script" not in page  # static: readable without JavaScript
    assert page.index('<table id="claims">') < page.index("<figure")
    rows = list(csv.DictReader((smoke_run / "results/claims.csv").open()))
    table = page[page.index('<table id="claims">') : page.index("</table>")]
    assert table.count("<tr class=") == len(rows)
    for row in rows:
        assert f'id="claim-{html.escape(row["id"])}"' in table
    for paper in FIGURES:
        heading = re.search(rf'<h2>([^<]*)</h2>\s*<figure id="figure-{paper}-', page).group(1)
        first_author = registry.paper(paper).title.split(",")[0].split(" ")[0]
        assert heading.count(first_author) == 1, heading  # the author list once, not title + reference
    for paper, figures in FIGURES.items():
        for figure in figures:
            caption = registry.paper(paper).figures[figure].caption
            assert page.count(f'<figure id="figure-{paper}-{figure}">') == 1
            assert page.count(html.escape(caption)) == 1, (paper, figure)


def test_snakemake_report_has_a_caption_per_figure(smoke_run):
    result = run_snakemake(smoke_run, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (smoke_run / "report.html").read_text()
    assert "Figure 1 reproduced" in html and "Figure 2 reproduced" in html
    assert "Kurtosis of one output against a = L/N" in html


def test_a_lost_combined_dataset_is_rebuilt(smoke_run, tmp_path):
    shutil.copytree(smoke_run, tmp_path / "w")
    (tmp_path / "w/results/width_scaling/min2021/imbalance.nc").unlink()
    dry = run_snakemake(tmp_path / "w", "-n", "--cores", "1")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "combine_experiment" in dry.stdout and "results/width_scaling/min2021/imbalance.nc" in dry.stdout


def test_publish_copies_a_papers_claims_figures_config_and_costs(smoke_run, tmp_path):
    from deeplinear.pipeline import publish

    out = tmp_path / "published"
    publish.publish(["min2021"], smoke_config(), smoke_run / "results", smoke_run / "figures", out, "snakemake -c2")
    rows = [r for r in csv.DictReader((smoke_run / "results/claims.csv").open()) if r["paper"] == "min2021"]
    assert list(csv.DictReader((out / "min2021/claims.csv").open())) == rows
    for figure in FIGURES["min2021"]:
        assert (out / f"min2021/{figure}.png").read_bytes() == (
            smoke_run / f"figures/min2021/{figure}.png"
        ).read_bytes()
    run = (out / "min2021/RUN.md").read_text()
    commit = dataset.read_dataset(smoke_run / "results/width_scaling/min2021/imbalance.nc").attrs["git_commit"]
    brute = next(j for j in jobs.job_table(smoke_config()).values() if j.experiment == "implicit_bias_brute")
    assert commit in run and f"| width_scaling/implicit_bias_brute/{brute.case} |" in run
    index = (out / "README.md").read_text()
    assert all(f"| {r['id']} |" in index for r in rows) and "duhu2019" not in index
    assert "Estimated before the run: not recorded" in run  # the smoke run recorded no estimate


def test_publish_sets_the_measured_time_beside_the_estimate_made_before_the_run(smoke_run, tmp_path):
    from deeplinear.pipeline import cost, publish

    out, results = tmp_path / "published", smoke_run / "results"
    benches = sorted((results / "benchmarks/width_scaling/min2021").glob("*/*.tsv"))
    measured = {f"min2021/{b.parent.name}/{b.stem}": cost.read_benchmark(b)[0] for b in benches}
    guessed = {name: 2.0 * (i + 1) for i, name in enumerate(sorted(measured))}  # made-up, distinct estimates
    estimate = tmp_path / "estimate.json"
    estimate.write_text(json.dumps({"commit": "c0ffee", "calibrated_on": "here", "jobs": guessed}))
    publish.publish(
        ["min2021"], smoke_config(), results, smoke_run / "figures", out, "snakemake -c2", estimate=estimate
    )

    costs = list(csv.DictReader((out / "min2021/costs.csv").open()))
    commit = dataset.read_dataset(results / "width_scaling/min2021/imbalance.nc").attrs["git_commit"]
    assert {r["job"].replace("width_scaling/", "min2021/"): float(r["estimated_seconds"]) for r in costs} == guessed
    assert {r["git_commit"] for r in costs} == {commit}
    ratio = sum(measured.values()) / sum(guessed.values())
    run = (out / "min2021/RUN.md").read_text()
    assert f"by the cost model of commit c0ffee (calibrated on here); measured / estimated = {ratio:.2f}" in run
    index = (out / "README.md").read_text()  # from costs.csv, whose seconds are rounded to 0.1 s
    seconds = sum(float(r["seconds"]) for r in costs)
    row = f"| [min2021](min2021/RUN.md) | {len(costs)} | {seconds / 60:.1f} | "
    assert row + f"{sum(guessed.values()) / 60:.1f} | {seconds / sum(guessed.values()):.2f} | {commit[:7]} |" in index


@pytest.mark.parametrize("with_metadata", [False, True])
def test_results_copied_into_a_fresh_clone_plan_no_job(smoke_run, tmp_path, with_metadata):
    """A results tree travels between clones, machines and cluster nodes of one commit: a fresh
    clone's scripts are newer than the copied outputs (Snakemake's `code` trigger compared script
    mtimes and replanned every job), and its checkout lies elsewhere."""
    import time

    time.sleep(1.1)  # the clone's files are strictly newer than every result
    clone = copy_checkout(tmp_path / "elsewhere" / "clone", fresh_mtimes=True)
    work = copy_results(smoke_run, tmp_path / "work", metadata=with_metadata)
    dry = run_snakemake(work, "-n", "--cores", "1", snakefile=clone / "Snakefile")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]


def test_publish_refuses_datasets_from_different_numerics_versions(smoke_run, tmp_path):
    from deeplinear.pipeline import publish

    results = tmp_path / "results"
    shutil.copytree(smoke_run / "results", results)
    job = sorted((results / "width_scaling/min2021/imbalance").glob("*.nc"))[0]
    ds = dataset.read_dataset(job)
    params = json.loads(ds.attrs["config_json"])
    params["numerics_version"] = "2.1"  # a stale job from an older version
    ds.attrs["config_json"] = json.dumps(params)
    dataset.write_dataset(ds, job)
    args = (["min2021"], smoke_config(), results, smoke_run / "figures", tmp_path / "out", "snakemake -c2")
    with pytest.raises(ValueError, match=r"different numerics versions \(.*2\.1 \(1 jobs\)"):
        publish.publish(*args)
    publish.publish(*args, allow_mixed=True)
    assert "(MIXED: published with --allow-mixed)" in (tmp_path / "out/min2021/RUN.md").read_text()


def test_a_revised_claim_is_rechecked_on_the_cached_datasets(smoke_run, tmp_path):
    """The claims rule carries a hash of the claims' source: editing one paper's claims reruns that
    paper's claim check (and the tables after it), no experiment job."""
    clone = copy_checkout(tmp_path / "clone")
    claims_py = clone / "src/deeplinear/papers/min2021/claims.py"
    claims_py.write_text(claims_py.read_text() + "\n# a revised claim\n")
    work = copy_results(smoke_run, tmp_path / "work")
    dry = run_snakemake(work, "-n", "--cores", "1", "--quiet", "rules", snakefile=clone / "Snakefile")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert _job_stats(dry.stdout) == {"paper_claims": 1, "claims_table": 1, "report_page": 1, "all": 1}, dry.stdout


def _job_stats(output: str) -> dict[str, int]:
    """The first 'Job stats' table of Snakemake's output: rule -> planned jobs."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job ") and "count" in line) + 2
    table = {}
    for line in lines[start:]:
        name, count = line.split()
        if name == "total":
            return table
        table[name] = int(count)
    return table


#: Run in a fresh interpreter with torch made unimportable: every paper's claims and figures from
#: the smoke run's combined datasets (argv[1]: results, argv[2]: an output folder).
_WITHOUT_TORCH = """
import importlib.abc, sys
from pathlib import Path

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch imported by a claims or figures job")

sys.meta_path.insert(0, NoTorch())
from deeplinear.pipeline import jobs, registry

results, out = Path(sys.argv[1]), Path(sys.argv[2])
for key in registry.PAPER_MODULES:
    paper = registry.paper(key)
    inputs = {name: results / exp.kind / key / f"{name}.nc" for name, exp in paper.experiments.items()}
    jobs.check_paper_claims(key, inputs, out / f"{key}.json")
    jobs.make_figures(key, inputs, {figure: [out / f"{key}-{figure}.png"] for figure in paper.figures})
"""


def test_claims_and_figures_jobs_run_without_torch(smoke_run, tmp_path):
    """Only experiment jobs compute with torch; the claim and figure jobs (ten of a default run)
    would pay about 1 s each to import it. Their results equal the workflow's."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, str(smoke_run / "results"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for key in registry.PAPER_MODULES:
        ours = json.loads((tmp_path / f"{key}.json").read_text())
        assert ours == json.loads((smoke_run / f"results/claims/{key}.json").read_text())
