"""Run and publish chosen papers in one command, resumable after a kill, with the time left.

    python -m deeplinear reproduce duhu2019 min2021 --set scale=paper --set confirm_long=true \\
        --workdir runs/paper-scale --cores 2 --publish published/paper-scale

What it does, in order:

1. **The run's config.** The config of the command line (``--config``/``--set``, validated as the
   workflow validates it) restricted to the chosen papers, written to
   ``<workdir>/reproduce-config.yaml``. A workdir that was started with another config is refused:
   resuming must redo nothing and mix nothing.
2. **Resume.** Per-job datasets are written atomically, so a file that exists is a finished job;
   Snakemake skips them and reruns the rest (``--rerun-incomplete``). A run killed without a chance
   to clean up leaves Snakemake's lock behind: if the pid recorded in ``<workdir>/reproduce.pid``
   is no longer alive, the lock is removed (``snakemake --unlock``) and the run goes on; if it is
   alive, the command refuses (two runs must not share a workdir). Stopping the command (Ctrl-C
   or ``kill``) stops Snakemake and its running jobs; their partial outputs are never written.
3. **Progress.** Snakemake's output goes to ``<workdir>/reproduce.log``; the terminal gets one line
   whenever an experiment job finishes (at most every ``interval`` seconds otherwise): jobs done,
   time elapsed, and the time left on ``cores`` cores from the cost model
   (:mod:`deeplinear.pipeline.cost`: the longest-job-first schedule of the jobs not yet finished).
   Before the first job the per-job estimate is written to ``<workdir>/estimate.json`` (kept when
   the run resumes), so each record can set the measured time beside what was predicted.
4. **Publish.** When the run succeeds, each paper's record goes to ``--publish``
   (:mod:`deeplinear.pipeline.publish`, which refuses datasets of mixed code versions), with this
   command line as the record's command.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deeplinear.pipeline import cost, jobs

#: The checkout whose Snakefile runs (the package lives in ``<checkout>/src/deeplinear``).
CHECKOUT = Path(__file__).resolve().parents[3]
CONFIG_NAME = "reproduce-config.yaml"
PID_NAME = "reproduce.pid"
LOG_NAME = "reproduce.log"


@dataclass(frozen=True)
class PendingJob:
    """An experiment job of the run: its output dataset, its estimated seconds and its log (which
    Snakemake creates when the job starts)."""

    output: Path
    seconds: float
    log: Path | None = None


def run_config(config: Mapping[str, Any], papers: Sequence[str]) -> dict[str, Any]:
    """The config restricted to ``papers`` (each must be one the config knows)."""
    from deeplinear.pipeline import registry

    unknown = [p for p in papers if p not in registry.PAPER_MODULES or p not in config]
    if unknown or not papers:
        raise ValueError(f"unknown paper(s) {unknown or papers}; registered: {sorted(registry.PAPER_MODULES)}")
    return {**config, "papers": list(papers)}


def prepare_workdir(workdir: Path, config: Mapping[str, Any]) -> Path:
    """Write (or check) the run's config file in ``workdir``; returns its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / CONFIG_NAME
    text = yaml.safe_dump(dict(config), sort_keys=True)
    if path.exists() and yaml.safe_load(path.read_text()) != yaml.safe_load(text):
        raise ValueError(
            f"{workdir} holds a run started with another config ({path}); resume it with the same "
            "papers and --set values, or use another --workdir"
        )
    path.write_text(text)
    return path


def pending_jobs(config: Mapping[str, Any], workdir: Path, calibration: Mapping[str, Any]) -> list[PendingJob]:
    """Every experiment job of ``config`` with its output path under ``workdir`` and its estimate."""
    seconds = {e.name: e.seconds for e in cost.estimate_jobs(config, calibration)}
    results = workdir / "results"
    return [
        PendingJob(
            jobs.job_dataset_path(results, job.kind, paper, experiment, case),
            seconds[f"{paper}/{experiment}/{case}"],
            results / "logs" / job.kind / paper / experiment / f"{case}.log",
        )
        for (paper, experiment, case), job in jobs.job_table(config).items()
    ]


def remaining_seconds(
    pending: Sequence[PendingJob], started: Mapping[Path, float], now: float
) -> tuple[list[float], int]:
    """The estimated seconds left of each unfinished job (a running one, ``started`` at a time,
    less what it has run, at least 0) and how many running jobs are past their estimate."""
    left, overdue = [], 0
    for job in pending:
        if job.output.exists():
            continue
        ran = now - started[job.output] if job.output in started else 0.0
        overdue += ran > job.seconds
        left.append(max(job.seconds - ran, 0.0))
    return left, overdue


