"""Command line: run one job, one figure or one paper's claims outside Snakemake.

    python -m deeplinear jobs                       # list the jobs of config.yaml
    python -m deeplinear run min2021 implicit_bias h_200 -o out.nc
    python -m deeplinear figure min2021 implicit_bias -i implicit_bias=out.nc -o fig.pdf
    python -m deeplinear claims min2021 -i imbalance=a.nc -i implicit_bias=b.nc -o claims.json
    python -m deeplinear estimate --set scale=paper  # expected CPU time and memory, per rule
    python -m deeplinear calibrate results          # refit the cost model on a finished run
    python -m deeplinear reproduce duhu2019 --set scale=paper --workdir runs/paper --publish published/paper-scale

``--set key.path=value`` overrides config values (YAML syntax), e.g. ``--set scale=paper``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from deeplinear.pipeline import jobs
from deeplinear.pipeline.configuration import merge_config, read_config_file, validate_config

#: The repository's default config (a checkout or an editable install), the base every config file
#: is merged over, as Snakemake merges ``--configfile`` over the Snakefile's config.
DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "config.yaml"


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Read a config file merged key by key over the repository's ``config.yaml`` (where there is
    one), apply ``key.path=value`` overrides and validate it (the same schema and checks as the
    workflow: :func:`deeplinear.pipeline.configuration.validate_config`)."""
    path = Path(path)
    config = read_config_file(path)
    if DEFAULT_CONFIG.exists() and path.resolve() != DEFAULT_CONFIG:
        config = merge_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), config)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key.path=value, got {item!r}")
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    validate_config(config, source=str(path))
    return config


