"""Workers of a --devices run whose parent is killed leave quietly: no BrokenPipe tracebacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import yaml
from helpers import ROOT


def test_workers_exit_quietly_when_the_parent_is_killed(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "orphans",
                "device": "cpu",
                "engine": "sequential",
                "lr": [0.01, 0.02, 0.03, 0.04],
                "data": {
                    "name": "synthetic-classification",
                    "n_samples": 4000,
                    "n_features": 32,
                    "n_classes": 3,
                    "n_test": 100,
                    "val_fraction": 0.2,
                    "batch_size": 16,
                },
                "model": {"name": "mlp", "hidden": [64]},
                "optimizer": {"name": "sgd"},
                "train": {"epochs": 50},
                "retrain": False,
            }
        )
    )
    runs = tmp_path / "runs"
    parent = subprocess.Popen(
        [sys.executable, "-m", "lrsweep", "grid", str(config), "--out", str(runs), "--devices", "cpu,cpu", "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and parent.poll() is None:
        if len(list(runs.glob("*/variants/*/metrics.csv"))) >= 2:  # both workers are training
            break
        time.sleep(0.2)
    assert parent.poll() is None, parent.communicate()
    parent.send_signal(signal.SIGKILL)
    _, err = parent.communicate(timeout=120)  # returns once every worker (sharing stderr) has exited
    assert "Traceback" not in err and "BrokenPipe" not in err, err
