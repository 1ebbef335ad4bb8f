"""Type-checking user values against the annotations of a torch scheduler's constructor."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union

import torch
from torch.optim import lr_scheduler as torch_schedulers

from lrsweep.errors import ConfigError, shown
from lrsweep.registry import nearest

_HINT_NAMES = {
    "Callable": collections.abc.Callable,
    "Iterable": collections.abc.Iterable,
    "Sequence": collections.abc.Sequence,
    "Literal": Literal,
    "Optimizer": torch.optim.Optimizer,
    "LRScheduler": torch_schedulers.LRScheduler,
}
_SEQUENCES = (list, tuple, collections.abc.Iterable, collections.abc.Sequence)


def type_hints(cls: type) -> dict[str, Any]:
    """The constructor's annotations, or {} when this torch writes them in a way we cannot read."""
    try:
        # Only the annotations are read, the constructor is never called: the unsound case mypy warns of
        # (calling __init__ through an instance of a subclass) cannot arise here.
        return typing.get_type_hints(cls.__init__, localns=_HINT_NAMES)  # type: ignore[misc]
    except Exception:  # annotations are advisory; check_kwargs has already checked names and defaults
        return {}


def check_hint(value: Any, hint: Any, key: str) -> None:
    if _matches(value, hint):
        return
    message = f"must be {_describe(hint)}, got {shown(value)}"
    origin = typing.get_origin(hint)
    if origin is Literal and isinstance(value, str):
        guess = nearest(value, [str(a) for a in typing.get_args(hint)])
        message += f"; did you mean '{guess}'?" if guess else ""
    elif isinstance(value, str) and _is_number_text(value):
        message += f" (YAML reads {value} as text; write it with a dot, e.g. 1.0e-5)"
    raise ConfigError(message, key=key)


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (Union, types.UnionType):
        return any(_matches(value, arm) for arm in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        inner = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_matches(v, inner) for v in value)
    return True  # a type we do not check (torch checks it when the scheduler is built)


def _describe(hint: Any, plural: bool = False) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a, plural) for a in args if a is not type(None))
    if origin in _SEQUENCES or hint in _SEQUENCES:
        return "a list of " + _describe(args[0] if args else Any, plural=True)
    names = {
        bool: ("true or false", "booleans"),
        int: ("an integer", "integers"),
        float: ("a number", "numbers"),
        str: ("a string", "strings"),
    }
    return names.get(hint, ("a value", "values"))[plural]


def _is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
