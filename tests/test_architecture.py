"""The architecture as a checked fact: the import contracts of pyproject.toml hold, and no import circle
hides where they cannot look (a package's ``__init__`` and its own modules)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT


def lint_imports(*contracts: str) -> subprocess.CompletedProcess:
    """``lint-imports`` as a developer runs it, from the repository, on this interpreter's install."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert command, "import-linter is missing: pip install -e '.[test]'"
    args = [command, "--no-cache", "--no-logo", *(a for c in contracts for a in ("--contract", c))]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def layout():
    """benchmarks/layout.py, the script that measures the house."""
    spec = importlib.util.spec_from_file_location("layout", ROOT / "benchmarks" / "layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_import_contract_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_import_circles_not_even_through_a_packages_init():
    measure = layout()
    graph = measure.import_graph(ROOT)
    assert measure.circles(graph) == []


def test_no_upward_import_and_none_past_the_api_by_the_layout_scripts_count_either():
    measure = layout()
    graph = measure.import_graph(ROOT)
    assert measure.upward_imports(graph) == [] and measure.past_the_api(graph) == []


def test_the_layout_script_counts_with_the_layers_of_the_contract():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    house = next(c for c in config["contracts"] if c["id"] == "house")
    declared = [tuple(sorted(room.strip() for room in layer.split("|"))) for layer in reversed(house["layers"])]
    assert declared == [tuple(sorted(rooms)) for rooms in layout().LAYERS[:-1]]  # the last: the package root
