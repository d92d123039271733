"""The pinned environment: lock, environment.yml and pyproject agree."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT
from environment_sync import expected_environment, lock_pins


def _pins() -> dict[str, str]:
    return {re.split("==", p)[0].lower().replace("_", "-"): p.split("==")[1] for p in lock_pins()}


def test_lock_has_exact_pins_only():
    for pin in lock_pins():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", pin), pin


def test_torch_is_pinned_to_the_cpu_build_version():
    assert _pins()["torch"] == "2.13.0"


def test_environment_yml_matches_the_lock():
    assert (ROOT / "environment.yml").read_text() == expected_environment(), "run `make lock` to regenerate"


def test_every_declared_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    pins = _pins()
    for requirement in declared:
        name = re.split(r"[<>=!~ \[]", requirement)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in requirements.lock"
