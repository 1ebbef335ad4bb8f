"""Your own training code through ``grid`` and ``tune``: a Python function as the config, the keywords that set
what a function needs (``lr=``, ``epochs=``, ``seeds=``, ``metric=``, ``mode=``, ``params=``), and the checks and
notices of a run of your own code.

``lrsweep.grid(train, lr=[1e-3, 1e-2], epochs=5, metric="val_f1", mode="max")`` is the config
``{name: train, function: module:train, lr: [...], train: {epochs: 5}, select: {metric: val_f1, mode: max}}``
run with ``train`` itself (so a function defined in a notebook or inside another function works too). The
keywords also apply to a config given as a file, a dict or a Config, as overrides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lrsweep.errors import UsageError

if TYPE_CHECKING:
    from lrsweep.api.common import ConfigLike

_NOT_NAME = re.compile(r"[^A-Za-z0-9_.]+")


def shorthands(
    lr: Any = None,
    epochs: int | None = None,
    seeds: Any = None,
    metric: str | None = None,
    mode: str | None = None,
    params: dict | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The keywords given, as dotted config keys (``epochs`` -> ``train.epochs``); a tuple of LRs is a list."""
    given = {
        "lr": list(lr) if isinstance(lr, tuple) else lr,
        "train.epochs": epochs,
        "seeds": [seeds] if isinstance(seeds, int) else (list(seeds) if seeds is not None else None),
        "select.metric": metric,
        "select.mode": mode,
        "params": params,
        "name": name,
    }
    return {key: value for key, value in given.items() if value is not None}


def as_config(
    config: Any, keywords: dict[str, Any], resume
) -> tuple[ConfigLike | None, Callable | None, dict[str, Any]]:
    """``(config, function, overrides)``: a callable becomes the config of a function run (and is kept, to be
    called); anything else is passed on, the keywords as overrides. Resuming with a callable and no keywords
    keeps the run's stored config."""
    if not callable(config) or isinstance(config, type):
        return config, None, keywords
    function = config
    if resume is not None and not keywords:
        return None, function, {}
    raw = {"name": _name(function), "function": function_spec(function)}
    return raw, function, keywords


def function_spec(function: Callable) -> str:
    """``module:qualname`` of a function, as the config records it (made a valid name where Python's is not:
    ``<locals>``, ``<lambda>``)."""
    module = _NOT_NAME.sub("_", getattr(function, "__module__", None) or "__main__").strip("._") or "__main__"
    qualname = str(getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or "function")
    parts = [_NOT_NAME.sub("", part) or "function" for part in qualname.split(".")]
    parts = [p if p[0].isalpha() or p[0] == "_" else f"_{p}" for p in parts]
    return f"{module}:{'.'.join(parts)}"


def _name(function: Callable) -> str:
    name = _NOT_NAME.sub("", getattr(function, "__name__", "") or "").strip(".") or "function"
    return name if name != "lambda" else "function"


def check_function(config, function: Callable | None) -> None:
    """A callable runs only a config of ``function:`` kind; a command's working directory exists."""
    from pathlib import Path

    from lrsweep.errors import ConfigError

    if function is not None and config.kind != "function":
        raise UsageError(f"a function was given, but the run's config trains with {config.kind}: give that config")
    cwd = config.trials.cwd
    if config.kind == "command" and cwd is not None and not Path(cwd).expanduser().is_dir():
        raise ConfigError(
            f"the command's working directory is not a folder: {cwd}", key="trials.cwd", file=config.source
        )


def check_jobs(config, jobs: int) -> None:
    """``--jobs`` runs trials of your own code at once; lrsweep's own loop trains its variants together in packs."""
    if jobs != 1 and config.kind == "engine":
        raise UsageError(
            "--jobs runs several trials of your own code (command:, function:) at once; lrsweep's own loop "
            "already trains variants together in packs (for worker processes use --devices cpu,cpu)"
        )


def direction_notice(config) -> str | None:
    """Which way the selection metric is better, when it was read from its name (not given as select.mode)."""
    if config.kind == "engine" or config.select.mode is not None:
        return None
    metric, direction = config.select.metric, config.select.direction
    return (
        f"select: {metric}, {'lower' if direction == 'min' else 'higher'} is better (inferred from its name; "
        "set select.mode to say otherwise)"
    )
