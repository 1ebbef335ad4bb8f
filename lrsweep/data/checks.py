"""Range checks of the built-in datasets' options, one rule per option name (each rule written once)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from lrsweep.errors import ConfigError, shown
from lrsweep.registry import signature_defaults

TASKS = ("classification", "regression")


def _integer(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ConfigError(f"must be an integer, got {shown(value)}", key=key)
    if value < minimum:
        raise ConfigError(f"must be >= {minimum}, got {key.rpartition('.')[2]}={value!r}", key=key)
    return int(value)


def number(key: str, value: Any, low: float, high: float | None = None, open_low: bool = False) -> float:
    name = key.rpartition(".")[2]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {shown(value)}", key=key)
    if value < low or (open_low and value == low) or (high is not None and value >= high):
        bounds = f"{'>' if open_low else '>='} {low}" + (f" and < {high}" if high is not None else "")
        raise ConfigError(f"must be {bounds}, got {name}={value!r}", key=key)
    return float(value)


def _task(key: str, value: Any) -> str:
    if value not in ("auto", *TASKS):
        raise ConfigError(f"must be one of auto, classification, regression; got {shown(value)}", key=key)
    return value


def _string_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"must be a non-empty list of URLs, got {shown(value)}", key=key)
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"must be a list of URL strings, got {shown(value)}", key=key)
    return list(value)


def _md5_table(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"must map file names to md5 strings, got {shown(value)}", key=key)
    return {k: v.lower() for k, v in value.items()}


def _nonempty_string(key: str, value: Any) -> str | os.PathLike[str]:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(f"must be a non-empty string, got {shown(value)}", key=key)
    return value


def _delimiter(key: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ConfigError(f"must be a single character, got {shown(value)}", key=key)
    return value


_RULES: dict[str, Callable[[str, Any], Any]] = {
    "n_samples": lambda k, v: _integer(k, v, 2),
    "n_test": lambda k, v: _integer(k, v, 1),
    "n_features": lambda k, v: _integer(k, v, 1),
    "n_classes": lambda k, v: _integer(k, v, 2),
    "seed": lambda k, v: _integer(k, v, 0),
    "noise": lambda k, v: number(k, v, 0.0),
    "separation": lambda k, v: number(k, v, 0.0),
    "test_fraction": lambda k, v: number(k, v, 0.0, 1.0, open_low=True),
    "task": _task,
    "mirrors": _string_list,
    "md5s": _md5_table,
    "path": _nonempty_string,
    "target": _nonempty_string,
    "delimiter": _delimiter,
}


def check_values(factory: Callable, options: dict[str, Any], key: str) -> dict[str, Any]:
    """Range-check a built-in factory's options; returns them coerced (None only where the default is None)."""
    defaults = signature_defaults(factory, skip=("root", "download"))
    checked = dict(options)
    for name, value in options.items():
        if name in _RULES and not (value is None and defaults.get(name, 0) is None):
            checked[name] = _RULES[name](f"{key}.{name}", value)
    return checked
