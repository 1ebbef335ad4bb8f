"""A variant's numbers should not depend on which other variants share its pack (beyond what the float
kernels themselves do): what lrsweep controls is fixed, and re-runs meet the computation they first met."""

from __future__ import annotations

import torch

import lrsweep.engine.vectorized as vectorized
from lrsweep.config import parse_config
from lrsweep.engine.vectorized import PackTrainer
from lrsweep.plan import expand
from lrsweep.runner import train_spec

from helpers import splits_of

RAW = {
    "name": "indep", "seed": 0, "device": "cpu",
    "data": {"name": "synthetic-classification", "n_samples": 3000, "n_features": 8, "n_classes": 3,
             "n_test": 50, "val_fraction": 0.5, "batch_size": 64},
    "model": {"name": "mlp", "hidden": [16]}, "optimizer": {"name": "sgd"},
    "lr": [0.01, 0.1, 1.0], "train": {"epochs": 1},
}


def test_evaluation_does_not_depend_on_the_chunk_a_pack_size_gives(monkeypatch):
    """The evaluation chunk shrinks as the pack grows (bounded memory); the sum must not change with it."""
    config = parse_config(RAW)
    splits = splits_of(config)
    trainer = PackTrainer(expand(config), train_spec(config, splits), torch.device("cpu"))
    whole = trainer._evaluate(splits.val_x, splits.val_y)
    monkeypatch.setattr(vectorized, "EVAL_ROWS_TIMES_VARIANTS", 3 * 256)  # 256-row chunks, as a pack of 64 gets
    chunked = trainer._evaluate(splits.val_x, splits.val_y)
    assert chunked == whole
