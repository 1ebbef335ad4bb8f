"""The range test on the user's own objects: everything restored bit for bit (so training afterwards is the
training it would have been), the same loop as the config form's, any batch shape, and clear refusals."""

from __future__ import annotations

import copy
import math
import random
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_same
from torch.utils.data import DataLoader, TensorDataset

from lrsweep.errors import UsageError
from lrsweep.select.finder import FinderSettings
from lrsweep.select.range_objects import one_optimizer, range_test_objects, to_device
from lrsweep.select.range_test import range_test

FAST = FinderSettings(steps=30, start_lr=1e-4, end_lr=1.0)


def data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] - x[:, 1] > 0).long()


def net():
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2)
    )


def sgd_with_scheduler(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)


def adam_two_groups(model):
    first, rest = list(model[0].parameters()), [p for m in list(model)[1:] for p in m.parameters()]
    optimizer = torch.optim.Adam([{"params": first, "lr": 1e-3}, {"params": rest, "lr": 1e-2}])
    return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)


def train(model, optimizer, scheduler, loader, epochs=2):
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()


def state(model, optimizer, scheduler):
    return (
        copy.deepcopy(model.state_dict()),
        copy.deepcopy(optimizer.state_dict()),
        scheduler.state_dict(),
        [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        [m.training for m in model.modules()],
    )


def twins(make_optimizer):
    """Two identical trainings (a model with batch norm and dropout, its optimizer and scheduler, a shuffling
    DataLoader), each one epoch in: momentum or Adam state, step counts and a scheduled LR are present."""
    made = []
    x, y = data()
    for _ in range(2):
        torch.manual_seed(0)
        model = net()
        optimizer, scheduler = make_optimizer(model)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        train(model, optimizer, scheduler, loader, epochs=1)
        made.append((model, optimizer, scheduler, loader))
    return made


@pytest.mark.parametrize("make_optimizer", [sgd_with_scheduler, adam_two_groups])
def test_training_after_the_test_is_the_training_without_it(make_optimizer):
    (model, optimizer, scheduler, loader), twin = twins(make_optimizer)
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    before = state(model, optimizer, scheduler)
    draws = torch.rand(1), random.random(), np.random.rand()
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    first = next(model.parameters()).detach().clone()
    moved = []
    result = range_test_objects(
        model,
        optimizer,
        loader,
        F.cross_entropy,
        settings=FAST,
        on_step=lambda *a: moved.append(not torch.equal(next(model.parameters()), first)),
    )
    assert result.steps_run > 10 and any(moved)  # it trained...
    assert_same(state(model, optimizer, scheduler), before)  # ...and put back weights, buffers, state, LRs
    assert_same((torch.rand(1), random.random(), np.random.rand()), draws)  # and the RNGs
    torch.manual_seed(1)
    train(model, optimizer, scheduler, loader)
    torch.manual_seed(1)
    train(*twin)
    assert_same(state(model, optimizer, scheduler), state(*twin[:3]))  # the same training, bit for bit


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_test_restores_too(exc):
    ((model, optimizer, scheduler, loader),) = twins(sgd_with_scheduler)[:1]
    before = state(model, optimizer, scheduler)

    def stop(step, *_):
        if step == 5:
            raise exc("stop")

    with pytest.raises(exc):
        range_test_objects(model, optimizer, loader, F.cross_entropy, settings=FAST, on_step=stop)
    assert_same(state(model, optimizer, scheduler), before)


def test_param_groups_keep_their_ratio_while_the_first_one_sweeps():
    (model, optimizer, scheduler, loader), _ = twins(adam_two_groups)
    base = [g["lr"] for g in optimizer.param_groups]
    seen = []
    result = range_test_objects(
        model,
        optimizer,
        loader,
        F.cross_entropy,
        settings=FAST,
        on_step=lambda s, lr, *_: seen.append((lr, [g["lr"] for g in optimizer.param_groups])),
    )
    assert [lr for lr, _ in seen] == result.lrs
    assert all(lrs == pytest.approx([lr, lr * base[1] / base[0]], rel=1e-12) for lr, lrs in seen)
    assert [g["lr"] for g in optimizer.param_groups] == base


def test_same_batches_same_curve_as_the_config_form():
    """One loop: a list of the batches the config form draws gives its curve exactly."""
    x, y = data(n=256)
    order = torch.randperm(256, generator=torch.Generator().manual_seed(3))
    batches = [(x[order[i : i + 16]], y[order[i : i + 16]]) for i in range(0, 256, 16)]
    settings = FinderSettings(steps=16, start_lr=1e-3, end_lr=1.0, edge=False)
    curves = []
    for run in ("config", "objects"):
        torch.manual_seed(0)
        model = net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if run == "config":
            result = range_test(
                model, optimizer, F.cross_entropy, x, y, 16, settings, generator=torch.Generator().manual_seed(3)
            )
        else:
            result = range_test_objects(model, optimizer, batches, F.cross_entropy, settings=settings)
        curves.append((result.lrs, result.losses, result.suggestions))
    assert curves[0] == curves[1]


def test_a_short_list_is_cycled_and_a_spent_generator_is_refused():
    x, y = data(n=48)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]
    model = net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert range_test_objects(model, optimizer, batches, F.cross_entropy, settings=FAST).steps_run > 3
    with pytest.raises(UsageError, match="ran out after 3 batches and cannot start over"):
        range_test_objects(model, optimizer, iter(batches), F.cross_entropy, settings=FAST)
    with pytest.raises(UsageError, match="yielded no batches"):
        range_test_objects(model, optimizer, [], F.cross_entropy, settings=FAST)


