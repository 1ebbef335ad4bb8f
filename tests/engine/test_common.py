"""The divergence rule: a loss that is not finite, or grows far past its value at initialisation."""

import math

import pytest
import torch
from helpers import splits_of

from lrsweep.config import OptimizerConfig, parse_config
from lrsweep.engine.common import BLOWUP_FACTOR, STATUS_DIVERGED, STATUS_DONE, TrainSpec, diverged
from lrsweep.engine.loop import train_variant
from lrsweep.engine.vectorized import train_pack
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.run.store import RunStore
from lrsweep.sweep.plan import Variant
from lrsweep.sweep.runner import run_sweep


def test_the_rule():
    assert diverged(float("nan"), 1.0) and diverged(float("inf"), None)
    assert diverged(BLOWUP_FACTOR * 2.0 + 1e-6, 2.0)
    assert not diverged(BLOWUP_FACTOR * 2.0, 2.0)
    assert not diverged(1e30, None)  # no reference: only non-finite counts
    assert not diverged(None, 1.0)  # no validation split


def regression(n=200):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [2.0], [-1.0]]) + 0.5


SPEC = TrainSpec("linear", {}, (3,), 1, 12, 200, "mse")  # full batch: plain gradient descent


def gd(lr):
    return Variant(lr, OptimizerConfig("sgd", {}), parse_scheduler(None), 0)


@pytest.mark.parametrize("engine", ["sequential", "pack"])
def test_a_finite_blow_up_is_diverged_in_both_engines(engine):
    data = regression()
    if engine == "sequential":
        results = [train_variant(gd(lr), SPEC, data, data) for lr in (0.1, 1.6)]
    else:
        results = train_pack([gd(0.1), gd(1.6)], SPEC, data, data)
    fine, blown = results
    assert fine.status == STATUS_DONE and len(fine.epochs) == SPEC.epochs
    assert blown.status == STATUS_DIVERGED
    assert all(math.isfinite(e.val_loss) for e in blown.epochs)  # finite, yet far past its start
    assert len(blown.epochs) < SPEC.epochs  # stopped at the epoch it crossed the line


def test_a_blown_up_variant_is_never_ranked(tmp_path):
    config = parse_config(
        {
            "name": "blow",
            "seed": 0,
            "data": {
                "name": "synthetic-regression",
                "n_samples": 300,
                "n_features": 4,
                "noise": 0.1,
                "batch_size": 300,
            },
            "model": {"name": "linear"},
            "optimizer": {"name": "sgd"},
            "lr": [0.1, 1.5],
            "train": {"epochs": 15, "loss": "mse"},
            "select": {"metric": "val_loss"},
            "retrain": False,
        }
    )
    summary = run_sweep(config, splits_of(config), RunStore.create(tmp_path, config.name))
    rows = {r["lr"]: r for r in summary["variants"]}
    assert rows[1.5]["status"] == "diverged" and rows[1.5]["rank"] is None
    assert summary["best"]["lr"] == 0.1


def test_an_epoch_record_carries_further_metrics_through_its_row_and_back():
    from lrsweep.engine.common import EpochRecord

    record = EpochRecord(2, 0.1, 0.5, None, 0.4, None, 1.5, metrics={"val_f1": 0.8, "val_auroc": None})
    row = record.as_row()
    assert list(row)[:7] == ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    assert row["val_f1"] == 0.8 and "metrics" not in row
    assert EpochRecord.from_row(row) == record
    assert record.value("val_f1") == 0.8 and record.value("val_loss") == 0.4 and record.value("nope") is None
