"""The model registry: a name (or ``package.module:factory``) to a factory, its options checked against
the factory's signature, and the model of one variant built from its seed.

Every factory takes ``input_shape`` and ``output_size`` (inferred from the dataset) plus its own options,
and returns an ``nn.Module`` mapping a batch of inputs to logits/predictions.
"""

from __future__ import annotations

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


def activation_class(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{name}' (valid: {', '.join(ACTIVATIONS)})", key="model.activation")
    return ACTIVATIONS[name]


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
    if not MODELS.is_import(name):
        check_builtin_options(checked, key)
    own_check = getattr(factory, "check_options", None)  # a factory's own rules (resnet: depth 6n+2)
    if own_check is not None:
        own_check(checked, key)
    return checked


def check_builtin_options(checked: dict, key: str) -> None:
    """The rules of lrsweep's own models' shared option names; a ``package.module:factory`` model's options are
    checked against its signature only (its ``hidden`` may well be an integer)."""
    for opt in ("hidden", "channels"):
        if opt in checked:
            value = checked[opt]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in value):
                raise ConfigError(f"must be a list of positive integers, got {shown(value)}", key=f"{key}.{opt}")
    if "dropout" in checked and not 0 <= checked["dropout"] < 1:
        raise ConfigError(f"must be in [0, 1), got dropout={checked['dropout']}", key=f"{key}.dropout")
    if "activation" in checked:
        activation_class(checked["activation"])


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
