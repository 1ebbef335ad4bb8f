"""The snapshot a range test restores: everything a training step changes comes back bit for bit, in the same
tensor objects, and nothing the test added stays behind."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_same

from lrsweep.errors import UsageError
from lrsweep.select.snapshot import Snapshot


class Tied(torch.nn.Module):
    """Batch norm, dropout, a weight used twice and a non-persistent buffer (absent from state_dict())."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(6, 6)
        self.norm = torch.nn.BatchNorm1d(6)
        self.drop = torch.nn.Dropout(0.3)
        self.head = torch.nn.Linear(6, 6)
        self.head.weight = self.embed.weight  # tied
        self.register_buffer("calls", torch.zeros(()), persistent=False)

    def forward(self, x):
        self.calls += 1
        return self.head(self.drop(torch.relu(self.norm(self.embed(x)))))


def everything(model, optimizer):
    """What a user could observe, deep-copied."""
    return {
        "model": copy.deepcopy(model.state_dict()),
        "calls": model.calls.clone(),
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "flags": [p.requires_grad for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "attributes": {k: v for k, v in vars(optimizer).items() if isinstance(v, (bool, int, float, str))},
    }


def train(model, optimizer, steps=3):
    x = torch.randn(16, 6)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), x).backward()
        optimizer.step()


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = Tied()
    optimizer = torch.optim.Adam(
        [
            {"params": [model.embed.weight, model.embed.bias], "lr": torch.tensor(0.01)},  # a tensor LR
            {"params": list(model.norm.parameters()) + [model.head.bias], "lr": 0.001},
        ],
        foreach=False,
    )
    torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)  # sets initial_lr, wraps step
    train(model, optimizer)  # moments and step counts present
    F.mse_loss(model(torch.ones(4, 6)), torch.zeros(4, 6)).backward()  # gradients left behind
    model.head.bias.requires_grad_(False)
    model.norm.eval()
    return model, optimizer


def test_restore_undoes_training_in_place(setup):
    model, optimizer = setup
    before = everything(model, optimizer)
    params, lr_tensor = list(model.parameters()), optimizer.param_groups[0]["lr"]
    moments = [optimizer.state[p]["exp_avg"] for p in params if p in optimizer.state]
    generator = torch.Generator().manual_seed(5)
    snap = Snapshot.capture(model, optimizer, (generator,))
    draws = (torch.rand(3), random.random(), np.random.rand(), torch.rand(3, generator=generator))  # the future

    model.train()
    model.head.bias.requires_grad_(True)
    for group in optimizer.param_groups:  # as the test sets LRs, a tensor in place
        group["lr"] = group["lr"].fill_(1.0) if isinstance(group["lr"], torch.Tensor) else 1.0
    train(model, optimizer, steps=5)
    optimizer.param_groups[1]["added"] = 1
    model.norm.running_mean = torch.full((6,), 9.0)  # a buffer replaced by a new tensor
    snap.restore()

    assert_same(everything(model, optimizer), before)
    assert all(a is b for a, b in zip(model.parameters(), params)) and optimizer.param_groups[0]["lr"] is lr_tensor
    assert all(optimizer.state[p]["exp_avg"] is m for p, m in zip([p for p in params if p in optimizer.state], moments))
    assert_same((torch.rand(3), random.random(), np.random.rand(), torch.rand(3, generator=generator)), draws)


def test_state_the_test_created_is_dropped():
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters())
    snap = Snapshot.capture(model, optimizer)
    x = torch.randn(8, 3)
    F.mse_loss(model(x), x[:, :1]).backward()
    optimizer.step()
    assert optimizer.state
    snap.restore()
    assert not optimizer.state and all(p.grad is None for p in model.parameters())


def test_a_lazy_module_is_refused_before_anything_runs():
    model = torch.nn.Sequential(torch.nn.LazyLinear(2))
    with pytest.raises(UsageError, match="lazy module.*forward pass"):
        Snapshot.capture(model, torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
