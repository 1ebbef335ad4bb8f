"""The generic stacked path: K modules under vmap, each variant's output and state its own module's."""

from __future__ import annotations

import torch
from torch import nn

from lrsweep.engine.stacked_base import CONV_FORMAT, FuncStack, conv_input


def models(k: int) -> list[nn.Module]:
    built = []
    for seed in range(k):
        torch.manual_seed(seed)
        built.append(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)))
    return built


def test_each_variant_computes_what_its_own_module_computes():
    mods = models(3)
    stack = FuncStack(mods)
    x = torch.randn(5, 3)
    out = stack.forward(x, shared=True)
    assert out.shape == (3, 5, 2)
    for k, module in enumerate(models(3)):  # fresh copies: the stack's BatchNorm statistics moved, theirs do too
        torch.testing.assert_close(out[k], module(x))


def test_variant_state_and_compact_keep_parameters_and_buffers_per_variant():
    stack = FuncStack(models(3))
    stack.forward(torch.randn(5, 3), shared=True)
    last = stack.variant_state(2)
    assert set(last) == set(models(1)[0].state_dict())
    stack.compact([2])
    assert stack.k == 1
    for name, value in stack.variant_state(0).items():
        torch.testing.assert_close(value, last[name])


def test_conv_input_is_in_the_convolutions_memory_format():
    x = torch.randn(2, 3, 4, 4)
    assert conv_input(x).is_contiguous(memory_format=CONV_FORMAT) and torch.equal(conv_input(x), x)
    one = torch.randn(2, 1, 4, 4)
    assert conv_input(one).stride() == torch.empty_like(one, memory_format=CONV_FORMAT).stride()
