"""Model registry: ``linear``, ``mlp``, ``cnn``, ``resnet`` (:mod:`lrsweep.models.resnet`) and
``package.module:factory``.

Every factory takes ``input_shape`` and ``output_size`` (inferred from the dataset) plus its
own options, and returns an ``nn.Module`` mapping a batch of inputs to logits/predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lrsweep.errors import ConfigError, shown
from lrsweep.registry import (
    Registry,
    accepts_var_kwargs,
    call_user,
    check_import_spec,
    check_kwargs,
    imports_allowed,
    signature_defaults,
)

MODELS: Registry = Registry("model", allow_import=True)
INFERRED = ("input_shape", "output_size")  # supplied by lrsweep, never by the user
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{name}' (valid: {', '.join(ACTIVATIONS)})", key="model.activation")
    return ACTIVATIONS[name]


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
    act = _activation(activation)
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
    act = _activation(activation)
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


def check_model_options(name: str, options: dict, key: str = "model") -> dict:
    """Validate model options against the factory's signature (unknown names list the valid ones)."""
    if MODELS.is_import(name) and not imports_allowed():
        check_import_spec(name, key=f"{key}.name")
        return dict(options)  # checked against the factory's signature only when it may be imported
    factory = MODELS.get(name, key=f"{key}.name")
    if MODELS.is_import(name):
        params = signature_defaults(factory)
        if not accepts_var_kwargs(factory) and not all(p in params for p in INFERRED):
            raise ConfigError(
                f"model factory '{name}' must take input_shape and output_size (lrsweep passes them "
                f"from the dataset); it takes ({', '.join(params)})",
                key=f"{key}.name",
            )
    checked = check_kwargs(factory, options, key, skip=INFERRED)
    for opt in ("hidden", "channels"):
        if opt in checked:
            value = checked[opt]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in value):
                raise ConfigError(f"must be a list of positive integers, got {shown(value)}", key=f"{key}.{opt}")
    if "dropout" in checked and not 0 <= checked["dropout"] < 1:
        raise ConfigError(f"must be in [0, 1), got dropout={checked['dropout']}", key=f"{key}.dropout")
    if "activation" in checked:
        _activation(checked["activation"])
    own_check = getattr(factory, "check_options", None)  # a factory's own rules (resnet: depth 6n+2)
    if own_check is not None:
        own_check(checked, key)
    return checked


def build_model(name: str, options: dict, input_shape: Sequence[int], output_size: int, seed: int) -> nn.Module:
    """The model for one variant: the same seed always gives the same initial weights."""
    factory = MODELS.get(name, key="model.name")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kwargs = {"input_shape": tuple(input_shape), "output_size": output_size, **options}
        model = (
            call_user(factory, kwargs, f"model factory '{name}'", key="model.name")
            if MODELS.is_import(name)
            else factory(**kwargs)
        )
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model factory '{name}' returned {type(model).__name__}, not a torch.nn.Module", key="model.name"
        )
    return model


from lrsweep.models import resnet as models_resnet  # noqa: E402,F401 - registers resnet
