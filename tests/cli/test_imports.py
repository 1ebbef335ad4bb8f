"""The command modules are a shell over ``lrsweep.api``: none of them reaches into the engine, the
executors, the runner or torch directly (an AST scan, so imports inside functions count too)."""

import ast
from pathlib import Path

import pytest
from helpers import ROOT

CLI = ROOT / "lrsweep" / "cli"
FORBIDDEN = ("lrsweep.engine", "lrsweep.sweep.executors", "lrsweep.sweep.runner", "torch")


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]  # from lrsweep import runner
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_command_modules_import_no_engine_executor_runner_or_torch(path):
    bad = [name for name in imported_modules(path) if forbidden(name)]
    assert not bad, f"{path.name} imports {bad}: call lrsweep.api instead"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from lrsweep.sweep.runner import run_sweep\n    import torch.nn\n")
    assert [n for n in imported_modules(sample) if forbidden(n)] == [
        "lrsweep.sweep.runner",
        "lrsweep.sweep.runner.run_sweep",
        "torch.nn",
    ]
