"""`grid --tensorboard`: per-variant scalars that TensorBoard reads back; a clear message without it."""

from __future__ import annotations

import csv
import sys

import pytest

from lrsweep.cli import app


def test_missing_tensorboard_is_refused_before_training(runner, write_config, tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    result = runner.invoke(
        app, ["grid", str(write_config(tiny_sweep)), "--out", str(tmp_path / "runs"), "--tensorboard"]
    )
    assert result.exit_code == 2 and "pip install 'lrsweep[tensorboard]'" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_tensorboard_scalars_per_variant_and_for_the_retrain(runner, write_config, tiny_sweep, tmp_path):
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = write_config({**tiny_sweep, "lr": [0.1, 0.3], "scheduler": {"type": "onecyclelr"}})
    result = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs"), "--tensorboard", "--quiet"])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    folders = sorted(p.name for p in (run / "tensorboard").iterdir())
    variants = sorted(p.name for p in (run / "variants").iterdir())
    assert folders == sorted(variants + ["retrain"])
    for vid in variants:
        events = EventAccumulator(str(run / "tensorboard" / vid))
        events.Reload()
        tags = set(events.Tags()["scalars"])
        assert {"loss/train", "loss/val", "acc/train", "acc/val", "lr", "lr_step"} <= tags
        rows = list(csv.DictReader((run / "variants" / vid / "metrics.csv").open()))
        logged = [e.value for e in events.Scalars("loss/val")]
        assert logged == pytest.approx([float(r["val_loss"]) for r in rows], rel=1e-6)
        assert [e.step for e in events.Scalars("lr")] == [int(r["epoch"]) for r in rows]