def progress_line(
    pending: Sequence[PendingJob],
    cores: int,
    elapsed: float,
    started: Mapping[Path, float] | None = None,
    now: float = 0.0,
) -> str:
    """``reproduce: 12 of 45 experiment jobs done, 5.0 min elapsed, about 20.1 min left on 2
    cores (cost model)``, and how many running jobs are past their estimate (the time left is
    then a lower bound)."""
    done = sum(j.output.exists() for j in pending)
    left, overdue = remaining_seconds(pending, started or {}, now)
    line = (
        f"reproduce: {done} of {len(pending)} experiment jobs done, {_minutes(elapsed)} elapsed, "
        f"about {_minutes(cost.schedule_seconds(left, cores))} left on {cores} cores (cost model)"
    )
    return line + (f"; {overdue} running past their estimate, so at least that" if overdue else "")


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def start_snakemake(command: Sequence[str], log, env: Mapping[str, str]) -> subprocess.Popen:
    """Start Snakemake in its own process group (stopping it reaches its jobs too), with SIGINT at
    its default: a command started in the background inherits SIGINT ignored, and Snakemake would
    then ignore the signal that makes it kill its jobs."""
    return subprocess.Popen(
        list(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env),
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """Stop Snakemake as Ctrl-C does (SIGINT to its process group: it kills its running jobs;
    SIGTERM would let them finish first), then SIGKILL whatever is left of the group after
    ``grace`` seconds, its jobs included. Their outputs are written atomically, so nothing partial
    remains, and the next run reruns them."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _written_since(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since
    except FileNotFoundError:
        return False


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def snakemake_command(workdir: Path, configfile: Path, cores: int) -> list[str]:
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    base = [exe] if exe else [sys.executable, "-m", "snakemake"]
    snakefile = CHECKOUT / "Snakefile"
    if not snakefile.exists():
        raise FileNotFoundError(f"reproduce runs the workflow of a checkout; no Snakefile at {snakefile}")
    return [
        *base,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        str(cores),
        "--rerun-incomplete",
    ]


def other_checkout(cwd: Path, checkout: Path = CHECKOUT) -> Path | None:
    """The workflow checkout that holds ``cwd`` when it is not ``checkout`` (the one this package
    belongs to, whose Snakefile and code the run uses), else None: a clone whose environment's
    editable install points at another checkout runs that other checkout."""
    for folder in (cwd, *cwd.parents):
        if (folder / "Snakefile").exists() and (folder / "src" / "deeplinear").is_dir():
            return None if folder.resolve() == checkout.resolve() else folder
    return None


def release_stale_lock(workdir: Path, command: Sequence[str]) -> bool:
    """Refuse if another reproduce runs in ``workdir``; unlock a lock left by a killed one.
    Returns whether a lock was released."""
    pid_file = workdir / PID_NAME
    if pid_file.exists():
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _alive(pid):
            raise RuntimeError(f"another reproduce (pid {pid}) is running in {workdir}")
    locks = workdir / ".snakemake" / "locks"
    if not (locks.is_dir() and any(locks.iterdir())):
        return False
    subprocess.run([*command, "--unlock"], check=True, capture_output=True, text=True)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _say(line: str) -> None:
    print(line, flush=True)  # flushed: the progress line is read from logs and pipes while it runs


def run_workflow(
    command: Sequence[str],
    workdir: Path,
    pending: Sequence[PendingJob],
    cores: int,
    *,
    interval: float = 60.0,
    say: Callable[[str], None] = _say,
) -> int:
    """Run Snakemake (output to ``reproduce.log``), saying the progress line as jobs finish."""
    start, wall_start = time.monotonic(), time.time()
    with (workdir / LOG_NAME).open("a") as log:
        env = dict(os.environ)  # the jobs find this environment's python first, as Snakemake does
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # `kill` runs the cleanup below too
        proc = None
        try:
            proc = start_snakemake(command, log, env)
            (workdir / PID_NAME).write_text(str(os.getpid()))
            done, said, started = -1, 0.0, {}
            while proc.poll() is None:
                now = time.monotonic()
                for job in pending:  # a job starts when Snakemake creates its log
                    if job.output not in started and job.log is not None and _written_since(job.log, wall_start):
                        started[job.output] = now
                now_done = sum(j.output.exists() for j in pending)
                if now_done != done or now - said >= interval:
                    say(progress_line(pending, cores, now - start, started, now))
                    done, said = now_done, now
                time.sleep(1.0)
        finally:
            if proc is not None and proc.poll() is None:  # interrupted or killed: stop Snakemake and its jobs
                _stop(proc)
            signal.signal(signal.SIGTERM, previous)
            (workdir / PID_NAME).unlink(missing_ok=True)
    say(progress_line(pending, cores, time.monotonic() - start))
    return proc.returncode


def reproduce(
    papers: Sequence[str],
    config: Mapping[str, Any],
    workdir: Path,
    cores: int,
    publish_to: Path | None,
    *,
    command_line: str = "python -m deeplinear reproduce",
    note: str = "",
    interval: float = 60.0,
    say: Callable[[str], None] = _say,
) -> list[Path]:
    """Run the chosen papers' workflow in ``workdir`` (resuming what is there) and publish them;
    returns the published folders. Raises RuntimeError if the workflow fails (its log says why)."""
    config = run_config(config, papers)
    workdir = Path(workdir).resolve()
    configfile = prepare_workdir(workdir, config)
    command = snakemake_command(workdir, configfile, cores)
    elsewhere = other_checkout(Path.cwd())
    if elsewhere is not None:
        say(
            f"reproduce: warning: this runs the workflow and code of {CHECKOUT} (where this deeplinear is installed), "
            f"not of {elsewhere}"
        )
    if release_stale_lock(workdir, command):
        say(f"reproduce: removed the lock of a killed run in {workdir}")
    calibration = cost.read_calibration()
    cost.write_run_estimate(workdir, config, calibration)
    pending = pending_jobs(config, workdir, calibration)
    finished = sum(j.output.exists() for j in pending)
    say(
        f"reproduce: {', '.join(papers)} at scale {config['scale']} in {workdir}; {finished} of {len(pending)} jobs cached"
    )
    status = run_workflow(command, workdir, pending, cores, interval=interval, say=say)
    if status != 0:
        tail = "".join((workdir / LOG_NAME).read_text().splitlines(keepends=True)[-12:])
        raise RuntimeError(
            f"the workflow failed (exit {status}); the end of {workdir / LOG_NAME}:\n{tail}"
            "Finished jobs are kept: rerun the same command to resume."
        )
    if publish_to is None:
        return []
    from deeplinear.pipeline import publish

    return publish.publish(
        papers, config, workdir / "results", workdir / "figures", Path(publish_to), command_line, note
    )
