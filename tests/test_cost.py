"""The cost model: calibration recovers known rates from benchmark files, estimates follow."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import yaml

from conftest import ROOT
from deeplinear.pipeline import configuration, cost, jobs, registry

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _write_job(results, kind, paper, experiment, case, params, seconds, rss):
    bench = results / "benchmarks" / kind / paper / experiment / f"{case}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{seconds}\n")
    nc = results / kind / paper / experiment / f"{case}.nc"
    nc.parent.mkdir(parents=True, exist_ok=True)
    xr.Dataset({"x": ("i", np.zeros(2))}, attrs={"config_json": json.dumps(params)}).to_netcdf(nc)


def _config():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    configuration.validate_config(config)
    return config


def test_calibration_recovers_the_rate_and_the_estimate_follows(tmp_path):
    config = _config()
    config["min_job_seconds"] = 0  # one job per case
    table = {k: j for k, j in jobs.job_table(config).items() if k[:2] == ("sirignano2022", "sgd")}
    sgd = registry.experiment("sirignano2022", "sgd")
    overhead, rate, base, factor = 3.0, 2e-9, 300.0, 1.5
    for (paper, experiment, case), job in table.items():
        c = sgd.cost(job.params)
        _write_job(
            tmp_path,
            "width_scaling",
            paper,
            experiment,
            case,
            job.params,
            overhead + rate * c.work,
            base + factor * c.memory_bytes / 1e6,
        )
    # one tiny job of another experiment fixes the overhead and the memory baseline
    law = next(j for k, j in jobs.job_table(config).items() if k[:2] == ("sirignano2022", "init_law"))
    _write_job(tmp_path, "prior_sampling", "sirignano2022", "init_law", "all", law.params, overhead, base)
    (tmp_path / "benchmarks/figures").mkdir(parents=True)
    (tmp_path / "benchmarks/figures/sirignano2022.tsv").write_text(HEADER + "4.5\t0\t350\t1\t1\t1\t0\t0\t50\t4\n")

    calibration = cost.calibrate([tmp_path])
    fit = calibration["experiments"]["sirignano2022/sgd"]
    assert calibration["overhead_s"] == pytest.approx(overhead)
    assert fit["seconds_per_work"] == pytest.approx(rate, rel=1e-6)
    assert calibration["rules"]["figures"]["seconds"] == 4.5

    config["papers"] = ["sirignano2022"]
    estimates = {e.name: e for e in cost.estimate_jobs(config, calibration)}
    job = table[("sirignano2022", "sgd", "N_1600")]
    expected = overhead + rate * sgd.cost(job.params).work
    assert estimates["sirignano2022/sgd/N_1600"].seconds == pytest.approx(expected)
    peak = base + factor * sgd.cost(job.params).memory_bytes / 1e6  # linear above the baseline
    assert estimates["sirignano2022/sgd/N_1600"].peak_mb == pytest.approx(peak, rel=1e-3)
    assert sum(e.rule == "figures" for e in estimates.values()) == 1  # one figure job per paper
    text = cost.format_estimate(list(estimates.values()), calibration, cores=2)
    assert "estimated wall time on 2 cores" in text and "width_scaling" in text


def test_longest_job_first_schedule():
    assert cost.schedule_seconds([5, 4, 3, 3, 3], cores=2) == 10  # 5+3 | 4+3+3 (LPT, not optimal 9)
    assert cost.schedule_seconds([10, 1, 1], cores=4) == 10
    assert cost.schedule_seconds([], cores=2) == 0


def test_missing_calibration_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="deeplinear calibrate"):
        cost.read_calibration(tmp_path / "none.json")


@pytest.mark.parametrize("scale", ["quick", "paper"])
def test_every_experiment_prices_every_job(scale):
    config = _config()
    config["scale"] = scale
    for (paper, experiment, case), job in jobs.job_table(config).items():
        price = registry.experiment(paper, experiment).cost
        assert price is not None, f"{paper}/{experiment} has no cost function"
        c = cost.job_cost(price, job.params)
        assert c.work > 0 and c.memory_bytes > 0, (paper, experiment, case)


def test_packaged_calibration_covers_every_experiment_of_the_default_config():
    calibration = cost.read_calibration()
    estimates = cost.estimate_jobs(_config(), calibration)
    assert all(e.seconds > 0 and e.peak_mb > 0 and not e.uncalibrated for e in estimates)


def test_an_uncalibrated_experiment_is_priced_by_the_fallback_and_flagged():
    """A new paper has no calibration yet: `estimate` still works, from its cost() at the fallback rate."""
    calibration = cost.read_calibration()
    config = _config()
    known = dict(calibration["experiments"])
    dropped = known.pop("sirignano2022/sgd")
    estimates = cost.estimate_jobs(config, {**calibration, "experiments": known})
    sgd = [e for e in estimates if e.name.startswith("sirignano2022/sgd/")]
    assert sgd and all(e.uncalibrated for e in sgd)
    assert not any(e.uncalibrated for e in estimates if not e.name.startswith("sirignano2022/sgd/"))
    job = next(j for j in jobs.job_table(config).values() if j.paper == "sirignano2022" and j.experiment == "sgd")
    work = cost.job_cost(registry.experiment("sirignano2022", "sgd").cost, job.params).work
    first = next(e for e in sgd if e.name.endswith(job.case))
    assert first.seconds == pytest.approx(calibration["overhead_s"] + work / cost.FALLBACK_WORK_PER_SECOND)
    text = cost.format_estimate(estimates, calibration, cores=2)
    assert "no calibration yet for sirignano2022/sgd" in text
    assert dropped["seconds_per_work"] > 0  # the packaged calibration did have it


def test_short_cases_are_bundled_until_the_threshold_and_priced_as_their_sum():
    seconds = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 1.0, "e": 9.0, "f": 1.0}
    groups = jobs.bundle_cases({k: {"s": v} for k, v in seconds.items()}, lambda p: p["s"], 5.0)
    assert groups == [["a", "b", "c"], ["d"], ["e"], ["f"]]  # a long case runs alone; the rest is left over
    config = _config()
    config["min_job_seconds"] = 1e9  # every experiment in one job
    table = jobs.job_table(config)
    config["min_job_seconds"] = 0
    single = jobs.job_table(config)
    bundled = table[("sirignano2022", "sgd", "N_100..N_1600")]
    parts = bundled.parts()
    assert [case for case, _ in parts] == [k[2] for k in single if k[:2] == ("sirignano2022", "sgd")]
    assert all(params == single[("sirignano2022", "sgd", case)].params for case, params in parts)
    assert bundled.params["numerics_version"] == parts[0][1]["numerics_version"]  # read by publish
    price = registry.experiment("sirignano2022", "sgd").cost
    assert cost.job_cost(price, bundled.params).work == pytest.approx(sum(price(p).work for _, p in parts))


def test_a_run_records_its_estimate_before_it_starts_and_keeps_it_on_resume(tmp_path):
    """`reproduce` writes estimate.json before the first job, so the published comparison of
    measured and estimated time is out of sample; a resumed run must not overwrite it."""
    config, calibration = _config(), cost.read_calibration()
    path = cost.write_run_estimate(tmp_path, config, calibration)
    record = cost.read_run_estimate(path)
    expected = {e.name: e.seconds for e in cost.estimate_jobs(config, calibration) if e.rule not in cost.POST_RULES}
    assert record["jobs"].keys() == {f"{p}/{e}/{c}" for p, e, c in jobs.job_table(config)} == expected.keys()
    assert all(record["jobs"][k] == pytest.approx(v, abs=0.05) for k, v in expected.items())
    assert len(record["commit"]) == 40 and record["calibrated_on"] == calibration["machine"]
    slower = {**calibration, "overhead_s": calibration["overhead_s"] + 100.0}
    cost.write_run_estimate(tmp_path, config, slower)  # the resumed run's model differs: kept anyway
    assert cost.read_run_estimate(path) == record
    assert cost.read_run_estimate(tmp_path / "none.json") is None
