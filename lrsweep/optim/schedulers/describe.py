"""What ``schedule --list`` shows: every type with its interval, parameters and defaults (torch's or derived)."""

from __future__ import annotations

import inspect
from typing import Any

from lrsweep.optim.schedulers.catalog import NEVER_FROM_USER, SCHEDULERS, SchedulerType
from lrsweep.optim.schedulers.defaults import DERIVED, WARMUP_START_FACTOR
from lrsweep.registry import signature_defaults

# Parameters of lrsweep's own types (defaults: WARMUP_START_FACTOR and DERIVED).
_OWN_PARAMS: dict[str, dict[str, Any]] = {
    "warmup": {"warmup_epochs": None, "start_factor": WARMUP_START_FACTOR, "then": "none (constant LR after warmup)"},
    "sequentiallr": {"schedulers": inspect.Parameter.empty, "milestones": inspect.Parameter.empty},
    "chainedscheduler": {"schedulers": inspect.Parameter.empty},
}
_REQUIRED_TEXT = {
    "lr_lambda": "required: a formula of epoch (or step), e.g. '0.95 ** epoch'",
    "schedulers": "required: a list of schedules (plain types, stepping together)",
    "milestones": "required: the steps at which to switch (epochs, or batches when interval=step)",
}


def describe_all() -> list[dict]:
    """Every scheduler type for ``schedule --list``: names, torch class, interval, parameters and defaults."""
    return [_describe_type(entry) for _, entry in SCHEDULERS]


def _describe_type(entry: SchedulerType) -> dict:
    if entry.name in _OWN_PARAMS:
        defaults = dict(_OWN_PARAMS[entry.name])
    elif entry.cls is not None:
        defaults = signature_defaults(entry.cls, skip=NEVER_FROM_USER + entry.skip)
    else:
        defaults = {}
    derived = DERIVED.get(entry.name, {})
    params = []
    for name, default in defaults.items():
        if name in derived:
            params.append({"name": name, "default": derived[name].text, "source": "lrsweep"})
        elif default is inspect.Parameter.empty:
            params.append({"name": name, "default": _REQUIRED_TEXT.get(name, "required"), "source": "required"})
        else:
            source = "lrsweep" if entry.name in _OWN_PARAMS else "torch"
            params.append({"name": name, "default": _default_text(default), "source": source})
    return {
        "name": entry.name,
        "aliases": SCHEDULERS.aliases_of(entry.name),
        "torch_class": f"{entry.cls.__module__}.{entry.cls.__name__}" if entry.cls else None,
        "interval": entry.interval,
        "summary": entry.summary,
        "params": params,
    }


def _default_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
