"""The layering rule of the library, enforced: an import may only point down.

    numerics  <-  paper API  <-  papers  <-  pipeline  <-  workflow, command line

* ``deeplinear.numerics`` (engine, exact reductions, samplers, statistics, seeding, devices)
  imports nothing of the package above it;
* the paper API (the package root's ``paper_api``, ``claims``, ``plotting`` and ``variables``)
  imports numerics only;
* ``deeplinear.papers.<key>`` imports numerics, the paper API and its own package, never the
  pipeline and never another paper;
* ``deeplinear.pipeline`` may import everything.

Every module's imports are read from its source (``ast``), including imports inside functions,
so a lazy import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "deeplinear"

#: The layers, lowest first; a module may import its own layer and the layers before it.
LAYERS = ("numerics", "api", "papers", "pipeline", "entry")


def module_name(path: Path, package_root: Path = PACKAGE) -> str:
    """``src/deeplinear/numerics/engine.py`` -> ``deeplinear.numerics.engine``."""
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer a ``deeplinear`` module belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"  # the package root (version numbers only)
    if parts[1] in ("numerics", "papers", "pipeline"):
        return parts[1]
    if parts[1] == "__main__":
        return "entry"
    return "api"


def imported_modules(path: Path, package_root: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module)`` for every ``deeplinear`` module the file imports (``from deeplinear
    import x`` counts as ``deeplinear.x`` when ``x`` is a submodule; relative imports resolved)."""
    name = module_name(path, package_root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (package_root.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    package_root.parent / Path(*candidate.split("."))
                ).is_dir()
                found.append((node.lineno, candidate if is_module else base))
    return [(line, mod) for line, mod in found if mod == "deeplinear" or mod.startswith("deeplinear.")]


def violations(package_root: Path = PACKAGE) -> list[str]:
    """Every import in the package that points up a layer, or from one paper into another."""
    out = []
    for path in sorted(package_root.rglob("*.py")):
        source = module_name(path, package_root)
        for line, target in imported_modules(path, package_root):
            src_layer, dst_layer = layer_of(source), layer_of(target)
            where = f"{path.relative_to(package_root.parent)}:{line}: {source} imports {target}"
            if LAYERS.index(dst_layer) > LAYERS.index(src_layer):
                out.append(f"{where} ({src_layer} must not import {dst_layer})")
            elif src_layer == dst_layer == "papers" and source.split(".")[:3] != target.split(".")[:3]:
                if len(target.split(".")) > 2:  # deeplinear.papers itself holds no code
                    out.append(f"{where} (a paper must not import another paper)")
    return out


def test_no_module_imports_a_higher_layer():
    found = violations()
    assert not found, "imports that point up the layers:\n" + "\n".join(found)


def test_the_layers_are_the_documented_packages():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")} == {
        "numerics",
        "papers",
        "pipeline",
    }
    assert layer_of("deeplinear.numerics.engine") == "numerics"
    assert layer_of("deeplinear.paper_api") == "api"
    assert layer_of("deeplinear.papers.min2021.claims") == "papers"
    assert layer_of("deeplinear.pipeline.jobs") == "pipeline"


@pytest.mark.parametrize(
    ("where", "line", "expected"),
    [
        ("numerics/engine.py", "from deeplinear.pipeline import jobs", "numerics must not import pipeline"),
        ("numerics/stats.py", "from deeplinear import claims", "numerics must not import api"),
        ("papers/min2021/theory.py", "from deeplinear.pipeline.registry import paper", "papers must not import"),
        ("papers/min2021/claims.py", "    from deeplinear.pipeline import dataset", "papers must not import"),
        ("papers/min2021/figures.py", "from deeplinear.papers.duhu2019 import theory", "another paper"),
        ("claims.py", "from deeplinear.papers.min2021 import about", "api must not import papers"),
        ("numerics/krylov.py", "from ..pipeline import cost", "numerics must not import pipeline"),
    ],
)
def test_a_planted_violation_is_caught(tmp_path, where, line, expected):
    """The rule bites: a copy of the package with one upward import planted fails the check."""
    import shutil

    root = tmp_path / "deeplinear"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    assert violations(root) == []
    target = root / where
    body = "def _planted():\n" + line if line.startswith(" ") else line
    target.write_text(target.read_text() + "\n" + body + "\n")
    found = violations(root)
    assert len(found) == 1 and expected in found[0], found
