"""Shared fixtures. Every statistical test fixes its seed; tolerances are stated where used."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplinear.pipeline import registry

ROOT = Path(__file__).resolve().parents[1]


def smoke_config() -> dict:
    """Every registered paper's ``smoke.yaml`` merged over config.yaml, as Snakemake merges a
    --configfile (:func:`deeplinear.pipeline.registry.smoke_config`)."""
    import yaml

    from deeplinear.pipeline.configuration import merge_config

    return merge_config(yaml.safe_load((ROOT / "config.yaml").read_text()), registry.smoke_config())


def write_config(config: dict, path: Path) -> Path:
    """``config`` as a YAML file for ``--configfile``."""
    import yaml

    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


#: The smoke overlay as a file for ``snakemake --configfile`` (written once per test session).
SMOKE_CONFIG = Path(tempfile.mkdtemp(prefix="deeplinear-smoke-")) / "smoke.yaml"
write_config(registry.smoke_config(), SMOKE_CONFIG)
atexit.register(shutil.rmtree, SMOKE_CONFIG.parent, ignore_errors=True)


#: What a checkout needs to run the workflow (the rest of the repository is tests and records).
CHECKOUT = ("Snakefile", "config.yaml", "environment.yml", "workflow", "src", "profiles")


def copy_checkout(dest: Path, *, fresh_mtimes: bool = False) -> Path:
    """A copy of the workflow's code at ``dest`` (another clone, elsewhere). ``fresh_mtimes`` gives
    every file a new modification time, as a fresh ``git clone`` has; otherwise times are kept."""
    copy = shutil.copy if fresh_mtimes else shutil.copy2
    dest.mkdir(parents=True)
    for name in CHECKOUT:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, dest / name, copy_function=copy, ignore=ignore)
        else:
            copy(ROOT / name, dest / name)
    return dest


def copy_results(run: Path, dest: Path, *, metadata: bool = True) -> Path:
    """A finished run's results and figures (and Snakemake's ``.snakemake`` metadata) copied to
    ``dest`` with their times, as ``rsync -a`` copies them."""
    dest.mkdir(parents=True)
    for name in ("results", "figures", *([".snakemake"] if metadata else [])):
        shutil.copytree(run / name, dest / name, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _float64_and_seed():
    """Each test starts from the same torch seed and float64 default, and restores the dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


def snakemake_executable() -> list[str]:
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake is not installed in this environment")
    return [exe]


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = SMOKE_CONFIG,
    timeout: int = 1800,
    snakefile: Path = ROOT / "Snakefile",
):
    """Run the real workflow (the repo's Snakefile, or ``snakefile``) in ``workdir``; returns the
    CompletedProcess.

    Runs in its own process group; on timeout the whole group is SIGKILLed (a stuck SLURM
    status poll ignores SIGTERM) and the test fails with the output so far. The default timeout
    is about 6x the smoke run's time on a quiet 2-core machine, so a busy machine still passes.
    """
    cmd = [*snakemake_executable(), "--snakefile", str(snakefile), "--directory", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # jobs find this env
    proc = subprocess.Popen(
        [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"snakemake killed after {timeout} s: {' '.join(args)}\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """One local run of the whole workflow on every paper's smoke section, shared by the tests."""
    workdir = tmp_path_factory.mktemp("smoke")
    result = run_snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir
