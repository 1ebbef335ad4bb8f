"""The command modules are a shell over ``lrsweep.api``: none of them reaches into the run directory, the
engine, the executors, the runner, the choosing or torch (the ``cli`` contract of pyproject.toml, which
sees imports inside functions too), and ``import lrsweep.cli`` loads none of them."""

import subprocess
import sys

from helpers import sibling_tests


def test_the_cli_contract_is_kept():
    result = sibling_tests("test_architecture.py").lint_imports("cli")
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_cli_loads_no_engine_executor_runner_or_torch():
    probe = (
        "import sys, lrsweep.cli\n"
        "heavy = ('torch', 'lrsweep.engine', 'lrsweep.sweep.executors', 'lrsweep.sweep.runner')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
