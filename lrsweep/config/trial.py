"""Your own training code as the way each variant trains: the ``trials:`` section and the ``command:`` template.

A config with ``command:`` runs one process per trial (variant), a config with ``function:`` calls a Python
function per trial; both report their metrics per epoch (see :mod:`lrsweep.sweep.trials`). The command is a template:
``{lr}``, ``{seed}``, ``{epochs}``, ``{trial_dir}``, ``{device}``, ``{trial_id}``, ``{run_dir}`` and
``{params.NAME}`` (a key of the config's ``params:``) are filled in per trial, shell-quoted when the command is a
string (run by ``/bin/sh -c``), as they are within each item when it is a list (an argv, run without a shell).
A placeholder may carry a format spec (``{lr:.2e}``); ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import json
import math
import shlex
import string
from typing import Any

from pydantic import Field, StrictBool, StrictFloat, StrictStr
from pydantic.dataclasses import dataclass as section

from lrsweep.config.sections import SECTION
from lrsweep.errors import ConfigError, shown
from lrsweep.registry import nearest

PLACEHOLDERS = ("lr", "seed", "epochs", "trial_dir", "device", "trial_id", "run_dir")  # and params.NAME
KINDS = ("engine", "command", "function")  # how a variant trains: lrsweep's own loop, or your code


@section(frozen=True, config=SECTION)
class TrialConfig:
    """How a trial of your own training code (``command:`` or ``function:``) is run and stopped."""

    timeout: StrictFloat | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="seconds a trial may train (time paused at a rung not counted), then it is stopped and "
        "failed; null: no limit",
    )
    stop_grace: StrictFloat = Field(
        default=10.0,
        ge=0,
        allow_inf_nan=False,
        description="seconds a stopped command gets between SIGTERM and SIGKILL (to its whole process group)",
    )
    pause: StrictBool = Field(
        default=True,
        description="at a rung (prune), keep a trial paused until it is promoted or pruned (a command: SIGSTOP; "
        "a function: waits in trial.report); false: stop it, and promoted trials train again from epoch 1 "
        "(frees the memory of paused trials)",
    )
    cwd: StrictStr | None = Field(
        default=None,
        description="the command's working directory; null: the config file's folder (the current "
        "directory for a config given as a dict or from Python)",
    )
    env: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="extra environment variables of every trial's process"
    )


def fields(template: str, key: str) -> list[tuple[str, str]]:
    """The ``(placeholder, format spec)`` pairs of one template string, in order; ConfigError on bad braces."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{exc} in {shown(template)} (write {{{{ and }}}} for literal braces)", key=key) from None
    found = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion:
            raise ConfigError(f"placeholder {{{name}!{conversion}}}: conversions are not supported", key=key)
        found.append((name, spec or ""))
    return found


def check_command(command: str | list[str], params: dict) -> None:
    """Every placeholder of ``command`` is one lrsweep fills in, every ``{params.NAME}`` a key of ``params``."""
    items = [command] if isinstance(command, str) else list(command)
    if not items or not any(item.strip() for item in items):
        raise ConfigError("the command is empty", key="command")
    if isinstance(command, str):
        try:
            shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"cannot parse the command as a shell line: {exc}", key="command") from None
    valid = [*PLACEHOLDERS, *(f"params.{name}" for name in params)]
    for i, item in enumerate(items):
        key = "command" if isinstance(command, str) else f"command[{i}]"
        for name, spec in fields(item, key):
            if name not in valid:
                guess = nearest(name, valid)
                hint = f"; did you mean {{{guess}}}?" if guess else ""
                what = f"params has no key '{name[7:]}'" if name.startswith("params.") else "unknown placeholder"
                raise ConfigError(
                    f"{{{name}}}: {what}{hint} (valid: {', '.join('{' + v + '}' for v in valid)})", key=key
                )
            if spec:
                try:
                    format(_sample(name), spec)
                except (ValueError, TypeError) as exc:
                    raise ConfigError(f"placeholder {{{name}:{spec}}}: {exc}", key=key) from None


def _sample(name: str) -> Any:
    return {"lr": 0.1, "seed": 0, "epochs": 1}.get(name, "text")


def check_params(params: dict) -> dict:
    """``params:`` keys are names ({params.NAME}), values plain data (they go into the command and JSON)."""
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"a params key must be a name (letters, digits, _), got {shown(name)}", key="params")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"must be plain data (text, numbers, lists, maps), got {shown(value)}", key=f"params.{name}"
            ) from None
    return params


def text_of(value: Any) -> str:
    """A value as a command line gets it: numbers round-trip (1e-05), booleans true/false, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value)


def lookup(name: str, values: dict, params: dict) -> Any:
    return params[name[7:]] if name.startswith("params.") else values[name]


def render(command: str | list[str] | tuple[str, ...], values: dict, params: dict) -> list[str]:
    """The argv of one trial: a string command through ``/bin/sh -c`` with shell-quoted values, a list item by item."""
    if isinstance(command, str):
        return ["/bin/sh", "-c", _fill(command, values, params, shlex.quote)]
    return [_fill(item, values, params, lambda text: text) for item in command]


def _fill(template: str, values: dict, params: dict, quote) -> str:
    out = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            value = lookup(name, values, params)
            out.append(quote(format(value, spec) if spec else text_of(value)))
    return "".join(out)
