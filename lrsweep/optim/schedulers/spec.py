"""Parsing a ``scheduler:`` entry into a :class:`SchedulerSpec`: names, parameters, intervals, composites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrsweep.errors import ConfigError, shown
from lrsweep.optim.schedulers.catalog import (
    COMPOSITES,
    FORMULA_NAMES,
    FORMULA_PARAMS,
    INTERVALS,
    NEVER_FROM_USER,
    SCHEDULERS,
    SchedulerType,
)
from lrsweep.optim.schedulers.defaults import DERIVED
from lrsweep.optim.schedulers.formula import compile_formula
from lrsweep.optim.schedulers.hints import check_hint, type_hints
from lrsweep.optim.schedulers.ranges import check_ranges
from lrsweep.registry import check_kwargs, nearest


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``scheduler:`` entry. ``params`` are the user's (nested specs for composites)."""

    type: str
    params: dict = field(default_factory=dict)
    interval: str = "epoch"
    key: str = field(default="scheduler", compare=False, repr=False)  # config path, for messages

    @property
    def label(self) -> str:
        """Short display name: ``steplr(step_size=5,gamma=0.5)``, or just ``steplr``."""
        parts = [f"{k}={_label_value(v)}" for k, v in self.params.items()]
        if self.interval != SCHEDULERS.get(self.type).interval and self.type != "none":
            parts.append(f"interval={self.interval}")
        return f"{self.type}({','.join(parts)})" if parts else self.type

    def to_dict(self) -> dict:
        """``{"type": ..., **params, "interval": ...}``; ``parse_scheduler`` reads it back unchanged."""
        return {"type": self.type, **{k: _plain(v) for k, v in self.params.items()}, "interval": self.interval}


def _label_value(value: Any) -> str:
    if isinstance(value, SchedulerSpec):
        return value.label
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_label_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same number: labels stay distinct
    return str(value).replace(" ", "")


def _plain(value: Any) -> Any:
    if isinstance(value, SchedulerSpec):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def parse_scheduler(value: Any, key: str = "scheduler") -> SchedulerSpec:
    """Validate a ``scheduler:`` value: None, a name, or ``{type: name, **params, interval: ...}``.

    Args:
        value: the raw value from YAML (or a SchedulerSpec, returned as is).
        key: its config path, used in every error message.
    Returns:
        The spec with the user's params type-checked (derived defaults are added by resolve_params).
    """
    if isinstance(value, SchedulerSpec):
        return value
    if value is None or value is False:
        value = {"type": "none"}
    elif isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict):
        raise ConfigError(f"expected a scheduler name or a mapping with 'type', got {shown(value)}", key=key)
    raw = dict(value)
    if "type" not in raw:
        hint = " (use 'type', not 'name')" if "name" in raw else ""
        raise ConfigError(f"missing 'type', e.g. {{type: steplr}}{hint}", key=key)
    name = SCHEDULERS.canonical(str(raw.pop("type")), key=f"{key}.type")
    interval = _check_interval(raw.pop("interval", None), key)
    if name in COMPOSITES:
        params, interval = _parse_composite(name, raw, interval, key)
    else:
        params = _check_params(SCHEDULERS.get(name), raw, key)
        interval = interval or SCHEDULERS.get(name).interval
    if name == "reducelronplateau" and interval == "step":
        raise ConfigError(
            "reducelronplateau steps on the validation loss once per epoch; interval must be 'epoch'",
            key=f"{key}.interval",
        )
    return SchedulerSpec(name, params, interval, key=key)


def _check_interval(value: Any, key: str) -> str | None:
    if value is None or value in INTERVALS:
        return value
    guess = nearest(str(value), INTERVALS)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"must be 'epoch' or 'step' (after every batch), got {shown(value)}{hint}", key=f"{key}.interval")


def _check_params(entry: SchedulerType, raw: dict, key: str) -> dict:
    """The user's params for a plain (non-composite) type, checked against the torch signature."""
    if entry.cls is None:
        if raw:
            raise ConfigError(f"'{entry.name}' takes no parameters, got {', '.join(raw)}", key=key)
        return {}
    derived = tuple(DERIVED.get(entry.name, {}))
    hidden = NEVER_FROM_USER + entry.skip
    hints = type_hints(entry.cls)
    for name, value in raw.items():  # the annotation first: its message is the more precise one
        if name in hints and name not in hidden and name not in FORMULA_PARAMS:
            check_hint(value, hints[name], f"{key}.{name}")
    checked = check_kwargs(entry.cls, raw, key, skip=hidden + derived, extra=derived)
    check_ranges(checked, key)
    for name in FORMULA_PARAMS:
        if name in checked:
            compile_formula(checked[name], FORMULA_NAMES, key=f"{key}.{name}")
    return checked


