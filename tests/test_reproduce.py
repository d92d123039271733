"""`deeplinear reproduce`: one command runs chosen papers, resumes a killed run, says the time
left from the cost model and publishes the records."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import copy_results, smoke_config
from deeplinear.pipeline import cost, reproduce
from deeplinear.pipeline.cli import main


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _rows(path, paper):
    with open(path, newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["paper"] == paper]


def test_reproduce_resumes_a_killed_run_and_publishes_it(smoke_run, tmp_path):
    work = copy_results(smoke_run, tmp_path / "work")
    # what a kill leaves: a job's dataset never written (outputs are atomic), Snakemake's lock and
    # the pid of the dead reproduce
    lost = sorted((work / "results/width_scaling/sirignano2022/sgd").glob("*.nc"))[0]
    lost.unlink()
    locks = work / ".snakemake/locks"
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "0.output.lock").write_text(str(lost) + "\n")
    (work / reproduce.PID_NAME).write_text(str(_dead_pid()))
    lines: list[str] = []

    folders = reproduce.reproduce(
        ["sirignano2022"], smoke_config(), work, 2, tmp_path / "published", interval=5, say=lines.append
    )

    n_jobs = sum(1 for key in reproduce.jobs.job_table(smoke_config()) if key[0] == "sirignano2022")
    assert any("removed the lock of a killed run" in line for line in lines)
    assert f"{n_jobs - 1} of {n_jobs} jobs cached" in lines[1]
    progress = [line for line in lines if "experiment jobs done" in line]
    assert progress and "left on 2 cores (cost model)" in progress[0]
    assert progress[-1].startswith(f"reproduce: {n_jobs} of {n_jobs} experiment jobs done")
    assert lost.exists() and not (work / reproduce.PID_NAME).exists()
    assert folders == [tmp_path / "published/sirignano2022"]
    # the resumed job is the same deterministic job: the record equals the smoke run's claims
    published = _rows(folders[0] / "claims.csv", "sirignano2022")
    assert published == _rows(smoke_run / "results/claims.csv", "sirignano2022")
    run_md = (folders[0] / "RUN.md").read_text()
    assert "python -m deeplinear reproduce" in run_md
    # the estimate made before the run is recorded and set beside the measured time
    estimate = cost.read_run_estimate(work / cost.RUN_ESTIMATE_NAME)
    assert sum(name.startswith("sirignano2022/") for name in estimate["jobs"]) == n_jobs
    assert "measured / estimated = " in run_md


def test_reproduce_refuses_another_config_and_a_live_run(tmp_path):
    config = smoke_config()
    reproduce.prepare_workdir(tmp_path, reproduce.run_config(config, ["min2021"]))
    with pytest.raises(ValueError, match="another config"):
        reproduce.prepare_workdir(tmp_path, reproduce.run_config({**config, "base_seed": 7}, ["min2021"]))
    (tmp_path / reproduce.PID_NAME).write_text(str(os.getpid()))
    with pytest.raises(RuntimeError, match="is running"):
        reproduce.release_stale_lock(tmp_path, ["snakemake"])
    with pytest.raises(ValueError, match="unknown paper"):
        reproduce.run_config(config, ["nosuchpaper"])


def test_reproduce_command_line_reports_bad_input(tmp_path, capsys):
    assert main(["reproduce", "nosuchpaper", "--workdir", str(tmp_path)]) == 2
    assert "unknown paper" in capsys.readouterr().err


def test_time_left_schedules_only_unfinished_jobs(tmp_path):
    done = tmp_path / "done.nc"
    done.write_text("")
    pending = [
        reproduce.PendingJob(done, 100.0),
        reproduce.PendingJob(tmp_path / "a.nc", 30.0),
        reproduce.PendingJob(tmp_path / "b.nc", 20.0),
        reproduce.PendingJob(tmp_path / "c.nc", 10.0),
    ]
    assert cost.schedule_seconds(reproduce.remaining_seconds(pending, {}, 0.0)[0], cores=2) == 30.0  # 30 | 20 + 10
    assert "1 of 4 experiment jobs done" in reproduce.progress_line(pending, 2, 75.0)
    # running jobs count what they have run: a started 5 s ago, c 25 s ago (past its 10 s estimate)
    started = {tmp_path / "a.nc": 95.0, tmp_path / "c.nc": 75.0}
    assert cost.schedule_seconds(reproduce.remaining_seconds(pending, started, 100.0)[0], 2) == 25.0  # 25 | 20 + 0
    line = reproduce.progress_line(pending, 2, 75.0, started, now=100.0)
    assert "about 25 s left" in line and "1 running past their estimate" in line


def _child(tmp_path, on_sigint: str):
    """A stand-in for Snakemake, leading its own process group as reproduce starts it, with a
    "job" (a grandchild in the group) that ignores SIGINT; it says when it is ready, and what it
    does on SIGINT is ``on_sigint``."""
    code = (
        "import pathlib, signal, subprocess, sys, time\n"
        f"signal.signal(signal.SIGINT, {on_sigint})\n"
        "job = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)'])\n"
        "pathlib.Path(sys.argv[1]).write_text(str(job.pid))\n"
        "time.sleep(60)\n"
    )
    ready = tmp_path / f"ready-{len(list(tmp_path.iterdir()))}"
    child = subprocess.Popen([sys.executable, "-c", code, str(ready)], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, int(ready.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:  # a killed orphan is a zombie until init reaps it
            return fh.read().split(") ")[1].startswith("Z")
    except (ProcessLookupError, FileNotFoundError):
        return True


def test_stopping_interrupts_snakemake_and_kills_what_is_left(tmp_path):
    """A stopped reproduce sends Snakemake's process group SIGINT (Snakemake then kills its jobs;
    SIGTERM would let them finish), then SIGKILL to whatever is left of the group after the grace
    period, jobs included; SIGTERM to reproduce runs this cleanup too."""
    polite, job = _child(tmp_path, "lambda *a: sys.exit(3)")
    reproduce._stop(polite, grace=30)
    assert polite.returncode == 3
    deadline = time.monotonic() + 10
    while not _gone(job) and time.monotonic() < deadline:  # the job ignored SIGINT: SIGKILL took it
        time.sleep(0.05)
    assert _gone(job)
    stubborn, job = _child(tmp_path, "signal.SIG_IGN")
    reproduce._stop(stubborn, grace=0.5)
    assert stubborn.returncode == -9
    deadline = time.monotonic() + 10
    while not _gone(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(job)
    with pytest.raises(SystemExit) as exit_info:
        reproduce._exit_on_sigterm(15, None)
    assert exit_info.value.code == 143


def test_snakemake_starts_in_its_own_group_with_sigint_restored(tmp_path):
    """Started from a background shell (SIGINT ignored), Snakemake still gets SIGINT's default, so
    it can turn a stop into killing its jobs; and it leads its own process group."""
    probe = (
        "import os, signal; "
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, os.getpgid(0) == os.getpid())"
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with (tmp_path / "log").open("w") as log:
            reproduce.start_snakemake([sys.executable, "-c", probe], log, os.environ).wait(timeout=60)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "log").read_text() == "True True\n"


def test_a_run_started_in_another_checkout_is_named(tmp_path):
    """Started inside a clone whose environment's deeplinear is installed from another checkout,
    reproduce runs that other checkout's workflow: it names both (the working directory's clone
    is not what runs)."""
    clone = tmp_path / "clone"
    (clone / "src" / "deeplinear").mkdir(parents=True)
    (clone / "Snakefile").write_text("")
    (clone / "runs").mkdir()
    assert reproduce.other_checkout(clone / "runs") == clone
    assert reproduce.other_checkout(reproduce.CHECKOUT / "src") is None
    assert reproduce.other_checkout(tmp_path) is None  # outside any checkout