def _named_paths(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--input expects experiment=path, got {item!r}")
        out[name] = path
    return out


def _config_file(args: argparse.Namespace) -> str:
    """``--config`` given after the command wins over one given before it."""
    return getattr(args, "config_after", None) or args.config


def _config_of(args: argparse.Namespace) -> dict[str, Any]:
    """The validated config of the command line: ``--config``/``--set`` before or after the command."""
    return load_config(_config_file(args), args.set + getattr(args, "set_after", []))


def _add_can_fail_parser(sub, config_opts: argparse.ArgumentParser) -> None:
    cf = sub.add_parser(
        "can-fail",
        help="each claim's can-fail contract and detectable violation (power 0.9) on a finished run",
        parents=[config_opts],
    )
    cf.add_argument("papers", nargs="*", help="papers (default: the config's)")
    cf.add_argument("--results", default="results", help="results directory of the finished run")


def _add_reproduce_parser(sub, config_opts: argparse.ArgumentParser) -> None:
    rep = sub.add_parser(
        "reproduce",
        help="run chosen papers' workflow in a workdir (resumable, time left from the cost model) and publish them",
        parents=[config_opts],
    )
    rep.add_argument("papers", nargs="+")
    rep.add_argument("--workdir", required=True, help="where the run's results and figures go (resumed if there)")
    rep.add_argument("--cores", type=int, default=2)
    rep.add_argument("--publish", default=None, metavar="FOLDER", help="publish each paper's record here when done")
    rep.add_argument("--note", default="", help="a paragraph for each RUN.md")
    rep.add_argument("--interval", type=float, default=60.0, help="seconds between progress lines (default 60)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: global ``--config``/``--set`` and one subcommand per task."""
    parser = argparse.ArgumentParser(
        prog="deeplinear", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    # the config options are accepted after the command too (`estimate --set scale=paper`)
    config_opts = argparse.ArgumentParser(add_help=False)
    config_opts.add_argument("--config", dest="config_after", default=None, help=argparse.SUPPRESS)
    config_opts.add_argument("--set", dest="set_after", action="append", default=[], help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("jobs", help="list the jobs of the config", parents=[config_opts])
    est = sub.add_parser(
        "estimate", help="expected CPU time and peak memory per rule, from the cost model", parents=[config_opts]
    )
    est.add_argument("--cores", type=int, default=2, help="cores for the wall-time estimate (default 2)")
    est.add_argument("--calibration", default=None, help="cost calibration file (default: the packaged one)")
    cal = sub.add_parser("calibrate", help="fit the cost model to the benchmark files of finished runs")
    cal.add_argument("results", nargs="+", help="results directories of finished runs")
    cal.add_argument("-o", "--output", default=None, help="calibration file (default: the packaged one)")
    pub = sub.add_parser(
        "publish",
        help="copy a finished run's claims, figures and config into a committed record",
        parents=[config_opts],
    )
    pub.add_argument("papers", nargs="+")
    pub.add_argument("--results", default="results")
    pub.add_argument("--figures", default="figures")
    pub.add_argument("--command", dest="run_command", default="snakemake --cores 2", help="the command that ran")
    pub.add_argument("--note", default="", help="a paragraph for RUN.md (what was left out and why)")
    pub.add_argument(
        "--allow-mixed", action="store_true", help="publish datasets from different numerics versions (RUN.md says so)"
    )
    pub.add_argument(
        "--estimate",
        default=None,
        metavar="FILE",
        help="the per-job estimate recorded before the run (default: estimate.json beside --results, if any)",
    )
    pub.add_argument("-o", "--output", required=True)
    _add_reproduce_parser(sub, config_opts)
    run = sub.add_parser("run", help="run one experiment job", parents=[config_opts])
    run.add_argument("paper")
    run.add_argument("experiment")
    run.add_argument("case")
    run.add_argument("-o", "--output", required=True)
    run.add_argument("--threads", type=int, default=None)
    fig = sub.add_parser("figure", help="draw one figure from combined datasets")
    fig.add_argument("paper")
    fig.add_argument("figure")
    fig.add_argument("-i", "--input", action="append", default=[], metavar="EXPERIMENT=PATH")
    fig.add_argument("-o", "--output", action="append", required=True)
    cl = sub.add_parser("claims", help="check one paper's claims")
    cl.add_argument("paper")
    cl.add_argument("-i", "--input", action="append", default=[], metavar="EXPERIMENT=PATH")
    cl.add_argument("-o", "--output", required=True)
    _add_can_fail_parser(sub, config_opts)
    comb = sub.add_parser("combine", help="combine per-job datasets of one experiment")
    comb.add_argument("inputs", nargs="+")
    comb.add_argument("-o", "--output", required=True)
    return parser


def _run_figure(args: argparse.Namespace) -> None:
    jobs.make_figure(args.paper, args.figure, _named_paths(args.input), args.output)


def _run_claims(args: argparse.Namespace) -> None:
    for c in jobs.check_paper_claims(args.paper, _named_paths(args.input), args.output):
        print(f"{c.id:18s} {'PASS' if c.passed else 'FAIL'}  measured={c.measured}  predicted={c.predicted}")


def _run_combine(args: argparse.Namespace) -> None:
    jobs.combine(args.inputs, args.output)


def _run_calibrate(args: argparse.Namespace) -> None:
    from deeplinear.pipeline import cost

    path = cost.write_calibration(cost.calibrate(args.results), args.output or cost.CALIBRATION_FILE)
    print(f"wrote {path}")


def _run_publish(args: argparse.Namespace) -> None:
    from deeplinear.pipeline import publish

    config = _config_of(args)
    for folder in publish.publish(
        args.papers,
        config,
        args.results,
        args.figures,
        args.output,
        args.run_command,
        args.note,
        allow_mixed=args.allow_mixed,
        estimate=args.estimate,
    ):
        print(f"wrote {folder}")


def _run_reproduce(args: argparse.Namespace) -> None:
    import shlex

    from deeplinear.pipeline import reproduce

    folders = reproduce.reproduce(
        args.papers,
        _config_of(args),
        Path(args.workdir),
        args.cores,
        Path(args.publish) if args.publish else None,
        command_line="python -m deeplinear " + shlex.join(args.argv),
        note=args.note,
        interval=args.interval,
    )
    for folder in folders:
        print(f"wrote {folder}")


def _run_estimate(args: argparse.Namespace) -> None:
    from deeplinear.pipeline import cost

    calibration = cost.read_calibration(args.calibration or cost.CALIBRATION_FILE)
    config = _config_of(args)
    estimates = cost.estimate_jobs(config, calibration)
    print(f"config: {_config_file(args)}, scale {config['scale']}, papers {config['papers']}")
    print(cost.format_estimate(estimates, calibration, args.cores))


def _run_jobs(args: argparse.Namespace) -> None:
    for (paper, experiment, case), job in jobs.job_table(_config_of(args)).items():
        parts = job.parts()
        inside = f" (cases {', '.join(c for c, _ in parts)})" if len(parts) > 1 else ""
        print(f"{job.kind}/{paper}/{experiment}/{case}{inside}")


def _run_one_job(args: argparse.Namespace) -> None:
    table = jobs.job_table(_config_of(args))
    key = (args.paper, args.experiment, args.case)
    job = table.get(key) or jobs.single_case_job(table, *key)
    if job is None:
        raise KeyError(f"no job or case {'/'.join(key)} in the config; see `python -m deeplinear jobs`")
    jobs.run_job(job, args.output, threads=args.threads, progress=True)
    print(f"wrote {args.output}")


def _run_can_fail(args: argparse.Namespace) -> None:
    from deeplinear.pipeline import power

    papers = args.papers or _config_of(args)["papers"]
    powers = power.claim_powers(papers, args.results)
    print(power.format_powers(powers))
    if not all(p.contract.holds for p in powers):
        raise RuntimeError("some claims do not hold their can-fail contract (listed above)")


#: subcommand -> what it does
COMMANDS = {
    "figure": _run_figure,
    "claims": _run_claims,
    "combine": _run_combine,
    "calibrate": _run_calibrate,
    "publish": _run_publish,
    "reproduce": _run_reproduce,
    "estimate": _run_estimate,
    "jobs": _run_jobs,
    "run": _run_one_job,
    "can-fail": _run_can_fail,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 with a one-line message on bad input)."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for records
    try:
        COMMANDS[args.command](args)
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"deeplinear: error: {exc}", file=sys.stderr)
        return 2
    return 0
