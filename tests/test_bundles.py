"""Jobs that run several cases of one experiment (``min_job_seconds``): same data as one job per case."""

from __future__ import annotations

import xarray as xr

from conftest import smoke_config
from deeplinear.pipeline import dataset, jobs


def _combined(config, min_job_seconds, experiment, out):
    config = {**config, "min_job_seconds": min_job_seconds}
    table = {k: j for k, j in jobs.job_table(config).items() if k[:2] == experiment}
    paths = [jobs.run_job(job, out / f"{case}.nc") for (_, _, case), job in table.items()]
    return table, dataset.combine_cases(paths)


def test_a_bundled_job_writes_the_data_of_its_cases(tmp_path):
    """Sirignano's smoke SGD grid (three widths) as three jobs and as one: the combined datasets
    are identical apart from the provenance that names the jobs."""
    config = smoke_config()
    key = ("sirignano2022", "sgd")
    (tmp_path / "one").mkdir(), (tmp_path / "each").mkdir()
    each_table, each = _combined(config, 0, key, tmp_path / "each")
    one_table, one = _combined(config, 1e9, key, tmp_path / "one")
    assert len(each_table) == 3 and len(one_table) == 1
    (bundle,) = one_table.values()
    assert bundle.case == "{}..{}".format(*[k[2] for k in each_table][::2])
    xr.testing.assert_identical(dataset.stable_view(one).drop_attrs(), dataset.stable_view(each).drop_attrs())
    record = dataset.read_dataset(tmp_path / "one" / f"{bundle.case}.nc").attrs
    assert record["case"] == bundle.case and "bundled_cases" in record["config_json"]


def test_a_case_inside_a_bundled_job_can_still_be_run_alone():
    """`python -m deeplinear run min2021 implicit_bias_brute h_200` names a case, not a job."""
    config = smoke_config()
    bundled = jobs.job_table({**config, "min_job_seconds": 1e9})
    single = jobs.job_table({**config, "min_job_seconds": 0})
    key = next(k for k in single if k[:2] == ("min2021", "implicit_bias_brute"))
    assert key not in bundled
    job = jobs.single_case_job(bundled, *key)
    assert job is not None and job == single[key]
    assert jobs.single_case_job(bundled, "min2021", "implicit_bias_brute", "h_3") is None
