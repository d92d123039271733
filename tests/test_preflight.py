"""Bad input stops before any job, in seconds, with a short message naming the file or key.

One test per class of bad input found in the drills (the inputs here are examples of each class):
config files that hang or lie (alias bombs, duplicate keys, oversized files), whole numbers
written as floats, duplicated grid entries, claims whose prerequisites a grid lacks, widths below
what a method needs, and runs that would exhaust the machine or run for days unannounced.
"""

from __future__ import annotations

import pytest
import yaml

from conftest import ROOT, run_snakemake, smoke_config, write_config
from deeplinear.pipeline import configuration, cost, preflight
from deeplinear.pipeline.configuration import ConfigError


def alias_bomb(levels: int = 9, fan: int = 9) -> str:
    """A few hundred bytes of YAML that expand to ``fan ** levels`` strings."""
    lines = ["a0: &a0 [" + ",".join(['"x"'] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_milliseconds_naming_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    # refused while composing, by counting aliases: nothing is expanded (unguarded, the run hung)
    with pytest.raises(ConfigError, match=r"bomb\.yaml, line \d+: more than 64 YAML aliases"):
        configuration.read_config_file(path)


def test_a_few_aliases_that_expand_past_the_value_cap_are_refused(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(alias_bomb(levels=6, fan=10))  # 50 aliases, 10^6 values
    with pytest.raises(ConfigError, match=r"wide\.yaml: more than 100,000 values"):
        configuration.read_config_file(path)


def test_an_alias_used_sensibly_is_accepted(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("grid: &g [1, 2, 3]\nother: *g\n")
    assert configuration.read_config_file(path) == {"grid": [1, 2, 3], "other": [1, 2, 3]}


@pytest.mark.parametrize(
    "text",
    ["lr: 0.25\nlr: 2.5\n", "min2021:\n  quick:\n    imbalance: {}\n  quick: {}\n"],
)
def test_a_duplicated_key_is_refused_with_file_and_line(tmp_path, text):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"dup\.yaml, line \d+: duplicate key .* \(first given on line \d+\)"):
        configuration.read_config_file(path)


def test_an_oversized_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * configuration.MAX_CONFIG_BYTES + "\nscale: quick\n")
    with pytest.raises(ConfigError, match="a config file is at most"):
        configuration.read_config_file(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("scale: quick\n\tpapers: []\n", r"line 2, column 1: YAML syntax error: .*tabs"),
        ("- scale\n- quick\n", "must be a mapping of keys"),
        ("", "is empty"),
    ],
)
def test_malformed_files_name_file_line_and_column(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        configuration.read_config_file(path)


def _with(path: str, value) -> dict:
    """The default config with ``value`` at the dotted ``path`` (scale quick)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    node = config
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        # whole numbers written as floats would crash jobs with a TypeError after the run started
        ("chizat2022.quick.gd.n_seeds", 8.0, r"n_seeds: 8\.0 is not of type 'integer' \(write .*: 8\)"),
        ("duhu2019.quick.phase_diagram.max_steps", 20.0, "is not of type 'integer'"),
        # grids with a repeated entry
        ("min2021.quick.imbalance.inits", [[0.3, 0.3], [0.3, 0.3]], "non-unique"),
        ("sirignano2022.quick.sgd.widths", [100, 100], "non-unique"),
        ("papers", ["min2021", "min2021"], "non-unique"),
        # a claim's prerequisites missing from its grid
        ("min2021.quick.imbalance.lr_factors", [0.5, 0.25], "lr_factors .* must hold 1.0 as its largest"),
        ("bassetti2024.quick.proportional.ratios", [0.25, 0.5], "must contain 0: claim B6"),
        ("bassetti2024.quick.proportional.outputs", 1, "outputs must be >= 2: claim B3"),
        ("bassetti2024.quick.brute_force.outputs", 1, "outputs must be >= 2: claim B3"),
        ("sirignano2022.quick.sgd.input_dim", 1, "input_dim must be >= 2 .* distinct directions"),
        # every width list checked against what its method needs
        ("min2021.quick.implicit_bias.brute_force_widths", [4, 64], "brute_force_widths .* must all be >= n_samples"),
        ("min2021.quick.implicit_bias.widths", [4, 200], "widths .* must all be >= n_samples"),
    ],
)
def test_a_bad_value_is_refused_before_any_job_naming_the_key(path, value, match):
    with pytest.raises(ConfigError, match=match) as info:
        preflight.check_config(_with(path, value), [], source="test")
    assert len(str(info.value).splitlines()) == 1


def test_the_default_and_smoke_configs_pass_the_preflight():
    default = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert preflight.check_config(default, [ROOT / "config.yaml"], source="config.yaml")
    assert preflight.check_config(smoke_config(), [], source="smoke")
    assert preflight.check_config({**default, "scale": "paper"}, [], source="paper")


def _all_jobs(config):
    estimates = cost.estimate_jobs(config, cost.read_calibration())
    names = [e.name for e in estimates if e.rule not in cost.POST_RULES]
    counts = preflight.post_rule_counts(e.rule for e in estimates if e.rule in cost.POST_RULES)
    return names, counts


def test_a_run_estimated_past_long_run_hours_needs_confirm_long():
    config = {**yaml.safe_load((ROOT / "config.yaml").read_text()), "scale": "paper"}
    names, counts = _all_jobs(config)
    with pytest.raises(ConfigError, match=r"estimated at [\d.]+ h .* confirm_long=True"):
        preflight.check_before_start(config, names, counts, cores=2)
    assert preflight.check_before_start({**config, "confirm_long": True}, names, counts, cores=2)
    # the same run with only its cheapest jobs left to do (a resumed run) is not refused
    cheap = sorted(cost.estimate_jobs(config, cost.read_calibration()), key=lambda e: e.seconds)
    few = [e.name for e in cheap if e.rule not in cost.POST_RULES][:3]
    assert len(preflight.check_before_start(config, few, {}, cores=2)) == 3


def test_a_local_job_estimated_past_the_memory_limit_is_refused():
    config = _with("min2021.quick.implicit_bias.brute_force_widths", [64, 1_000_000])  # about 60 GB
    names, counts = _all_jobs(config)
    # confirmed long, so that the memory check is the one that speaks (such a job is long too)
    with pytest.raises(ConfigError, match=r"min2021/implicit_bias_brute/h_1000000 \([\d.]+ GB\)"):
        preflight.check_before_start({**config, "memory_limit_gb": 24, "confirm_long": True}, names, counts, cores=2)
    # on a cluster the job gets its own mem_mb instead
    preflight.check_before_start({**config, "memory_limit_gb": 24, "confirm_long": True}, names, counts, 2, local=False)


@pytest.mark.workflow
def test_snakemake_stops_a_bad_config_with_a_short_message(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    result = run_snakemake(tmp_path / "w", "-n", configfile=bomb, timeout=300)  # a hang fails here
    assert result.returncode != 0
    said = (result.stdout + result.stderr).strip().splitlines()
    assert any("bomb.yaml, line" in line and "aliases" in line for line in said), said
    assert len(said) <= 12, said


@pytest.mark.workflow
def test_snakemake_refuses_a_long_run_before_any_job_but_plans_it(tmp_path):
    overrides = write_config({"scale": "paper"}, tmp_path / "paper.yaml")
    dry = run_snakemake(tmp_path / "w", "-n", "--cores", "2", configfile=overrides, timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]  # a dry run shows the plan
    run = run_snakemake(tmp_path / "w", "--cores", "2", configfile=overrides, timeout=600)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "--config confirm_long=True" in said, said[-3000:]
    assert not (tmp_path / "w" / "results").exists()  # no job started
    # the hint works as written: Snakemake's --config reads True as a boolean (lower-case true
    # stays a string and fails the schema)
    confirmed = run_snakemake(
        tmp_path / "w", "-n", "--cores", "2", "--config", "confirm_long=True", configfile=overrides, timeout=600
    )
    assert confirmed.returncode == 0, confirmed.stderr[-3000:]
