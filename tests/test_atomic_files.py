"""A failed write (full disk, read-only folder, a crash) leaves neither a partial output nor litter."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import xarray as xr

from deeplinear import claims
from deeplinear.atomic_files import atomic_path
from deeplinear.pipeline import dataset


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("old, complete")
    with pytest.raises(OSError, match="No space"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old, complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_a_dataset_write_that_fails_midway_leaves_nothing_under_its_name(tmp_path, monkeypatch):
    ds = xr.Dataset({"x": ("i", np.arange(3.0), {"long_name": "x", "units": "1"})})

    def full_disk(self, path, **kwargs):
        open(path, "wb").write(b"CDF partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    with pytest.raises(OSError):
        dataset.write_dataset(ds, tmp_path / "results" / "a.nc")
    assert list((tmp_path / "results").iterdir()) == []


def test_claim_records_are_written_whole(tmp_path):
    record = claims.Claim("X1", "p", "t", 1.0, 1.0, "exact", True)
    path = claims.write_claims_json([record], tmp_path / "c.json")
    assert claims.read_claims_json(path) == [record]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
