"""The small built-in models: ``linear`` (``logistic``), ``mlp`` and ``cnn`` (``lenet``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from lrsweep.errors import ConfigError
from lrsweep.models.registry import MODELS, activation_class


@MODELS.register("linear", aliases=("logistic",))
def linear(input_shape: Sequence[int], output_size: int) -> nn.Module:
    """Linear (or logistic, with cross-entropy) regression on the flattened input."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), output_size))


@MODELS.register("mlp")
def mlp(
    input_shape: Sequence[int],
    output_size: int,
    hidden: Sequence[int] = (256, 256),
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Module:
    """Fully connected network on the flattened input."""
    act = activation_class(activation)
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for size in hidden:
        layers += [nn.Linear(width, int(size)), act()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = int(size)
    layers.append(nn.Linear(width, output_size))
    return nn.Sequential(*layers)


@MODELS.register("cnn", aliases=("lenet",))
def cnn(
    input_shape: Sequence[int],
    output_size: int,
    channels: Sequence[int] = (6, 16),
    hidden: Sequence[int] = (120, 84),
    activation: str = "relu",
) -> nn.Module:
    """LeNet-style: conv(5x5, same) + 2x2 max-pool per channel entry, then an MLP head."""
    if len(input_shape) != 3:
        raise ConfigError(
            f"cnn needs image input [channels, height, width], got shape {list(input_shape)}", key="model.name"
        )
    act = activation_class(activation)
    in_ch, h, w = input_shape
    layers: list[nn.Module] = []
    for out_ch in channels:
        layers += [nn.Conv2d(in_ch, int(out_ch), 5, padding=2), act(), nn.MaxPool2d(2)]
        in_ch, h, w = int(out_ch), h // 2, w // 2
    if h < 1 or w < 1:
        raise ConfigError(f"too many conv layers for {list(input_shape)} input", key="model.channels")
    layers.append(nn.Flatten())
    width = in_ch * h * w
    for size in hidden:
        layers += [nn.Linear(width, int(size)), act()]
        width = int(size)
    layers.append(nn.Linear(width, output_size))
    return nn.Sequential(*layers)
