"""The pipeline's config: its schema, assembled from the registry, and its validation.

The global keys (``scale``, ``papers``, ``base_seed``, ``device``) are described in
``deeplinear/config.schema.yaml``; each registered paper adds its section from the
``config.schema.yaml`` beside its package (:attr:`deeplinear.pipeline.registry.Paper.schema_file`). The
Snakefile and the command line validate through :func:`validate_config`, so both accept and
refuse the same configs, before any job starts.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deeplinear.pipeline import registry

BASE_SCHEMA = Path(__file__).with_name("config.schema.yaml")
GLOBAL_KEYS = ("scale", "papers", "base_seed", "device")


class ConfigError(ValueError):
    """A config that the schema or a paper's cross-field checks refuse."""


def config_schema(paper_keys: list[str] | None = None) -> dict[str, Any]:
    """The full JSON Schema: global keys plus a section for every registered paper.

    Sections are required for ``paper_keys`` (the papers a config asks for) and optional for
    the others.
    """
    schema = yaml.safe_load(BASE_SCHEMA.read_text())
    keys = list(registry.PAPER_MODULES)
    schema["properties"]["papers"]["items"]["enum"] = keys
    for paper in registry.papers():
        fragment = copy.deepcopy(paper.config_schema())
        for name, definition in fragment.pop("$defs", {}).items():
            if not name.startswith(f"{paper.key}_") or name in schema["$defs"]:
                raise ValueError(f"{paper.schema_file}: $defs name {name!r} must start with {paper.key}_ and be new")
            schema["$defs"][name] = definition
        schema["$defs"][f"{paper.key}_scale"] = fragment
        ref = {"$ref": f"#/$defs/{paper.key}_scale"}
        schema["properties"][paper.key] = {
            "description": f"{paper.title}: {paper.reference}",
            "type": "object",
            "additionalProperties": False,
            "required": ["quick", "paper"],
            "properties": {"quick": ref, "paper": ref},
        }
    wanted = [k for k in (paper_keys or []) if k in keys]
    schema["required"] = [*GLOBAL_KEYS, *wanted]
    return schema


def _path(error) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "(top level)"


def _hint(error) -> str:
    """A fix for the mistakes a new user makes first (YAML reads ``5e-3`` as a string)."""
    if error.validator == "type" and isinstance(error.instance, str):
        try:
            value = float(error.instance)
        except ValueError:
            return ""
        return f" (YAML reads {error.instance} as text: write it with a decimal point, e.g. {value:.1e})"
    return ""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file; a syntax error or an empty file raises :class:`ConfigError`
    naming the file (and the line and column of a syntax error)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from None
    if config is None:
        raise ConfigError(f"{path} is empty: a config file needs at least one key (e.g. `scale: quick`)")
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of keys, got {type(config).__name__}")
    return config


def validate_config(config: Mapping[str, Any], source: str = "config") -> None:
    """Validate ``config`` against :func:`config_schema`; raise :class:`ConfigError` with one
    short message naming ``source``, the key and the reason."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    for path, value in _leaves(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid config ({source}): at {path}: {value} is not a finite number")
    papers = config.get("papers") if isinstance(config, Mapping) else None
    schema = config_schema(list(papers) if isinstance(papers, list) else None)
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"invalid config ({source}): at {_path(error)}: {error.message}{_hint(error)}")


def _leaves(node, prefix: str = ""):
    """``(dotted path, value)`` of every scalar in a nested config."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, node


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` key by key, as Snakemake merges ``--configfile`` files
    (nested mappings merge; any other value replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
