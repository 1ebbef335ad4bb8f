"""The examples of your own training code run as their READMEs say: examples/own-script (plain PyTorch) and
examples/lightning (a LightningModule and a reporting callback), each as a command config, shortened to one LR
and one epoch (the configs' own grids are for people)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lrsweep.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def python_on_path(monkeypatch):
    """``python`` in the examples' commands is this interpreter (as in an activated virtualenv)."""
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two trials at once on a small CI machine


def run_example(runner, name: str, tmp_path, lrs: str, *more: str) -> dict:
    config = ROOT / "examples" / name / "sweep.yaml"
    args = ["grid", str(config), "--out", str(tmp_path), "--json", "--set", "train.epochs=1", "--set", "seeds=[0]"]
    args += ["--set", f"lr={lrs}", *more]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_own_script_example_trains_each_lr_in_its_own_process(runner, tmp_path, python_on_path):
    summary = run_example(runner, "own-script", tmp_path, "[0.003, 0.1]", "--jobs", "2")
    rows = {row["lr"]: row for row in summary["variants"]}
    assert {row["status"] for row in rows.values()} == {"done"} and summary["best"]["lr"] == 0.1
    assert summary["direction"] == "max" and 0.8 < rows[0.1]["val_acc"] <= 1
    assert rows[0.1]["val_acc"] > rows[0.003]["val_acc"]
    trial = Path(summary["run_dir"]) / "variants" / rows[0.1]["id"]
    assert (trial / "model.pt").exists()  # --out {trial_dir}: the script's own weights, in its trial folder
    assert "trained lr=0.1 seed=0" in (trial / "stdout.log").read_text()


def test_the_lightning_example_reports_through_its_callback(runner, tmp_path, python_on_path):
    pytest.importorskip("lightning")
    summary = run_example(runner, "lightning", tmp_path, "[0.003]")
    [row] = summary["variants"]
    assert row["status"] == "done" and row["epochs_run"] == 1 and row["val_loss"] < 1.0 and row["val_acc"] > 0.7
    assert row["train_loss"] is not None
