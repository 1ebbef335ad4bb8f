"""Executors: worker processes give the sweep one process gives, and survive a worker that dies."""

from __future__ import annotations

import json
import os
import signal
import textwrap

import pytest
import torch
from helpers import Recorded, splits_of

from lrsweep.cli import app
from lrsweep.config import parse_config
from lrsweep.errors import UsageError
from lrsweep.run.store import RunStore
from lrsweep.sweep.executors import make_executor, parse_devices
from lrsweep.sweep.executors.devices import DevicesExecutor
from lrsweep.sweep.runner import run_sweep

SWEEP = {
    "name": "workers",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 300,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 100,
        "val_fraction": 0.2,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.01, 0.03, 0.1, 0.3],
    "train": {"epochs": 2},
    "retrain": True,
}
# Workers sleep in each forward pass, so a pack is still training when the test kills its worker.
SLOW_MODEL = """
import math, multiprocessing, time
from torch import nn

class Slow(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, n_out))

    def forward(self, x):
        if multiprocessing.parent_process() is not None:
            time.sleep(0.05)
        return self.body(x)

def make(input_shape, output_size):
    return Slow(math.prod(input_shape), output_size)
"""
# Kills whichever worker process builds it for seed 1 (a segfault, as far as the parent can tell).
CRASHING_MODEL = """
import math, multiprocessing, os
import torch
from torch import nn

def make(input_shape, output_size):
    if multiprocessing.parent_process() is not None and torch.initial_seed() == 1:
        os._exit(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), output_size))
"""


def sweep(raw, out, executor=None, events=None):
    config = parse_config(raw)
    splits = splits_of(config)
    return run_sweep(config, splits, RunStore.create(out, config.name), events or Recorded(), executor=executor)


def assert_same_sweep(summary, reference):
    """Same statuses and, to float tolerance (thread counts change summation order), the same losses."""
    assert summary["best"]["id"] == reference["best"]["id"]
    rows = {r["id"]: r for r in summary["variants"]}
    assert set(rows) == {r["id"] for r in reference["variants"]}
    for expected in reference["variants"]:
        row = rows[expected["id"]]
        assert (row["status"], row["epochs_run"]) == (expected["status"], expected["epochs_run"])
        for key in ("train_loss", "val_loss", "val_acc"):
            assert row[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), (row["id"], key)
    assert summary["retrain"]["test_loss"] == pytest.approx(reference["retrain"]["test_loss"], rel=1e-4)


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    (folder / "slow_model.py").write_text(textwrap.dedent(SLOW_MODEL))
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory, slow_model):
    """The sweep trained in this process (the slow model only sleeps in worker processes)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(slow_model))
        return sweep({**SWEEP, "model": {"name": "slow_model:make"}}, tmp_path_factory.mktemp("local"))


def test_two_cpu_workers_give_the_summary_of_one_process(reference, slow_model, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(slow_model))
    events = Recorded()
    summary = sweep({**SWEEP, "model": {"name": "slow_model:make"}}, tmp_path, DevicesExecutor(["cpu", "cpu"]), events)
    assert_same_sweep(summary, reference)
    assert events.packs == [2, 2]  # at least one pack per worker
    assert {(r["backend"], r["device"]) for r in summary["variants"]} == {("devices", "cpu")}
    assert {(r["backend"], r["device"]) for r in reference["variants"]} == {("local", "cpu")}


def test_a_worker_killed_mid_pack_costs_only_a_retry_of_its_pack(reference, slow_model, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(slow_model))
    executor = DevicesExecutor(["cpu", "cpu"])
    killed = []

    class KillOnce(Recorded):
        def on_epoch(self, variant_id, record):
            pid = executor.pid_of(variant_id)
            if not killed and pid is not None:  # epoch 1 of 2 is done: the pack is mid-way
                os.kill(pid, signal.SIGKILL)
                killed.append(variant_id)

    events = KillOnce()
    summary = sweep({**SWEEP, "model": {"name": "slow_model:make"}}, tmp_path, executor, events)
    assert killed
    assert any("killed by SIGKILL" in n and "retrying the same pack" in n for n in events.notices), events.notices
    assert_same_sweep(summary, reference)


def test_a_pack_whose_worker_died_is_retried_as_that_pack_from_its_checkpoint(slow_model, tmp_path, monkeypatch):
    """Retried one variant per task, a pack's variants met other floating-point sums (up to 8% off near the
    edge of stability); retried as the same pack from its checkpoint they end exactly as uninterrupted."""
    monkeypatch.syspath_prepend(str(slow_model))
    raw = {**SWEEP, "model": {"name": "slow_model:make"}, "train": {"epochs": 3}, "retrain": False}
    plain = sweep(raw, tmp_path / "plain", DevicesExecutor(["cpu", "cpu"]))
    executor = DevicesExecutor(["cpu", "cpu"])
    killed = []

    class KillInEpoch3(Recorded):
        def on_epoch(self, variant_id, record):
            pid = executor.pid_of(variant_id)
            if not killed and pid is not None and record.epoch == 2:  # epoch 1's checkpoint has arrived
                os.kill(pid, signal.SIGKILL)
                killed.append(variant_id)

    store = RunStore.create(tmp_path / "killed", "workers")
    config = parse_config(raw)
    summary = run_sweep(config, splits_of(config), store, KillInEpoch3(), executor=executor)
    assert killed
    computed = store.read_status(killed[0])["computed"]
    assert computed["pack_size"] == 2 and computed["resumed_from_epoch"] in (1, 2)
    rows = {r["id"]: r for r in plain["variants"]}
    for row in summary["variants"]:
        for key in ("train_loss", "val_loss", "val_acc"):
            assert row[key] == rows[row["id"]][key], (row["id"], key)  # the same computation, bit for bit


def test_a_variant_that_kills_its_worker_twice_fails_and_the_sweep_finishes(
    runner, write_config, tmp_path, monkeypatch
):
    (tmp_path / "crashing_model.py").write_text(textwrap.dedent(CRASHING_MODEL))
    monkeypatch.syspath_prepend(str(tmp_path))
    raw = {**SWEEP, "seeds": [0, 1], "lr": [0.1], "model": {"name": "crashing_model:make"}}
    raw.pop("seed")
    result = runner.invoke(
        app, ["grid", str(write_config(raw)), "--devices", "cpu,cpu", "--json", "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    rows = {r["seed"]: r for r in summary["variants"]}
    assert rows[0]["status"] == "done" and rows[1]["status"] == "failed"
    assert "exited with code 3" in rows[1]["error"]
    assert summary["best"] is None  # the lr's seed group lost a seed: nothing to rank, nothing to retrain


def test_device_lists_are_checked_before_any_worker_starts():
    assert parse_devices("cpu, cpu") == ["cpu", "cpu"]
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            parse_devices("all")
    with pytest.raises(UsageError, match="cuda:9"):
        parse_devices("cpu,cuda:9")
    with pytest.raises(UsageError, match="--address needs --backend ray"):
        make_executor("local", None, "auto")
    with pytest.raises(UsageError, match="exclude each other"):
        make_executor("ray", "cpu,cpu")
    assert make_executor("local", "cpu,cpu").devices == ["cpu", "cpu"]
