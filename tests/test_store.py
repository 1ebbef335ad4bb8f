import json
import os

import pytest

from lrsweep.errors import RunDirError
from lrsweep.store import RunStore, atomic_write_text


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_run_directory_layout_and_round_trip(tmp_path):
    store = RunStore.create(tmp_path, "demo")
    assert store.path.name.startswith("demo-")
    store.write_config({"name": "demo", "lr": (0.1, 0.01)})
    store.write_meta({"versions": {"lrsweep": "0.1"}})  # what makes it a run directory lrsweep made
    store.write_metrics("v1", [{"epoch": 1, "lr": 0.1, "train_loss": 0.5, "train_acc": None, "val_loss": 0.4,
                                "val_acc": 0.9, "seconds": 1.5}])
    store.write_status("v1", {"status": "done", "final": float("nan")})
    assert (store.path / "variants" / "v1" / "metrics.csv").exists()
    assert store.read_metrics("v1")[0] == {"epoch": 1, "lr": 0.1, "train_loss": 0.5, "train_acc": None,
                                           "val_loss": 0.4, "val_acc": 0.9, "seconds": 1.5}
    assert store.read_status("v1") == {"status": "done", "final": None}  # NaN is stored as null: valid JSON
    json.loads((store.path / "variants" / "v1" / "status.json").read_text())
    assert RunStore.open(store.path).read_config()["lr"] == [0.1, 0.01]


def test_two_runs_in_the_same_second_get_distinct_directories(tmp_path):
    from datetime import datetime

    stamp = datetime(2026, 1, 1)
    a = RunStore.create(tmp_path, "x", stamp)
    b = RunStore.create(tmp_path, "x", stamp)
    assert a.path != b.path


def test_open_refuses_what_is_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirError, match="not found"):
        RunStore.open(tmp_path / "missing")
    with pytest.raises(RunDirError, match="no config.yaml"):
        RunStore.open(tmp_path)
