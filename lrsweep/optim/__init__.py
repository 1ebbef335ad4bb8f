"""Optimizer registry: every ``torch.optim`` class that takes ``params`` and ``lr``, and
``package.module:Class`` for a third-party one; options validated against their signatures."""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterable
from typing import Any

import torch

from lrsweep.errors import ConfigError
from lrsweep.registry import Registry, check_import_spec, check_kwargs, imports_allowed, signature_defaults

# torch.optim classes a sweep cannot use, and why (checked before the catalogue is built).
REFUSED = {
    "lbfgs": "LBFGS re-evaluates the loss several times per step through a closure, which a sweep's "
    "one-backward-per-batch loop does not provide",
    "sparseadam": "SparseAdam only accepts sparse gradients (nn.Embedding(sparse=True)); lrsweep's models "
    "have dense ones",
    "muon": "Muon only updates 2-D weight matrices and needs a second optimizer for biases and norms; "
    "a variant has one optimizer over all of its parameters",
}
# Implementation switches of torch.optim that change speed, never the arithmetic a sweep compares.
IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable")


def _takes_params_and_lr(cls: Any) -> bool:
    try:
        names = list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return False
    return "params" in names and "lr" in names


def torch_optimizers() -> dict[str, type[torch.optim.Optimizer]]:
    """Every public ``torch.optim`` optimizer class taking ``params`` and ``lr`` (less REFUSED), by lower-case name."""
    found = {}
    for name in sorted(dir(torch.optim)):
        cls = getattr(torch.optim, name)
        if (
            inspect.isclass(cls)
            and issubclass(cls, torch.optim.Optimizer)
            and cls is not torch.optim.Optimizer
            and not name.startswith("_")
            and name.lower() not in REFUSED
            and _takes_params_and_lr(cls)
        ):
            found[name.lower()] = cls
    return found


OPTIMIZERS: Registry = Registry("optimizer", allow_import=True)
for _name, _cls in torch_optimizers().items():
    OPTIMIZERS.add(_name, _cls)


def optimizer_class(name: str, key: str = "optimizer") -> type:
    """The class behind ``name`` (refused ones raise, naming the reason); imports must take params and lr."""
    if str(name).lower() in REFUSED:
        raise ConfigError(f"optimizer '{name}' cannot be used: {REFUSED[str(name).lower()]}", key=f"{key}.name")
    cls = OPTIMIZERS.get(name, key=f"{key}.name")
    if OPTIMIZERS.is_import(name):
        if not callable(cls):
            raise ConfigError(f"'{name}' is {type(cls).__name__}, not an optimizer class", key=f"{key}.name")
        if not _takes_params_and_lr(cls):
            raise ConfigError(
                f"'{name}' must accept 'params' and 'lr' keyword arguments, as torch.optim optimizers do",
                key=f"{key}.name",
            )
    return cls


def check_optimizer_options(name: str, options: dict, key: str = "optimizer") -> tuple[str, dict]:
    """Canonical name and validated options; ``lr`` is refused here because it is the sweep axis.

    Under ``registry.no_imports`` (validate's first pass, ``--no-import``) an imported class is checked for
    its form only, as data and model factories are.
    """
    if "lr" in options:
        raise ConfigError("set learning rates with the top-level 'lr' key (it is the sweep axis)", key=f"{key}.lr")
    if OPTIMIZERS.is_import(name) and not imports_allowed():
        return check_import_spec(name, key=f"{key}.name"), dict(options)
    cls = optimizer_class(name, key)
    canonical = OPTIMIZERS.canonical(name, key=f"{key}.name")
    checked = check_kwargs(cls, options, key, skip=("params", "lr") + IMPLEMENTATION_KEYS)
    defaults = signature_defaults(cls)
    for name_, value in checked.items():
        default = defaults.get(name_)
        may_be_negative = isinstance(default, (int, float)) and not isinstance(default, bool) and default < 0
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0 and not may_be_negative:
            raise ConfigError(f"must be >= 0, got {name_}={value}", key=f"{key}.{name_}")
        if isinstance(default, tuple) and isinstance(value, (list, tuple)) and len(value) != len(default):
            # what the constructor takes but its step unpacks (betas of 3): refused here, without a trial step
            raise ConfigError(
                f"must be a list of {len(default)} numbers, as the default {list(default)}; got {list(value)}",
                key=f"{key}.{name_}",
            )
    try:  # the constructor's own checks (e.g. nesterov needs momentum) before any training
        trial_optimizer(cls, lr=0.1, **checked)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), key=key) from None
    except Exception as exc:  # noqa: BLE001 - a third-party constructor may raise anything
        raise ConfigError(f"{canonical}(...) failed: {type(exc).__name__}: {exc}", key=key) from None
    return canonical, checked


def trial_optimizer(cls: Any = torch.optim.SGD, **options: Any) -> torch.optim.Optimizer:
    """``cls(params=[one dummy parameter], **options)``: the constructor's own checks, or a proxy for a scheduler.

    torch.optim's ``add_param_group`` imports ``torch._dynamo`` on its first call (about 1 s, more than
    loading a config and its data); the trial's constructor calls the plain function instead (the one
    torch's decorator wraps), so checking a config never pays for the compiler stack. The trial never steps.
    """
    plain = getattr(getattr(cls, "add_param_group", None), "__wrapped__", None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)) or plain is None:
        return cls([torch.zeros(1, requires_grad=True)], **options)
    trial = cls.__new__(cls)
    trial.add_param_group = types.MethodType(plain, trial)  # type: ignore[method-assign]  # shadows the wrapped one
    cls.__init__(trial, [torch.zeros(1, requires_grad=True)], **options)
    return trial


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, options: dict) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(name)(params, lr=lr, **options)
