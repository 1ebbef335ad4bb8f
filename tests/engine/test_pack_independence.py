"""A variant's numbers should not depend on which other variants share its pack (beyond what the float
kernels themselves do): what lrsweep controls is fixed, and re-runs meet the computation they first met."""

from __future__ import annotations

import torch
from helpers import splits_of

import lrsweep.engine.vectorized as vectorized
from lrsweep.config import parse_config
from lrsweep.engine.vectorized import PackTrainer
from lrsweep.sweep.plan import expand
from lrsweep.sweep.runner import train_spec

RAW = {
    "name": "indep",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 3000,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 50,
        "val_fraction": 0.5,
        "batch_size": 64,
    },
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "sgd"},
    "lr": [0.01, 0.1, 1.0],
    "train": {"epochs": 1},
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


def test_dropout_gives_a_variant_the_masks_of_its_own_loop_in_any_pack():
    """Per-variant masks drawn over the whole pack made a variant's loss depend on the pack's size (~1%)."""
    from lrsweep.engine.loop import SequentialTrainer

    raw = {
        **RAW,
        "data": {**RAW["data"], "n_samples": 600, "val_fraction": 0.2},
        "model": {"name": "mlp", "hidden": [32, 32], "dropout": 0.3},
        "lr": [0.001, 0.01, 0.03, 0.1],
    }
    config = parse_config(raw)
    splits = splits_of(config)
    spec, variants = train_spec(config, splits), expand(config)
    train, val = (splits.train_x, splits.train_y), (splits.val_x, splits.val_y)
    alone = SequentialTrainer(variants[1], spec, train, val).run()
    for path in ("fast", "vmap"):
        for pack in (variants, variants[:2]):
            result = PackTrainer(pack, spec, torch.device("cpu"), path=path).run(train, val)[1]
            assert [e.train_loss for e in result.epochs] == [e.train_loss for e in alone.epochs], (path, len(pack))