def _parse_composite(name: str, raw: dict, interval: str | None, key: str) -> tuple[dict, str]:
    """sequential / chained / warmup: nested specs, all stepping on one interval."""
    allowed = {
        "sequentiallr": ("schedulers", "milestones"),
        "chainedscheduler": ("schedulers",),
        "warmup": ("warmup_epochs", "start_factor", "then"),
    }[name]
    for unknown in [k for k in raw if k not in allowed]:
        guess = nearest(unknown, allowed)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"unknown key '{unknown}'{hint} (valid: {', '.join(allowed)})", key=f"{key}.{unknown}")
    if name == "warmup":
        children = [_child(raw.get("then"), f"{key}.then", allow_none=True)]
    else:
        if "schedulers" not in raw:
            raise ConfigError("missing required key(s): schedulers", key=key)
        listed = raw["schedulers"]
        if not isinstance(listed, list) or not listed:
            raise ConfigError(f"must be a non-empty list of schedulers, got {shown(listed)}", key=f"{key}.schedulers")
        children = [_child(item, f"{key}.schedulers[{i}]") for i, item in enumerate(listed)]
    interval = _shared_interval(children, interval, raw, key)
    children = [_with_interval(c, interval) for c in children]
    params: dict[str, Any] = {}
    if name == "warmup":
        params.update(_warmup_params(raw, key))
        if "then" in raw:
            params["then"] = children[0]
    else:
        params["schedulers"] = children
    if name == "sequentiallr":
        params["milestones"] = _check_milestones(raw.get("milestones"), len(children), f"{key}.milestones")
    return params, interval


def _child(value: Any, key: str, allow_none: bool = False) -> SchedulerSpec:
    child = parse_scheduler(value, key=key)
    if child.type in COMPOSITES or (child.type == "none" and not allow_none) or child.type == "reducelronplateau":
        raise ConfigError(
            f"'{child.type}' cannot be nested here (use a plain schedule such as steplr or cosine)", key=f"{key}.type"
        )
    return child


def _shared_interval(children: list[SchedulerSpec], interval: str | None, raw: dict, key: str) -> str:
    """A composite and its parts step together: an explicit interval wins, else any per-step part."""
    explicit = {c.key: c.interval for c, item in zip(children, _raw_children(raw)) if _has_interval(item)}
    if interval is None and len(set(explicit.values())) > 1:
        raise ConfigError("the nested schedulers set different intervals; they step together", key=key)
    chosen = interval or next(iter(explicit.values()), None)
    if chosen is None:
        chosen = "step" if any(c.interval == "step" for c in children) else "epoch"
    for child_key, child_interval in explicit.items():
        if child_interval != chosen:
            raise ConfigError(
                f"is '{child_interval}' but the enclosing schedule steps per '{chosen}'; "
                "nested schedulers step together",
                key=f"{child_key}.interval",
            )
    return chosen


def _raw_children(raw: dict) -> list:
    return [raw.get("then")] if "schedulers" not in raw else list(raw["schedulers"])


def _has_interval(item: Any) -> bool:
    if isinstance(item, SchedulerSpec):
        return True  # an already-parsed spec carries its interval
    return isinstance(item, dict) and "interval" in item


def _with_interval(spec: SchedulerSpec, interval: str) -> SchedulerSpec:
    return SchedulerSpec(spec.type, spec.params, interval, key=spec.key)


def _warmup_params(raw: dict, key: str) -> dict[str, int | float]:
    params: dict[str, int | float] = {}
    if "warmup_epochs" in raw:
        value = raw["warmup_epochs"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"must be an integer >= 1, got {shown(value)}", key=f"{key}.warmup_epochs")
        params["warmup_epochs"] = value
    if "start_factor" in raw:
        value = raw["start_factor"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ConfigError(f"must be a number in (0, 1], got {shown(value)}", key=f"{key}.start_factor")
        params["start_factor"] = value
    return params


def _check_milestones(value: Any, n_children: int, key: str) -> list[int]:
    if value is None:
        raise ConfigError(f"required: {n_children - 1} step(s) at which to switch to the next scheduler", key=key)
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ConfigError(f"must be a list of integers, got {shown(value)}", key=key)
    if len(value) != n_children - 1:
        raise ConfigError(
            f"needs {n_children - 1} milestone(s) for {n_children} schedulers, got {shown(value)}", key=key
        )
    if any(b <= a for a, b in zip([0] + value, value)):
        raise ConfigError(f"must be positive and increasing, got {shown(value)}", key=key)
    return list(value)