class Scored(torch.nn.Module):
    """A model taking keyword inputs and returning an object with .loss (as Hugging Face models do)."""

    Output = namedtuple("Output", "loss logits")

    def __init__(self):
        super().__init__()
        self.body = net()

    def forward(self, features, mask, labels):
        logits = self.body(features * mask)
        return self.Output(F.cross_entropy(logits, labels), logits)


@pytest.mark.parametrize(
    "step_fn",
    [
        lambda m, b: m(**b),  # the output's .loss
        lambda m, b: {"loss": m(**b).loss},  # a training_step's dict
        lambda m, b: m(**b).loss,
    ],
)
def test_step_fn_takes_dict_batches_and_finds_the_loss(step_fn):
    x, y = data()
    batches = [
        {"features": x[i : i + 32], "mask": torch.ones(32, 8), "labels": y[i : i + 32]} for i in range(0, 128, 32)
    ]
    model = Scored()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = range_test_objects(model, optimizer, batches, step_fn=step_fn, settings=FAST)
    assert result.steps_run > 10 and result.edge_lr is not None and math.isfinite(result.suggestion())


def test_batches_move_to_the_device_whatever_their_shape():
    Pair = namedtuple("Pair", "x y")
    batch = {"a": [torch.ones(1), (torch.ones(1), Pair(torch.ones(1), 3))], "b": "text"}
    moved = to_device(batch, torch.device("meta"))
    assert moved["a"][0].is_meta and moved["a"][1][1].x.is_meta and isinstance(moved["a"][1][1], Pair)
    assert moved["a"][1][1].y == 3 and moved["b"] == "text"


def test_optimizers_as_configure_optimizers_returns_them():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    for given in (opt, [opt], ([opt], [sched]), {"optimizer": opt, "lr_scheduler": sched}):
        assert one_optimizer(given) is opt
    with pytest.raises(UsageError, match="one optimizer, got 2"):
        one_optimizer([opt, torch.optim.Adam(model.parameters())])
    with pytest.raises(UsageError, match="expected a torch.optim.Optimizer.*got str"):
        one_optimizer("sgd")
    with pytest.raises(UsageError, match="LBFGS"):
        one_optimizer(torch.optim.LBFGS(model.parameters()))


def refusal(**changes):
    x, y = data(n=32)
    model = net()
    call = {
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "train_loader": [(x, y)],
        "loss_fn": F.cross_entropy,
        "settings": FAST,
        **changes,
    }
    with pytest.raises(UsageError) as caught:
        range_test_objects(**call)
    return str(caught.value)


def test_bad_input_is_refused_with_what_to_do():
    x, y = data(n=32)
    assert "not both" in refusal(step_fn=lambda m, b: m(b[0]).sum())
    assert "give loss_fn" in refusal(loss_fn=None)
    assert "shape [32]" in refusal(loss_fn=lambda out, y: F.cross_entropy(out, y, reduction="none"))
    assert "does not require grad" in refusal(loss_fn=lambda out, y: F.cross_entropy(out.detach(), y))
    assert "not an (inputs, targets) pair: give step_fn" in refusal(train_loader=[(x, y, y)])
    assert "returned float" in refusal(loss_fn=None, step_fn=lambda m, b: 1.0)
    assert "does not move your model" in refusal(device="cuda:0")
    assert "use_val" in refusal(settings=FinderSettings(use_val=True))


class NoDoubleBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.tanh()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (1 - x.tanh() ** 2)


def test_a_loss_without_second_derivatives_gives_no_edge_and_says_why():
    x, y = data()
    model = torch.nn.Linear(8, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    notes = []
    result = range_test_objects(
        model,
        optimizer,
        [(x, y)],
        step_fn=lambda m, b: F.cross_entropy(NoDoubleBackward.apply(m(b[0])), b[1]),
        settings=FAST,
        on_notice=notes.append,
    )
    assert result.edge_lr is None and result.steps_run > 10
    assert len(notes) == 1 and notes[0].startswith("no stability edge")


def test_the_loop_reads_the_loss_once_per_step_and_nothing_else(monkeypatch):
    """No host syncs beyond the loss: one read per optimizer step, however many micro-batches it has."""
    reads = []
    for name in ("tolist", "item", "__float__", "__bool__", "__int__", "cpu", "numpy"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(
            torch.Tensor, name, lambda self, *a, _o=original, _n=name, **k: reads.append(_n) or _o(self, *a, **k)
        )
    x, y = data()
    model = net()
    settings = FinderSettings(steps=20, accumulate=3, edge=False, diverge_factor=1e9)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = range_test_objects(
        model,
        optimizer,
        [(x[i : i + 16], y[i : i + 16]) for i in range(0, 128, 16)],
        F.cross_entropy,
        settings=settings,
    )
    assert result.steps_run == 20 and reads == ["tolist"] * 20
