"""A plugin package in the working directory imports under `lrsweep` as under `python -m lrsweep`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

SCRIPT = Path(sys.executable).parent / "lrsweep"
MODEL = """import torch.nn as nn


def net(input_shape, output_size, width: int = 8):
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width, output_size))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(MODEL)
    config = {
        "name": "plug",
        "device": "cpu",
        "lr": [0.1],
        "train": {"epochs": 1},
        "data": {"name": "synthetic-classification", "n_samples": 100, "n_features": 4, "n_classes": 2, "n_test": 20},
        "model": {"name": "mypkg.models:net", "width": 4},
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "missing.yaml").write_text(yaml.safe_dump({**config, "model": {"name": "nopkg.models:net"}}))
    return tmp_path


def _run(command, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not SCRIPT.exists(), reason="the lrsweep console script is not installed beside this Python")
@pytest.mark.parametrize("how", ["script", "module"])
def test_a_package_in_the_working_directory_imports_either_way(project, how):
    launcher = [str(SCRIPT)] if how == "script" else [sys.executable, "-m", "lrsweep"]
    result = _run([*launcher, "validate", "cfg.yaml"], project)
    assert result.returncode == 0, result.stderr
    assert "cfg.yaml is valid" in result.stdout


def test_a_failed_import_says_what_was_searched(project):
    result = _run([sys.executable, "-m", "lrsweep", "validate", "missing.yaml"], project)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "No module named 'nopkg'" in line and f"(searched {project}" in line and "more on sys.path" in line
