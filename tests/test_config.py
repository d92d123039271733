"""A bad config stops the workflow before any job, with a message naming the key."""

from __future__ import annotations

import pytest
import yaml

from conftest import run_snakemake

pytestmark = pytest.mark.workflow


def _write(tmp_path, text: str):
    path = tmp_path / "override.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("min2021: {quick: {implicit_bias: {widths: [100, -5]}}}", ["widths", "-5", "minimum"]),
        ("min2021: {quick: {imbalance: {lr: fast}}}", ["lr", "fast", "not of type"]),
        ("min2021: {quick: {imbalance: {widht: 500}}}", ["widht", "Additional properties"]),
        ("scale: huge", ["scale", "huge"]),
        ("device: tpu", ["device", "tpu"]),
        ("min2021: {quick: {imbalance: {input_dim: 10}}}", ["min2021.imbalance.input_dim"]),
        ("chizat2022: {quick: {gd: {truncation_margins: [1, 3]}}}", ["truncation_margins", "minimum"]),
        ("chizat2022: {quick: {gd: {n_samples: 1}}}", ["n_samples", "minimum"]),
        ("duhu2019: {quick: {phase_diagram: {depths: [2, 3, 4]}}}", ["duhu2019.phase_diagram.depths", "contain 1"]),
        ("duhu2019: {quick: {phase_diagram: {rank: 40}}}", ["duhu2019.phase_diagram.rank"]),
        ("min2021: {quick: {imbalance: {width: 50}}}", ["min2021.imbalance.width", "n_samples"]),
        ("min2021: {quick: {imbalance: {lr: .nan}}}", ["imbalance.lr", "not a finite number"]),
        ("min2021: {quick: {imbalance: {lr: 5e-3}}}", ["imbalance.lr", "decimal point"]),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, override, expected):
    result = run_snakemake(
        tmp_path, "-n", "--cores", "1", "--configfile", str(_write(tmp_path, override)), configfile=None
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from:\n{output[-3000:]}"
    assert not (tmp_path / "results").exists()


def test_default_and_paper_scale_configs_build_a_dag(tmp_path):
    quick = run_snakemake(tmp_path, "-n", "--cores", "1", "--quiet", configfile=None)
    assert quick.returncode == 0, quick.stderr[-3000:]
    paper = run_snakemake(tmp_path, "-n", "--cores", "1", "--config", "scale=paper", configfile=None)
    assert paper.returncode == 0, paper.stderr[-3000:]
    assert "results/width_scaling/min2021/implicit_bias_brute/h_2000.nc" in paper.stdout
    assert "results/width_scaling/chizat2022/finite_width/all.nc" in paper.stdout


def test_cli_validates_the_same_schema_wherever_the_file_is(tmp_path):
    from conftest import ROOT
    from deeplinear.pipeline.cli import main

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["min2021"]["quick"]["implicit_bias"]["alphas"] = [0.2]
    (tmp_path / "elsewhere.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["--config", str(tmp_path / "elsewhere.yaml"), "jobs"]) == 2


def test_schema_is_assembled_from_the_registry():
    from conftest import ROOT
    from deeplinear.pipeline import configuration, registry

    schema = configuration.config_schema(["min2021"])
    assert schema["properties"]["papers"]["items"]["enum"] == list(registry.PAPER_MODULES)
    for key in registry.PAPER_MODULES:
        assert schema["properties"][key]["properties"]["quick"] == {"$ref": f"#/$defs/{key}_scale"}
    assert "min2021" in schema["required"] and "duhu2019" not in schema["required"]
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    configuration.validate_config(cfg)
    only_min = {k: cfg[k] for k in ("scale", "base_seed", "device", "min2021")} | {"papers": ["min2021"]}
    configuration.validate_config(only_min)  # sections of papers not asked for are optional
    with pytest.raises(configuration.ConfigError, match=r"at min2021: .*required"):
        configuration.validate_config(only_min | {"min2021": {}})
    cfg["min2021"]["quick"]["imbalance"]["lr"] = "5e-3"
    with pytest.raises(configuration.ConfigError, match=r"imbalance.lr: .*decimal point, e.g. 5.0e-03"):
        configuration.validate_config(cfg, source="my.yaml")


def test_merge_config_merges_nested_sections():
    from deeplinear.pipeline.configuration import merge_config

    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge_config(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_cli_merges_a_partial_config_over_the_defaults(tmp_path):
    from deeplinear.pipeline.cli import main

    partial = tmp_path / "mine.yaml"
    partial.write_text("min2021: {quick: {implicit_bias: {brute_force_seeds: 2}}}\n")
    assert main(["--config", str(partial), "jobs"]) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("min2021: {quick: [\n")
    assert main(["--config", str(broken), "jobs"]) == 2


def test_yaml_syntax_errors_and_empty_files_name_the_file_and_line(tmp_path):
    """Before: the CLI printed PyYAML's message about "<unicode string>" and accepted an empty file."""
    from deeplinear.pipeline.cli import load_config
    from deeplinear.pipeline.configuration import ConfigError

    broken = tmp_path / "broken.yaml"
    broken.write_text("scale: quick\nduhu2019:\n  quick:\n    phase_diagram: {depths: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml, line 5, column 1: YAML syntax error"):
        load_config(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml is empty"):
        load_config(empty)
    listed = tmp_path / "list.yaml"
    listed.write_text("- scale\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(listed)
