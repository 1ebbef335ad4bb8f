"""The stacked rules' building blocks: a number takes torch's own call, a per-variant tensor its broadcast twin."""

from __future__ import annotations

import torch

from lrsweep.engine.stacked_ops import Broadcast, addcdiv_, axpy, axpy_, decay_scalars, maybe_negate, pick


def test_broadcast_shapes_per_variant_tensors_for_a_parameter_and_passes_numbers_through():
    v = Broadcast({"lr": torch.tensor([0.1, 0.2]), "wd": 0.0}, ndim=3)
    assert v("lr").shape == (2, 1, 1) and v("wd") == 0.0


def test_a_per_variant_value_gives_what_a_shared_one_gives_each_variant():
    torch.manual_seed(0)
    y, x = torch.randn(2, 3), torch.randn(2, 3)
    a = Broadcast({"a": torch.tensor([0.5, -2.0])}, ndim=2)("a")
    each = torch.stack([axpy(y[k], x[k], float(a[k])) for k in range(2)])
    assert torch.allclose(axpy(y, x, a), each)
    inplace = y.clone()
    axpy_(inplace, x, a)
    assert torch.allclose(inplace, each)
    d = y.clone()
    addcdiv_(d, x, x.abs() + 1, a)
    assert torch.allclose(d, torch.stack([y[k] + float(a[k]) * x[k] / (x[k].abs() + 1) for k in range(2)]))


def test_pick_branches_per_variant_and_maximize_negates_the_gradient():
    flag = torch.tensor([[True], [False]])
    assert torch.equal(pick(flag, lambda: torch.ones(2, 1), lambda: torch.zeros(2, 1)), flag.float())
    assert pick(True, lambda: "yes", lambda: "no") == "yes"
    g = torch.ones(2, 1)
    assert torch.equal(maybe_negate(g, flag), torch.tensor([[-1.0], [1.0]])) and maybe_negate(g, False) is g


def test_decoupled_weight_decay_scales_the_weights_and_coupled_decay_joins_the_gradient():
    hp = {"lr": [0.1, 0.1], "weight_decay": [0.5, 0.5], "decoupled_weight_decay": [True, False]}
    assert decay_scalars(hp) == {"decay": [1 - 0.1 * 0.5, 1.0], "wd": [0.0, 0.5]}
