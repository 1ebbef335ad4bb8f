"""stack_models chooses a pack's path: ResNetStack, the fast SequentialStack, or the generic FuncStack."""

from __future__ import annotations

import pytest
from torch import nn

from lrsweep.engine.stacked_base import FuncStack
from lrsweep.engine.stacked_models import SequentialStack, stack_models
from lrsweep.engine.stacked_resnet import ResNetStack
from lrsweep.errors import VectorizeError
from lrsweep.models import build_model


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3))


def with_batchnorm():
    return nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))


def test_a_plain_sequential_takes_the_fast_path_unless_vmap_is_asked_for():
    assert type(stack_models([mlp(), mlp()])) is SequentialStack
    assert type(stack_models([mlp(), mlp()], "fast")) is SequentialStack
    assert type(stack_models([mlp(), mlp()], "vmap")) is FuncStack


def test_a_layer_the_fast_path_cannot_take_falls_back_to_vmap_or_is_refused_by_path_fast():
    assert type(stack_models([with_batchnorm(), with_batchnorm()])) is FuncStack
    with pytest.raises(VectorizeError, match=r"^layer 1: BatchNorm1d$"):
        stack_models([with_batchnorm(), with_batchnorm()], "fast")
    with pytest.raises(VectorizeError, match="not a plain nn.Sequential"):
        stack_models([nn.Linear(8, 3), nn.Linear(8, 3)], "fast")


def test_lrsweeps_resnet_stacks_as_grouped_convolutions_unless_vmap_is_asked_for():
    models = [build_model("resnet", {"depth": 8}, (3, 8, 8), 10, seed=s) for s in (0, 1)]
    assert type(stack_models(models)) is ResNetStack
    assert type(stack_models(models, "vmap")) is FuncStack


def test_an_unknown_path_is_a_value_error():
    with pytest.raises(ValueError, match="path must be one of"):
        stack_models([mlp()], "fastest")
