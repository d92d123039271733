"""NetCDF writing/reading (atomic, validated, combinable) and claim records."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import xarray as xr

from deeplinear import claims
from deeplinear.pipeline import dataset


def _ds(width: int, seed_values=(0, 1)) -> xr.Dataset:
    values = np.arange(len(seed_values), dtype=float)[None, :] + width
    ds = xr.Dataset(
        {"distance": (("width", "seed"), values, {"long_name": "distance", "units": "1"})},
        coords={"width": [width], "seed": list(seed_values)},
    )
    ds.attrs.update(case=f"h_{width}", created=f"t{width}", hostname="x", paper="p")
    return ds


def test_write_read_roundtrip_and_no_temp_files(tmp_path):
    path = dataset.write_dataset(_ds(8), tmp_path / "sub" / "a.nc")
    back = dataset.read_dataset(path, required=["distance"])
    xr.testing.assert_identical(back.drop_attrs(), _ds(8).drop_attrs())
    assert back["distance"].dtype == np.float64
    assert [p.name for p in path.parent.iterdir()] == ["a.nc"]
    with xr.open_dataset(path, engine="netcdf4") as raw:
        assert raw["distance"].encoding["zlib"] is True


def test_write_failure_keeps_the_previous_file(tmp_path, monkeypatch):
    path = dataset.write_dataset(_ds(8), tmp_path / "a.nc")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        dataset.write_dataset(_ds(16), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def test_variables_need_cf_metadata(tmp_path):
    ds = _ds(8)
    ds["bare"] = ("seed", [1.0, 2.0])
    with pytest.raises(dataset.DatasetError, match="bare"):
        dataset.write_dataset(ds, tmp_path / "a.nc")


def test_corrupt_or_missing_file_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a netcdf file at all")
    with pytest.raises(dataset.DatasetError, match=r"bad\.nc"):
        dataset.read_dataset(bad)
    with pytest.raises(dataset.DatasetError, match="not found"):
        dataset.read_dataset(tmp_path / "missing.nc")
    good = dataset.write_dataset(_ds(8), tmp_path / "good.nc")
    with pytest.raises(dataset.DatasetError, match="lacks variables"):
        dataset.read_dataset(good, required=["loss"])


def test_combine_builds_the_hypercube_and_keeps_job_provenance(tmp_path):
    paths = [dataset.write_dataset(_ds(w), tmp_path / f"{w}.nc") for w in (32, 8, 16)]
    combined = dataset.combine_cases(paths)
    assert combined["width"].values.tolist() == [8, 16, 32]
    np.testing.assert_array_equal(combined["distance"].sel(width=16).values, [16.0, 17.0])
    assert "created" not in combined.attrs  # differs between jobs: dropped ...
    assert json.loads(combined.attrs["cases_json"])["h_16"]["created"] == "t16"  # ... but kept here
    assert combined.attrs["paper"] == "p"


def test_combine_places_pieces_that_tile_the_grid_irregularly():
    """Jobs that bundle cases differently per depth (depth 1 as bands 1-2 and 4-8, depth 2 as one
    piece of every width, depth 4 as bands 1 and 2-8) still make one hypercube, equal to the grid
    built directly, with the integer and float variables' dtypes kept; a regular tiling's result
    is what combine_by_coords alone gives."""
    depths, widths = [1, 2, 4], [1, 2, 4, 8]
    grid = xr.Dataset(
        {
            "t": (("depth", "width", "seed"), np.arange(24, dtype=np.int64).reshape(3, 4, 2)),
            "loss": (("depth", "width"), np.linspace(0.1, 1.2, 12).reshape(3, 4)),
            "lam": ("rank", np.array([1.0, 0.5])),  # no scan dim: stays single
        },
        coords={"depth": depths, "width": widths, "seed": [0, 1], "rank": [0, 1]},
    )
    tiles = [(1, [1, 2]), (1, [4, 8]), (2, widths), (4, [1]), (4, [2, 4, 8])]
    pieces = [grid.sel(depth=[d], width=w) for d, w in reversed(tiles)]
    combined = dataset.combine_pieces(pieces)
    xr.testing.assert_identical(combined, grid)
    assert combined["t"].dtype == np.int64
    regular = [grid.sel(depth=[d]) for d in depths]
    xr.testing.assert_identical(dataset.combine_pieces(regular), grid)


def test_provenance_attrs_are_netcdf_safe(tmp_path):
    attrs = dataset.provenance_attrs(
        paper="p",
        experiment="e",
        case="c",
        params={"a": [1, 2], "b": None},
        device="cpu",
        seeds={"base_seed": 1},
        references="ref",
        title="t",
    )
    ds = _ds(8).assign_attrs(attrs)
    back = dataset.read_dataset(dataset.write_dataset(ds, tmp_path / "p.nc"))
    assert json.loads(back.attrs["config_json"]) == {"a": [1, 2], "b": None}
    for key in ("git_commit", "torch_version", "xarray_version", "netcdf4_version", "numpy_version", "created"):
        assert back.attrs[key]


def test_claims_json_and_csv(tmp_path):
    records = [
        claims.Claim("X1", "p", "Thm 1", 0.5, 0.5, 0.01, True, "note, with comma"),
        claims.Claim("X2", "p", "Thm 2", math.nan, 1.0, "slope within 0.1", False),
        claims.Claim("X3", "p", "Thm 3", np.float64(2.0), "a > b", "order", np.bool_(True)),
    ]
    back = claims.read_claims_json(claims.write_claims_json(records, tmp_path / "p.json"))
    assert back[0] == records[0] and back[2].measured == 2.0 and back[2].passed is True
    assert math.isnan(back[1].measured)
    claims.write_claims_csv(back, tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert list(rows[0]) == ["id", "paper", "theorem", "measured", "predicted", "tolerance", "passed", "note"]
    assert [r["passed"] for r in rows] == ["true", "false", "true"]
    assert rows[0]["note"] == "note, with comma"


def test_fit_line_recovers_a_power_law():
    x = np.array([100, 200, 400, 800, 1600.0])
    fit = claims.loglog_slope(x, 3.0 * x**-0.5)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.r_squared == pytest.approx(1.0)
    assert math.isnan(claims.loglog_slope([1], [1]).slope)  # too few points: NaN, not a crash
    two = claims.loglog_slope([10, 1000], [1.0, 0.1])  # two points: the line through them
    assert two.slope == pytest.approx(-0.5) and math.isnan(two.slope_se)


def test_a_corrupt_dataset_names_the_file_and_the_command_that_rebuilds_it(tmp_path):
    path = tmp_path / "results" / "x.nc"
    path.parent.mkdir()
    path.write_bytes(b"not a netcdf file")
    with pytest.raises(dataset.DatasetError, match=r"x\.nc.*snakemake --cores 1 --force .*x\.nc"):
        dataset.read_dataset(path)
