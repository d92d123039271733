"""NetCDF datasets: provenance, atomic writes, validated reads, and combining per-job files.

Conventions: engine ``netcdf4`` on write and read, float64, zlib level 4
with shuffle, CF-style ``long_name``/``units`` on every variable, provenance in global attrs
(nested values serialised as JSON, since NetCDF attrs cannot hold dicts or None).
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

from deeplinear import NUMERICS_VERSION, __version__
from deeplinear.atomic_files import atomic_path

ENGINE = "netcdf4"
COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}
#: Attributes that legitimately differ between two runs of the same job.
VOLATILE_ATTRS = ("created", "hostname", "history", "git_commit", "git_dirty", "cases_json")


class DatasetError(RuntimeError):
    """A dataset is missing, unreadable, or lacks what the caller needs."""


def git_state(path: str | Path = ".") -> tuple[str, str]:
    """``(commit, dirty)`` of the git work tree at ``path``, or ``("unknown", "unknown")``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return commit, "true" if dirty else "false"
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the numbers."""
    import netCDF4
    import torch

    versions = {
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "torch_version": torch.__version__,
        "torch_cuda_version": str(torch.version.cuda),
        "xarray_version": xr.__version__,
        "netcdf4_version": netCDF4.__version__,
    }
    try:
        import snakemake

        versions["snakemake_version"] = snakemake.__version__
    except ImportError:  # the library runs without the workflow engine too
        versions["snakemake_version"] = "not installed"
    return versions


def provenance_attrs(
    *,
    paper: str,
    experiment: str,
    case: str,
    params: Mapping,
    device: str,
    seeds: Mapping,
    references: str,
    title: str,
    rule: str = "",
    wildcards: Mapping | None = None,
) -> dict[str, str | int | float]:
    """Global attributes for one job's dataset: CF globals plus full provenance."""
    commit, dirty = git_state(Path(__file__).resolve().parent)
    attrs: dict[str, str | int | float] = {
        "Conventions": "CF-1.12",
        "title": title,
        "institution": "deeplinear reproduction pipeline",
        "source": f"deeplinear {__version__} (numerics version {NUMERICS_VERSION})",
        "references": references,
        "history": f"{datetime.now(UTC).isoformat(timespec='seconds')} created by deeplinear",
        "paper": paper,
        "experiment": experiment,
        "case": case,
        "config_json": as_json(params),
        "seeds_json": as_json(seeds),
        "package_version": __version__,
        "numerics_version": NUMERICS_VERSION,
        "git_commit": commit,
        "git_dirty": dirty,
        "device": device,
        "torch_deterministic": "true",
        "hostname": socket.gethostname(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "snakemake_rule": rule,
        "wildcards_json": json.dumps(dict(wildcards or {}), sort_keys=True),
    }
    attrs.update(library_versions())
    return attrs


def check_cf_metadata(ds: xr.Dataset) -> None:
    """Every data variable needs ``long_name`` and ``units``; raise naming the ones that lack them."""
    missing = [str(n) for n, v in ds.data_vars.items() if "long_name" not in v.attrs or "units" not in v.attrs]
    if missing:
        raise DatasetError(f"variables without long_name/units: {missing}")


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF atomically: a temporary file in the same folder, then ``os.replace``.

    A crash mid-write never leaves a truncated file under the final name, so Snakemake (and a
    reader) sees either the old complete file or the new complete one.
    """
    check_cf_metadata(ds)
    path = Path(path)
    encoding = {
        name: dict(COMPRESSION)
        for name, var in ds.variables.items()
        if var.dtype.kind in "fiu" and var.ndim > 0 and name not in ds.dims
    }
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding, format="NETCDF4")
    return path


def read_dataset(path: str | Path, required: Iterable[str] = ()) -> xr.Dataset:
    """Load a NetCDF file fully into memory (the file is closed on return).

    Raises :class:`DatasetError` naming the file if it is missing, corrupt, or lacks any of the
    ``required`` variables.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            loaded = ds.load()
    except Exception as exc:  # netCDF4 raises OSError, ValueError, RuntimeError ... on corruption
        raise DatasetError(
            f"cannot read dataset {path} (corrupt or not NetCDF?): {exc}. "
            f"Rebuild it with: snakemake --cores 1 --force {path}"
        ) from exc
    missing = [v for v in required if v not in loaded.variables]
    if missing:
        raise DatasetError(f"dataset {path} lacks variables {missing}")
    return loaded


def combine_pieces(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """Datasets of cases of one experiment, each carrying its scan values as length-1 dimensions,
    placed into one hypercube by ``combine_by_coords`` (keyword arguments explicit because
    xarray's defaults are changing; attributes that differ are dropped). A job running several
    cases combines them by this too, so combining in two rounds gives what one round gives.

    Pieces need not tile the grid regularly: when jobs bundle cases differently along two scan
    dimensions (depth 16 as one piece of every width, depth 32 as three bands of widths), the
    pieces are cut into slices of one value along the first dimension in which they differ, each
    slice's row is combined on its own, and the rows are then stacked (:func:`_combine_rows`)."""
    try:
        return _combine_by_coords(datasets)
    except ValueError:
        differing = _differing_dims(datasets)
        if len(differing) < 2:
            raise
        return _combine_rows(datasets, differing[0])


def _combine_by_coords(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    return xr.combine_by_coords(
        list(datasets),
        compat="no_conflicts",
        data_vars="minimal",  # variables without the scan dims (e.g. a shared kernel) stay single
        coords="different",
        join="outer",
        combine_attrs="drop_conflicts",
    )


def _differing_dims(datasets: Sequence[xr.Dataset]) -> list[str]:
    """Index dimensions whose coordinate values are not the same in every dataset, in the first
    dataset's order."""
    first = datasets[0]
    return [
        d
        for d in first.dims
        if d in first.indexes
        and any(d not in ds.indexes or not ds.indexes[d].equals(first.indexes[d]) for ds in datasets)
    ]


def _combine_rows(datasets: Sequence[xr.Dataset], dim: str) -> xr.Dataset:
    """An irregular tiling: slices of one value along ``dim``, combined per value (recursively:
    a row may still be irregular in a later dimension), then stacked (``combine_by_coords``
    orders the rows by their values)."""
    rows: dict[object, list[xr.Dataset]] = {}
    for ds in datasets:
        for i, value in enumerate(ds.indexes[dim]):
            rows.setdefault(value, []).append(ds.isel({dim: [i]}))
    return _combine_by_coords([combine_pieces(row) for row in rows.values()])


def combine_cases(paths: Iterable[str | Path]) -> xr.Dataset:
    """Combine per-job datasets along their scan dimensions into one hypercube.

    Each job file carries its scan values as length-1 dimensions, so ``combine_by_coords``
    places it; keyword arguments are explicit because xarray's defaults are changing. Per-job
    provenance that differs (creation time, host) is kept in ``cases_json``.
    """
    datasets = [read_dataset(p) for p in paths]
    if not datasets:
        raise DatasetError("no datasets to combine")
    combined = combine_pieces(datasets)
    cases = {
        ds.attrs.get("case", str(i)): {k: ds.attrs.get(k) for k in ("created", "hostname", "git_commit", "device")}
        for i, ds in enumerate(datasets)
    }
    combined.attrs["cases_json"] = json.dumps(cases, sort_keys=True)
    combined.attrs["history"] = f"{datetime.now(UTC).isoformat(timespec='seconds')} combined {len(datasets)} jobs"
    return combined


def stable_view(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the global attributes that differ between two runs of the same job."""
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in VOLATILE_ATTRS}
    return out


def as_json(value) -> str:
    """JSON text for attrs, with numpy scalars and arrays converted."""

    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"not JSON serialisable: {type(obj)}")

    return json.dumps(value, default=default, sort_keys=True)
