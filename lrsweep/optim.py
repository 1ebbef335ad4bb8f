"""Optimizer registry: the real ``torch.optim`` classes, options validated against their signatures."""

from __future__ import annotations

from typing import Iterable

import torch

from lrsweep.errors import ConfigError
from lrsweep.registry import Registry, check_kwargs

OPTIMIZERS: Registry = Registry("optimizer")
OPTIMIZERS.add("sgd", torch.optim.SGD)
OPTIMIZERS.add("adam", torch.optim.Adam)
OPTIMIZERS.add("adamw", torch.optim.AdamW)
OPTIMIZERS.add("rmsprop", torch.optim.RMSprop)
OPTIMIZERS.add("adagrad", torch.optim.Adagrad)

# Implementation switches of torch.optim that change speed, never the arithmetic a sweep compares.
IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable")


def check_optimizer_options(name: str, options: dict, key: str = "optimizer") -> tuple[str, dict]:
    """Canonical name and validated options; ``lr`` is refused here because it is the sweep axis."""
    canonical = OPTIMIZERS.canonical(name, key=f"{key}.name")
    if "lr" in options:
        raise ConfigError("set learning rates with the top-level 'lr' key (it is the sweep axis)", key=f"{key}.lr")
    cls = OPTIMIZERS.get(canonical)
    checked = check_kwargs(cls, options, key, skip=("params", "lr") + IMPLEMENTATION_KEYS)
    for name_, value in checked.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"must be >= 0, got {name_}={value}", key=f"{key}.{name_}")
    try:  # torch's own constructor checks (e.g. nesterov needs momentum) before any training
        cls([torch.zeros(1, requires_grad=True)], lr=0.1, **checked)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), key=key) from None
    return canonical, checked


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, options: dict) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(name)(params, lr=lr, **options)
