"""The core knows no cloud: only the registry imports a provider, and the types providers build on
import neither a provider nor the registry."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wiam import registry

CORE = Path(__file__).resolve().parent.parent / "compiler"
# What providers build on: these may import neither a provider nor the registry (no cycle, ever).
TYPES = ("access", "diagnostics", "findings", "live", "model", "names", "plan", "provider", "terraform", "verdict",
         "document")


def _imports(path: Path) -> list[str]:
    """Every module an import statement of `path` names, absolute, with `wiam` for the core package."""
    package = ["wiam", *path.relative_to(CORE).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return found


CORE_MODULES = sorted(p for p in CORE.rglob("*.py"))


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_only_the_registry_imports_a_provider(path):
    if path.name == "registry.py":
        return
    providers = [m for m in _imports(path) if m == "wiam.providers" or m.startswith("wiam.providers.")]
    assert not providers, f"{path.relative_to(CORE)} imports {providers}: ask wiam.registry instead"


@pytest.mark.parametrize("name", TYPES)
def test_types_import_no_provider_nor_registry(name):
    imported = _imports(CORE / f"{name}.py")
    assert not [m for m in imported if m.startswith(("wiam.providers", "wiam.registry"))]


def test_the_check_sees_imports():
    """The checker itself: a relative import of the registry resolves to wiam.registry."""
    assert "wiam.registry" in _imports(CORE / "graph.py")
    assert "wiam.providers.aws" not in _imports(CORE / "registry.py")  # loaded by name, lazily


def test_the_shipped_schema_is_the_core_and_every_provider():
    """Editors read schemas/wiam.schema.json; validation composes the same from the registry."""
    from wiam import schema

    shipped = json.loads((CORE.parent / "schemas" / schema.SCHEMA_FILE).read_text(encoding="utf-8"))
    assert shipped == schema.schema(), "run python -m wiam.schema to rewrite it"
    assert set(shipped["properties"]["target"]["properties"]) == set(registry.names())


def _literals(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


@pytest.mark.parametrize("path", [p for p in CORE_MODULES if p.name != "registry.py"],
                         ids=lambda p: str(p.relative_to(CORE)))
def test_the_core_names_no_cloud(path):
    """A cloud is known by its registry entry alone: no core module compares with or picks one by name."""
    assert not _literals(path) & set(registry.names())


@pytest.mark.parametrize("path", [p for p in CORE_MODULES if p.name != "issuers.py"],
                         ids=lambda p: str(p.relative_to(CORE)))
def test_issuer_kinds_are_known_in_issuers_py_alone(path):
    """What a kind's fields mean (refs, repositories, untrusted triggers) is in its row of issuers.KINDS."""
    from wiam.issuers import KINDS

    assert not _literals(path) & set(KINDS)


def test_validating_builds_no_graph():
    """Validation and compilation load every provider but never graph: networkx stays unimported."""
    program = ("import sys; from wiam.compile import compile_folder; compile_folder(sys.argv[1]); "
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'networkx' or m == 'wiam.graph'))")
    result = subprocess.run([sys.executable, "-c", program, str(CORE.parent / "examples" / "multi-cloud")],
                            capture_output=True, text=True, env={**os.environ, "WIAM_CACHE": "0"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
