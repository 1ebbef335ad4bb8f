"""A dataset as loaded: its checks, and the seeded train/validation split."""

from __future__ import annotations

import pytest
import torch

from lrsweep.data import Dataset, Splits, split, validate
from lrsweep.errors import ConfigError, DataError


def _tiny(task="classification"):
    x = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    y = torch.arange(10) % 2 if task == "classification" else torch.zeros(10, 1)
    return Dataset("tiny", x, y, x[:3], y[:3], task, 2 if task == "classification" else None)


def test_split_is_seeded_disjoint_and_leaves_test_alone():
    ds = _tiny()
    s = split(ds, 0.3, seed=0)
    assert s.sizes() == {"train": 7, "val": 3, "test": 3}
    seen = torch.cat([s.train_x[:, 0], s.val_x[:, 0]]).sort().values
    assert torch.equal(seen, ds.train_x[:, 0])  # every row exactly once
    assert s.test_x is ds.test_x
    x, y = s.train_plus_val()
    assert len(x) == len(y) == 10


def test_split_zero_fraction_gives_empty_validation():
    s = split(_tiny(), 0.0, seed=0)
    assert s.sizes() == {"train": 10, "val": 0, "test": 3}
    assert s.val_x.shape == (0, 2) and s.val_y.dtype == torch.int64


def test_split_keeps_at_least_one_row_each_side():
    assert split(_tiny(), 0.01, seed=0).sizes()["val"] == 1
    assert split(_tiny(), 0.99, seed=0).sizes()["train"] == 1


@pytest.mark.parametrize("bad", [-0.1, 1.0, "half", True])
def test_split_rejects_bad_fractions(bad):
    with pytest.raises(ConfigError, match="data.val_fraction"):
        split(_tiny(), bad, seed=0)


def test_splits_to_device_and_output_size():
    s = split(_tiny("regression"), 0.2, seed=0)
    moved = s.to("cpu")
    assert isinstance(moved, Splits) and moved.output_size == 1 and moved.task == "regression"
    assert all(getattr(moved, f).device.type == "cpu" for f in ("train_x", "val_y", "test_x"))
    assert split(_tiny(), 0.2, seed=0).output_size == 2


def test_validate_refuses_wrong_dtypes():
    ds = _tiny()
    with pytest.raises(DataError, match="train_x must be float32"):
        validate(Dataset("d", ds.train_x.double(), ds.train_y, ds.test_x, ds.test_y, "classification", 2))
    with pytest.raises(DataError, match="regression train_y must be float32 \\[N, k\\]"):
        validate(Dataset("d", ds.train_x, torch.zeros(10), ds.test_x, torch.zeros(3), "regression", None))
    with pytest.raises(DataError, match="NaN"):
        bad = ds.train_x.clone()
        bad[0, 0] = float("nan")
        validate(Dataset("d", bad, ds.train_y, ds.test_x, ds.test_y, "classification", 2))
