"""The pipeline's config: its schema, assembled from the registry, and its validation.

The global keys (``scale``, ``papers``, ``base_seed``, ``device``, ...) are described in
``deeplinear/pipeline/config.schema.yaml``; each registered paper adds its section from the
``config.schema.yaml`` beside its package (:attr:`deeplinear.paper_api.Paper.schema_file`). The
Snakefile and the command line validate through :func:`validate_config`, so both accept and
refuse the same configs, before any job starts.

Config files are read with limits (:func:`load_yaml`): a size cap, no duplicate keys, few YAML
aliases and a cap on the values they expand to, so a malformed or hostile file is refused in
milliseconds with its name and line instead of hanging the run.
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


#: A config file larger than this is refused unread (the default config.yaml is about 9 kB).
MAX_CONFIG_BYTES = 1 << 20
#: YAML aliases (``*name``) allowed in one config file: enough for any hand-written config,
#: far too few for an alias bomb (a few hundred bytes that expand to billions of values).
MAX_ALIASES = 64
#: Values a config may hold once its aliases are expanded (the default config holds about 700).
MAX_CONFIG_VALUES = 100_000


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing duplicate keys and counting aliases (see :func:`load_yaml`)."""

    def __init__(self, stream, path: Path) -> None:
        super().__init__(stream)
        self.path = path
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"{self.path}, line {mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*name); "
                    "write the values out (a config with this many aliases is refused as a possible alias bomb)"
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{self.path}, line {line}: duplicate key {key!r} (first given on line {seen[key]}); "
                    "YAML would silently keep only the last value"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def _count_values(node, budget: int) -> int:
    """Scalars and containers in ``node`` with aliases expanded, counting down from ``budget``;
    stops (returns a negative number) as soon as the budget is spent, so a bomb costs nothing."""
    stack = [node]
    while stack and budget >= 0:
        item = stack.pop()
        budget -= 1
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return budget


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML config file with limits: at most :data:`MAX_CONFIG_BYTES`, no duplicate keys,
    at most :data:`MAX_ALIASES` aliases and :data:`MAX_CONFIG_VALUES` values once they are
    expanded; tabs and syntax errors are reported with the file, line and column."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,} bytes")
    loader = _StrictLoader(path.read_text(), path)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if _count_values(data, MAX_CONFIG_VALUES) < 0:
        raise ConfigError(
            f"{path}: more than {MAX_CONFIG_VALUES:,} values once its YAML aliases are expanded; "
            "refused as a possible alias bomb"
        )
    return data


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


def _strict_validator():
    """JSON Schema draft 2020-12, except that ``integer`` means a YAML integer: ``8.0`` is refused
    (the draft accepts it, and a job would then fail on it after the run started)."""
    from jsonschema import Draft202012Validator, validators

    def is_integer(checker, instance) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    return validators.extend(Draft202012Validator, type_checker=checker)


def _hint(error) -> str:
    """A fix for the mistakes a new user makes first (YAML reads ``5e-3`` as a string, ``8.0`` as
    a float where a whole number is wanted)."""
    if error.validator == "type" and isinstance(error.instance, float) and error.instance.is_integer():
        return f" (write the whole number without a decimal point: {int(error.instance)})"
    if error.validator == "type" and isinstance(error.instance, str):
        try:
            value = float(error.instance)
        except ValueError:
            return ""
        return f" (YAML reads {error.instance} as text: write it with a decimal point, e.g. {value:.1e})"
    return ""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file with :func:`load_yaml`; a missing, empty or non-mapping file, a
    syntax error (with its line and column) or a refused construct raises :class:`ConfigError`
    naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        config = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "\\t" in problem or "\t" in problem:
            problem += " (YAML does not allow tabs for indentation: use spaces)"
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from None
    if config is None:
        raise ConfigError(f"{path} is empty: a config file needs at least one key (e.g. `scale: quick`)")
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: a config file must be a mapping of keys (e.g. `scale: quick`), got a {type(config).__name__}"
        )
    return config


def validate_config(config: Mapping[str, Any], source: str = "config") -> None:
    """Validate ``config`` against :func:`config_schema`; raise :class:`ConfigError` with one
    short message naming ``source``, the key and the reason."""
    from jsonschema.exceptions import best_match

    if _count_values(config, MAX_CONFIG_VALUES) < 0:
        raise ConfigError(f"invalid config ({source}): more than {MAX_CONFIG_VALUES:,} values (YAML aliases expanded?)")
    for path, value in _leaves(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid config ({source}): at {path}: {value} is not a finite number")
    papers = config.get("papers") if isinstance(config, Mapping) else None
    schema = config_schema(list(papers) if isinstance(papers, list) else None)
    error = best_match(_strict_validator()(schema).iter_errors(config))
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
