"""Streamed Datasets: factory results checked, split by index, and the same data as Datasets and as
tensors giving the same splits, batches, sweeps (local, --devices, resumed after SIGTERM) and range tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import ROOT
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import TensorDataset

from lrsweep.cli import app
from lrsweep.config import AugmentConfig
from lrsweep.data import load_dataset, split
from lrsweep.data.streamed import DatasetColumn, StreamedSplits
from lrsweep.engine.batches import ResidentBatches, StreamedBatches, as_batches
from lrsweep.errors import DataError

EXAMPLES = ROOT / "examples"
SMALL = {"n_train": 240, "n_test": 60, "size": 8}


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


def _sweep(name: str, data: dict | None = None, **extra) -> dict:
    return {
        "name": "streamed", "seed": 0, "device": "cpu",
        "data": {"name": f"mypkg.data:{name}", **SMALL, "val_fraction": 0.25, "batch_size": 32, **(data or {})},
        "model": {"name": "cnn", "channels": [4], "hidden": [16]},
        "optimizer": {"name": "sgd", "momentum": 0.9},
        "lr": [0.01, 0.1, 0.5], "train": {"epochs": 2}, "retrain": True, **extra,
    }  # fmt: skip


def _grid(runner, write_config, raw, tmp_path, *args, name="c.yaml"):
    result = runner.invoke(
        app,
        [
            "grid",
            str(write_config(raw, name=name)),
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / f"{name}.runs"),
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_same_summary(got: dict, want: dict, tol: float = 1e-5) -> None:
    assert got["best"]["lr"] == want["best"]["lr"]
    rows = {r["id"]: r for r in got["variants"]}
    assert set(rows) == {r["id"] for r in want["variants"]}
    for w in want["variants"]:
        g = rows[w["id"]]
        assert g["status"] == w["status"] and g["epochs_run"] == w["epochs_run"]
        for key in ("train_loss", "val_loss", "val_acc"):
            assert g[key] == pytest.approx(w[key], rel=tol, abs=tol), (w["id"], key)
    if want.get("retrain"):
        assert got["retrain"]["test_loss"] == pytest.approx(want["retrain"]["test_loss"], rel=tol, abs=tol)


# --- the factory's Datasets, checked and split


def test_a_factory_returning_datasets_streams_and_splits_by_index_like_tensors():
    streamed = split(load_dataset("mypkg.data:stripes", SMALL), 0.25, seed=3)
    tensors = split(load_dataset("mypkg.data:stripes_tensors", SMALL), 0.25, seed=3)
    assert isinstance(streamed, StreamedSplits) and isinstance(streamed.train_x, DatasetColumn)
    assert streamed.sizes() == tensors.sizes() == {"train": 180, "val": 60, "test": 60}
    assert streamed.input_shape == tensors.input_shape == (3, 8, 8)
    assert streamed.task == "classification" and streamed.output_size == 4  # from Stripes.classes
    assert torch.equal(streamed.val_x[0:60], tensors.val_x) and torch.equal(streamed.val_y[0:60], tensors.val_y)
    index = torch.tensor([5, 0, 179])
    assert torch.equal(streamed.train_x[index], tensors.train_x[index])
    assert torch.equal(streamed.train_y[index], tensors.train_y[index])
    plus_x, plus_y = streamed.train_plus_val()
    want_x, want_y = tensors.train_plus_val()
    assert torch.equal(plus_x[0:240], want_x) and torch.equal(plus_y[0:240], want_y)


class _Pairs(TorchDataset):
    def __init__(self, items, **attrs):
        self.items = items
        self.__dict__.update(attrs)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.mark.parametrize("train, message", [
    (_Pairs([], num_classes=2), "the train Dataset is empty"),
    (_Pairs([torch.zeros(3)]), r"train\[0\] must be a pair \(x, y\)"),
    (_Pairs([(torch.zeros(3, dtype=torch.float64), 1)], num_classes=2), "x must be a float32 tensor"),
    (_Pairs([(torch.zeros(3), "cat")], num_classes=2), "y must be an integer class label"),
    (_Pairs([(torch.zeros(3), 1)]), "integer labels need the number of classes"),
    (_Pairs([(torch.zeros(4), 1)], num_classes=2), "train and test samples differ in shape"),
])  # fmt: skip
def test_malformed_datasets_are_refused_with_the_reason(monkeypatch, train, message):
    test = _Pairs([(torch.zeros(3), 0)])
    module = type(sys)("bad_streams")
    module.make = lambda: (train, test)
    monkeypatch.setitem(sys.modules, "bad_streams", module)
    with pytest.raises(DataError, match=message):
        load_dataset("bad_streams:make", {})


def test_float_targets_make_a_regression_dataset(monkeypatch):
    x, y = torch.randn(20, 5), torch.randn(20, 2)
    module = type(sys)("reg_streams")
    module.make = lambda: (TensorDataset(x, y), TensorDataset(x[:5], y[:5]))
    monkeypatch.setitem(sys.modules, "reg_streams", module)
    splits = split(load_dataset("reg_streams:make", {}), 0.2, seed=0)
    assert splits.task == "regression" and splits.output_size == 2 and splits.num_classes is None
    assert splits.train_y[torch.tensor([0, 1])].shape == (2, 2)


# --- batch sources: the same batches either way


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("augment", [None, AugmentConfig(crop=2, flip=True, cutout=2)])
def test_streamed_batches_equal_resident_ones_for_every_seed(workers, augment):
    splits = split(load_dataset("mypkg.data:stripes", SMALL), 0.25, seed=0)
    tensors = split(load_dataset("mypkg.data:stripes_tensors", SMALL), 0.25, seed=0)
    streamed = StreamedBatches(splits.train_x.rows, [0, 1], 50, augment, num_workers=workers)
    resident = ResidentBatches(tensors.train_x, tensors.train_y, [0, 1], 50, augment)
    for _epoch in range(2):
        pairs = list(zip(streamed.epoch(), resident.epoch()))
        assert len(pairs) == 4  # 180 rows in batches of 50
        for a, b in pairs:
            for seed in (0, 1):
                assert torch.equal(a.get(seed)[0], b.get(seed)[0]) and torch.equal(a.get(seed)[1], b.get(seed)[1])
    assert torch.equal(next(streamed.epoch()).get(0)[1], next(resident.epoch()).get(0)[1])


def test_sources_resume_from_their_state():
    tensors = split(load_dataset("mypkg.data:stripes_tensors", SMALL), 0.25, seed=0)
    source = as_batches(
        (tensors.train_x, tensors.train_y), [0], type("S", (), {"batch_size": 64, "augment": AugmentConfig(flip=True)})
    )
    list(source.epoch())
    state = source.state_dict()
    second = [b.get(0)[0] for b in source.epoch()]
    source.load_state_dict(state)
    assert all(torch.equal(a, b.get(0)[0]) for a, b in zip(second, source.epoch()))


# --- sweeps: streamed == tensors, in every way a sweep runs


def test_a_streamed_sweep_equals_the_same_data_as_tensors(runner, write_config, tmp_path):
    augment = {"augment": {"crop": 1, "flip": True}}
    tensors = _grid(runner, write_config, _sweep("stripes_tensors", augment), tmp_path, name="t.yaml")
    streamed = _grid(runner, write_config, _sweep("stripes", {**augment, "num_workers": 1}), tmp_path, name="s.yaml")
    assert_same_summary(streamed, tensors)
    sequential = _grid(
        runner, write_config, _sweep("stripes", augment), tmp_path, "--engine", "sequential", name="q.yaml"
    )
    assert_same_summary(sequential, tensors, tol=1e-4)


def test_a_streamed_sweep_on_two_worker_processes_equals_the_local_one(runner, write_config, tmp_path):
    raw = _sweep("stripes", {"num_workers": 2}, retrain=False)  # a daemonic worker may not fork: loads in-process
    local = _grid(runner, write_config, raw, tmp_path, name="l.yaml")
    devices = _grid(runner, write_config, raw, tmp_path, "--devices", "cpu,cpu", name="d.yaml")
    assert_same_summary(devices, local)
    assert {r["backend"] for r in devices["variants"]} == {"devices"}


def test_a_streamed_sweep_with_asha_runs_to_the_end(runner, write_config, tmp_path):
    raw = _sweep(
        "stripes",
        retrain=False,
        lr=[0.001, 0.01, 0.1, 0.5],
        train={"epochs": 3},
        prune={"type": "asha", "grace_epochs": 1, "reduction": 2},
    )
    summary = _grid(runner, write_config, raw, tmp_path)
    statuses = sorted(r["status"] for r in summary["variants"])
    assert "pruned" in statuses and "done" in statuses


def test_find_on_a_streamed_dataset_equals_find_on_tensors(runner, write_config, tmp_path):
    reports = []
    for name in ("stripes", "stripes_tensors"):
        config = write_config(_sweep(name), name=f"{name}.yaml")
        result = runner.invoke(
            app,
            [
                "find",
                str(config),
                "--steps",
                "30",
                "--start",
                "1e-4",
                "--device",
                "cpu",
                "--json",
                "--out",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    assert reports[0]["suggestions"] == pytest.approx(reports[1]["suggestions"], rel=1e-4)


def _a_variant_mid_way(out) -> bool:
    """One variant finished and another has epoch rows but no status yet."""
    variants = list(out.glob("*/variants/*"))
    done = [v for v in variants if (v / "status.json").exists()]
    return bool(done) and any((v / "metrics.csv").exists() and v not in done for v in variants)


def test_a_streamed_sweep_resumed_after_sigterm_finishes_with_the_uninterrupted_summary(runner, write_config, tmp_path):
    raw = _sweep(
        "stripes",
        {"n_train": 400, "num_workers": 1, "augment": {"flip": True}},
        engine="sequential",
        lr=[0.003, 0.03, 0.1, 0.3],
        retrain=False,
    )
    config = write_config(raw, name="slow.yaml")
    out = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLES)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrsweep", "grid", str(config), "--out", str(out), "--quiet"],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _a_variant_mid_way(out):  # a signal then lands inside a variant, never between two
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no variant was mid-way in time"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    run = next(out.iterdir())
    statuses = [json.loads(p.read_text())["status"] for p in run.glob("variants/*/status.json")]
    assert "interrupted" in statuses and len(statuses) < len(raw["lr"])

    resumed = runner.invoke(app, ["grid", "--resume", str(run), "--json", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    reference = _grid(runner, write_config, raw, tmp_path, name="ref.yaml")
    assert_same_summary(json.loads((run / "summary.json").read_text()), reference, tol=1e-6)
