"""The small built-in models: their layers, and the inputs they refuse."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsweep.errors import ConfigError
from lrsweep.models.basic import cnn, linear, mlp


def test_linear_is_one_layer_on_the_flattened_input():
    model = linear((3, 4), 2)
    assert [type(m) for m in model] == [nn.Flatten, nn.Linear] and model[1].in_features == 12


def test_mlp_stacks_its_hidden_widths_with_the_activation_and_dropout():
    model = mlp((5,), 2, hidden=(8, 4), activation="tanh", dropout=0.5)
    widths = [m.out_features for m in model if isinstance(m, nn.Linear)]
    assert widths == [8, 4, 2]
    assert sum(isinstance(m, nn.Tanh) for m in model) == 2 and sum(isinstance(m, nn.Dropout) for m in model) == 2


def test_cnn_halves_the_image_per_channel_entry():
    model = cnn((1, 28, 28), 10)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert model[-5].in_features == 16 * 7 * 7  # the head after two 2x2 poolings


@pytest.mark.parametrize(
    "shape, channels, match", [((784,), (6, 16), "image input"), ((1, 4, 4), (6, 16, 32), "too many conv layers")]
)
def test_cnn_refuses_inputs_it_cannot_convolve(shape, channels, match):
    with pytest.raises(ConfigError, match=match):
        cnn(shape, 10, channels=channels)
