"""The sequential engine reproduces a hand-written PyTorch loop, number for number."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lrsweep.config import OptimizerConfig
from lrsweep.engine.common import STATUS_DIVERGED, STATUS_DONE, TrainSpec
from lrsweep.engine.loop import train_variant
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant


def make_data(n=200, features=8, classes=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x[:, :classes].argmax(dim=1)).long()
    return x, y


def spec(epochs=2, batch_size=32, loss="cross_entropy", out=3):
    return TrainSpec("mlp", {"hidden": [16]}, (8,), out, epochs, batch_size, loss)


def variant(lr, seed=0, optimizer=None, scheduler=None):
    return Variant(lr, optimizer or OptimizerConfig("sgd", {"momentum": 0.9}), parse_scheduler(scheduler), seed)


def hand_written(x, y, xv, yv, lr, seed, epochs, batch_size):
    """The plain PyTorch loop, written out: what lrsweep's documented semantics promise."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            val = F.cross_entropy(model(xv), yv).item()
        history.append((total / len(x), val))
    return history, model


def test_one_variant_reproduces_the_hand_written_loop():
    x, y = make_data()
    xv, yv = make_data(60, seed=2)
    expected, model = hand_written(x, y, xv, yv, lr=0.05, seed=3, epochs=2, batch_size=32)
    result = train_variant(variant(0.05, seed=3), spec(), (x, y), (xv, yv))
    assert result.status == STATUS_DONE
    got = [(r.train_loss, r.val_loss) for r in result.epochs]
    for (a_train, a_val), (b_train, b_val) in zip(got, expected):
        assert a_train == pytest.approx(b_train, rel=1e-5)
        assert a_val == pytest.approx(b_val, rel=1e-5)


def test_same_seed_same_start_different_lr_different_end():
    x, y = make_data()
    a = train_variant(variant(0.01), spec(epochs=1), (x, y), None)
    b = train_variant(variant(0.01), spec(epochs=1), (x, y), None)
    c = train_variant(variant(0.5), spec(epochs=1), (x, y), None)
    assert a.epochs[0].train_loss == b.epochs[0].train_loss
    assert a.epochs[0].train_loss != c.epochs[0].train_loss


def test_nan_loss_marks_the_variant_diverged_and_stops_it():
    x, y = make_data()
    result = train_variant(variant(1e6), spec(epochs=3), (x, y), None)
    assert result.status == STATUS_DIVERGED
    assert len(result.epochs) < 3 or not math.isfinite(result.epochs[-1].train_loss)


def test_accuracy_is_reported_for_classification_only():
    x, y = make_data()
    result = train_variant(variant(0.1), spec(epochs=1), (x, y), (x, y), test=(x, y))
    assert 0.0 <= result.epochs[0].train_acc <= 1.0 and 0.0 <= result.epochs[0].val_acc <= 1.0
    assert result.test_acc == pytest.approx(result.epochs[0].val_acc)
    xr = torch.randn(100, 8)
    yr = xr.sum(dim=1, keepdim=True)
    reg = train_variant(variant(0.01), spec(epochs=1, loss="mse", out=1), (xr, yr), (xr, yr))
    assert reg.epochs[0].train_acc is None and reg.epochs[0].val_acc is None


def test_epoch_lr_records_the_schedule():
    x, y = make_data()
    result = train_variant(
        variant(0.1, scheduler={"type": "steplr", "step_size": 1, "gamma": 0.5}), spec(epochs=3), (x, y), None
    )
    assert [r.lr for r in result.epochs] == pytest.approx([0.1, 0.05, 0.025])
