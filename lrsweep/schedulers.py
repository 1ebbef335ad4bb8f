"""Every ``torch.optim.lr_scheduler`` by name: parsing, derived defaults, the stepping policy, preview.

The real torch classes do all LR arithmetic; lrsweep only builds them and decides when ``.step()``
is called (:class:`ScheduleDriver`, the one place that steps them).

N below is the schedule's length in scheduler steps: the epochs, or epochs x steps_per_epoch
when ``interval: step``; inside ``sequential``/``warmup`` it is the length of the segment.
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

import torch
from torch.optim import lr_scheduler as torch_schedulers

from lrsweep.errors import ConfigError
from lrsweep.formula import compile_formula
from lrsweep.registry import Registry, check_kwargs, nearest, signature_defaults

INTERVALS = ("epoch", "step")
LENGTH_NOTE = "N = scheduler steps in the schedule: epochs, or epochs x steps per epoch when interval=step"
FORMULA_NAMES = ("epoch", "step")  # both name torch's counter: epochs, or optimizer steps when interval=step
FORMULA_PARAMS = ("lr_lambda",)
NEVER_FROM_USER = ("optimizer", "last_epoch")  # lrsweep passes the optimizer and always starts fresh
COMPOSITES = ("sequentiallr", "chainedscheduler", "warmup")
WARMUP_START_FACTOR = 0.1  # warmup starts at lr x 0.1 and rises linearly to lr
FORMULA_CHECK_LIMIT = 10_000  # a formula is checked at every scheduler step up to this many (else a sample), at config time


class _Impossible(Exception):
    """A derived (or given) value cannot work for this run: ``args = (param, message)``."""


@dataclass(frozen=True)
class Span:
    """What a derived default may depend on: the run (or the segment) the schedule covers."""

    lr: float
    epochs: int
    steps_per_epoch: int
    interval: str
    n: int  # scheduler steps in the span


@dataclass(frozen=True)
class Rule:
    """A derived default: its text (shown by ``--list``) and how it is computed."""

    text: str
    compute: Callable[[Span, dict], Any]


def _milestones(span: Span, params: dict) -> list[int]:
    marks = sorted({m for m in (span.n // 2, 3 * span.n // 4) if m >= 1})
    if not marks:
        raise _Impossible("milestones", f"N={span.n} is too short for milestones at 50% and 75%; set milestones")
    return marks


def _base_lr(span: Span, params: dict) -> Any:
    top = params["max_lr"]
    return [v / 10 for v in top] if isinstance(top, (list, tuple)) else top / 10


def _warm_restart_t0(span: Span, params: dict) -> int:
    mult = params.get("T_mult", 1)
    return max(1, span.n // (1 + mult + mult**2))


# Derived defaults: the ONE place each is written (rules run in this order; later ones may read earlier).
DERIVED: dict[str, dict[str, Rule]] = {
    "steplr": {"step_size": Rule("ceil(N/3): two decays within the run", lambda s, p: max(1, math.ceil(s.n / 3)))},
    "multisteplr": {"milestones": Rule("[N//2, 3N//4]: decays at 50% and 75% of the run", _milestones)},
    "exponentiallr": {"gamma": Rule("0.01 ** (1/N): the LR falls 100x over the run", lambda s, p: 0.01 ** (1 / s.n))},
    "cycliclr": {
        "max_lr": Rule("the variant's lr: the peak of each cycle", lambda s, p: s.lr),
        "base_lr": Rule("max_lr / 10: the trough of each cycle", _base_lr),
        "step_size_up": Rule("max(1, N//4): two full cycles in the run", lambda s, p: max(1, s.n // 4)),
        "cycle_momentum": Rule("false: lrsweep varies the LR alone (true needs momentum or betas)", lambda s, p: False),
    },
    "cosineannealinglr": {"T_max": Rule("N: one half-cosine over the run", lambda s, p: s.n)},
    "cosineannealingwarmrestarts": {
        "T_0": Rule("max(1, N // (1 + T_mult + T_mult**2)): three cycles ending with the run", _warm_restart_t0),
    },
    "onecyclelr": {
        "max_lr": Rule("the variant's lr: the peak of the cycle", lambda s, p: s.lr),
        "total_steps": Rule("N: the cycle spans the run", lambda s, p: s.n),
        "cycle_momentum": Rule("false: lrsweep varies the LR alone (true needs momentum or betas)", lambda s, p: False),
    },
    "constantlr": {"total_iters": Rule("max(1, N//10): the first 10% of the run", lambda s, p: max(1, s.n // 10))},
    "linearlr": {"total_iters": Rule("N: the ramp spans the run", lambda s, p: s.n)},
    "polynomiallr": {"total_iters": Rule("N: the LR reaches 0 at the end of the run", lambda s, p: s.n)},
    "warmup": {"warmup_epochs": Rule("max(1, epochs//10): the first 10% of the run", lambda s, p: max(1, s.epochs // 10))},
}


@dataclass(frozen=True)
class SchedulerType:
    """A registry entry: the torch class (None for ``none``/``warmup``) and how lrsweep treats it."""

    name: str
    cls: type | None
    interval: str = "epoch"  # when it steps unless the user sets ``interval``
    skip: tuple[str, ...] = ()  # further torch parameters never taken from the user
    summary: str = ""


# name, torch class name, aliases, default interval, parameters lrsweep does not expose, one-line summary
_TYPES = [
    ("steplr", "StepLR", ("step",), "epoch", (), "multiply the LR by gamma every step_size steps"),
    ("multisteplr", "MultiStepLR", ("multistep",), "epoch", (), "multiply the LR by gamma at each milestone"),
    ("exponentiallr", "ExponentialLR", ("exponential", "exp"), "epoch", (), "multiply the LR by gamma every step"),
    ("reducelronplateau", "ReduceLROnPlateau", ("plateau",), "epoch", (),
     "multiply the LR by factor when the validation loss stops improving"),
    ("cycliclr", "CyclicLR", ("cyclic",), "step", ("scale_fn",), "cycle the LR between base_lr and max_lr"),
    ("cosineannealinglr", "CosineAnnealingLR", ("cosine",), "epoch", (), "cosine from lr down to eta_min"),
    ("cosineannealingwarmrestarts", "CosineAnnealingWarmRestarts", ("sgdr", "cosinerestarts"), "epoch", (),
     "cosine annealing restarted every T_0 (x T_mult) steps"),
    ("onecyclelr", "OneCycleLR", ("onecycle",), "step", ("epochs", "steps_per_epoch"),
     "one cycle: up to max_lr, then down far below the start"),
    ("lambdalr", "LambdaLR", ("lambda",), "epoch", (), "lr x lr_lambda(epoch), a formula such as '0.95 ** epoch'"),
    ("multiplicativelr", "MultiplicativeLR", ("multiplicative",), "epoch", (),
     "multiply the LR by lr_lambda(epoch) every step"),
    ("constantlr", "ConstantLR", (), "epoch", (), "lr x factor for total_iters steps, then lr"),
    ("linearlr", "LinearLR", ("linear",), "epoch", (), "lr x a factor moving linearly from start_factor to end_factor"),
    ("polynomiallr", "PolynomialLR", ("polynomial", "poly"), "epoch", (), "polynomial decay to 0 over total_iters"),
    ("sequentiallr", "SequentialLR", ("sequential",), "epoch", (), "one schedule after another, switching at milestones"),
    ("chainedscheduler", "ChainedScheduler", ("chained", "chain"), "epoch", (), "several schedules applied together"),
]


def _build_registry() -> Registry:
    registry: Registry = Registry("scheduler")
    registry.add("none", SchedulerType("none", None, summary="constant LR"))
    for name, cls_name, aliases, interval, skip, summary in _TYPES:
        cls = getattr(torch_schedulers, cls_name, None)
        if cls is not None:
            registry.add(name, SchedulerType(name, cls, interval, skip, summary), aliases)
    registry.add("warmup", SchedulerType("warmup", None, summary="linear warmup for warmup_epochs, then `then`"))
    for cls in torch_scheduler_classes():  # a scheduler added by a newer torch still gets a plain entry
        if cls.__name__.lower() not in registry:
            registry.add(cls.__name__.lower(), SchedulerType(cls.__name__.lower(), cls, summary=_first_line(cls)))
    return registry


def torch_scheduler_classes() -> list[type]:
    """Every public LR scheduler class torch defines in ``torch.optim.lr_scheduler``."""
    bases = {torch_schedulers.LRScheduler, getattr(torch_schedulers, "_LRScheduler", None)}
    found = []
    for attr, obj in vars(torch_schedulers).items():
        if attr.startswith("_") or not isinstance(obj, type) or obj in bases:
            continue
        if obj.__module__ == torch_schedulers.__name__ and issubclass(obj, torch_schedulers.LRScheduler):
            found.append(obj)
    if torch_schedulers.ReduceLROnPlateau not in found:  # not an LRScheduler subclass before torch 2.2
        found.append(torch_schedulers.ReduceLROnPlateau)
    return found


def _first_line(cls: type) -> str:
    return (inspect.getdoc(cls) or "").split("\n", 1)[0]


SCHEDULERS: Registry = _build_registry()


# ---------------------------------------------------------------------------------------------- spec


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
        raise ConfigError(f"expected a scheduler name or a mapping with 'type', got {value!r}", key=key)
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
        raise ConfigError("reducelronplateau steps on the validation loss once per epoch; "
                          "interval must be 'epoch'", key=f"{key}.interval")
    return SchedulerSpec(name, params, interval, key=key)


def _check_interval(value: Any, key: str) -> str | None:
    if value is None or value in INTERVALS:
        return value
    guess = nearest(str(value), INTERVALS)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"must be 'epoch' or 'step' (after every batch), got {value!r}{hint}", key=f"{key}.interval")


def _check_params(entry: SchedulerType, raw: dict, key: str) -> dict:
    """The user's params for a plain (non-composite) type, checked against the torch signature."""
    if entry.cls is None:
        if raw:
            raise ConfigError(f"'{entry.name}' takes no parameters, got {', '.join(raw)}", key=key)
        return {}
    derived = tuple(DERIVED.get(entry.name, {}))
    hidden = NEVER_FROM_USER + entry.skip
    hints = _type_hints(entry.cls)
    for name, value in raw.items():  # the annotation first: its message is the more precise one
        if name in hints and name not in hidden and name not in FORMULA_PARAMS:
            _check_hint(value, hints[name], f"{key}.{name}")
    checked = check_kwargs(entry.cls, raw, key, skip=hidden + derived, extra=derived)
    for name in FORMULA_PARAMS:
        if name in checked:
            compile_formula(checked[name], FORMULA_NAMES, key=f"{key}.{name}")
    return checked


def _parse_composite(name: str, raw: dict, interval: str | None, key: str) -> tuple[dict, str]:
    """sequential / chained / warmup: nested specs, all stepping on one interval."""
    allowed = {"sequentiallr": ("schedulers", "milestones"), "chainedscheduler": ("schedulers",),
               "warmup": ("warmup_epochs", "start_factor", "then")}[name]
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
            raise ConfigError(f"must be a non-empty list of schedulers, got {listed!r}", key=f"{key}.schedulers")
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
        raise ConfigError(f"'{child.type}' cannot be nested here (use a plain schedule such as steplr or cosine)",
                          key=f"{key}.type")
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
            raise ConfigError(f"is '{child_interval}' but the enclosing schedule steps per '{chosen}'; "
                              "nested schedulers step together", key=f"{child_key}.interval")
    return chosen


def _raw_children(raw: dict) -> list:
    return [raw.get("then")] if "schedulers" not in raw else list(raw["schedulers"])


def _has_interval(item: Any) -> bool:
    if isinstance(item, SchedulerSpec):
        return True  # an already-parsed spec carries its interval
    return isinstance(item, dict) and "interval" in item


def _with_interval(spec: SchedulerSpec, interval: str) -> SchedulerSpec:
    return SchedulerSpec(spec.type, spec.params, interval, key=spec.key)


def _warmup_params(raw: dict, key: str) -> dict:
    params = {}
    if "warmup_epochs" in raw:
        value = raw["warmup_epochs"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"must be an integer >= 1, got {value!r}", key=f"{key}.warmup_epochs")
        params["warmup_epochs"] = value
    if "start_factor" in raw:
        value = raw["start_factor"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ConfigError(f"must be a number in (0, 1], got {value!r}", key=f"{key}.start_factor")
        params["start_factor"] = value
    return params


def _check_milestones(value: Any, n_children: int, key: str) -> list[int]:
    if value is None:
        raise ConfigError(f"required: {n_children - 1} step(s) at which to switch to the next scheduler",
                          key=key)
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ConfigError(f"must be a list of integers, got {value!r}", key=key)
    if len(value) != n_children - 1:
        raise ConfigError(f"needs {n_children - 1} milestone(s) for {n_children} schedulers, got {value!r}", key=key)
    if any(b <= a for a, b in zip([0] + value, value)):
        raise ConfigError(f"must be positive and increasing, got {value!r}", key=key)
    return list(value)


# ------------------------------------------------------------------------------------ type checking

_HINT_NAMES = {
    "Callable": collections.abc.Callable, "Iterable": collections.abc.Iterable,
    "Sequence": collections.abc.Sequence, "Literal": Literal, "Optimizer": torch.optim.Optimizer,
    "LRScheduler": torch_schedulers.LRScheduler,
}
_SEQUENCES = (list, tuple, collections.abc.Iterable, collections.abc.Sequence)


def _type_hints(cls: type) -> dict[str, Any]:
    """The constructor's annotations, or {} when this torch writes them in a way we cannot read."""
    try:
        return typing.get_type_hints(cls.__init__, localns=_HINT_NAMES)
    except Exception:  # annotations are advisory; check_kwargs has already checked names and defaults
        return {}


def _check_hint(value: Any, hint: Any, key: str) -> None:
    if _matches(value, hint):
        return
    message = f"must be {_describe(hint)}, got {value!r}"
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
    names = {bool: ("true or false", "booleans"), int: ("an integer", "integers"), float: ("a number", "numbers"),
             str: ("a string", "strings")}
    return names.get(hint, ("a value", "values"))[plural]


def _is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------ derived values


def _root_span(spec: SchedulerSpec, lr: float, epochs: int, steps_per_epoch: int) -> Span:
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {name}={value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ConfigError(f"lr must be > 0, got lr={lr!r}")
    n = epochs * steps_per_epoch if spec.interval == "step" else epochs
    return Span(float(lr), epochs, steps_per_epoch, spec.interval, n)


def resolve_params(spec: SchedulerSpec, lr: float, epochs: int, steps_per_epoch: int) -> dict:
    """The parameters that actually run: the user's plus derived defaults, checked by a trial build.

    Plain types give the torch keyword arguments (``optimizer`` aside; ``lr_lambda`` as its formula
    text). Composites give ``schedulers`` (or ``then``) as a list of ``{"type": ..., **resolved}``.
    Raises ConfigError for a value that cannot work for this run (e.g. too few epochs).
    """
    span = _root_span(spec, lr, epochs, steps_per_epoch)
    resolved = _resolve(spec, span)
    trial = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=span.lr, momentum=0.9)
    _build(spec, resolved, trial, steps_per_epoch)  # torch's own checks, before any training
    return resolved


def _resolve(spec: SchedulerSpec, span: Span) -> dict:
    if spec.type == "sequentiallr":
        return _resolve_sequential(spec, span)
    if spec.type == "chainedscheduler":
        return {"schedulers": [_typed(child, span) for child in spec.params["schedulers"]]}
    if spec.type == "warmup":
        return _resolve_warmup(spec, span)
    params = dict(spec.params)
    try:
        for name, rule in DERIVED.get(spec.type, {}).items():
            if name not in params:
                params[name] = rule.compute(span, params)
        CHECKS.get(spec.type, lambda s, p: None)(span, params)
    except _Impossible as exc:
        param, message = exc.args
        raise ConfigError(message, key=f"{spec.key}.{param}") from None
    return params


def _typed(spec: SchedulerSpec, span: Span) -> dict:
    return {"type": spec.type, **_resolve(spec, span)}


def _resolve_sequential(spec: SchedulerSpec, span: Span) -> dict:
    marks = spec.params["milestones"]
    if marks[-1] >= span.n:
        raise ConfigError(f"milestone {marks[-1]} is at or past the end of the run (N={span.n}); "
                          "the schedulers after it would never run", key=f"{spec.key}.milestones")
    bounds = [0, *marks, span.n]
    children = [_typed(child, _segment(span, bounds[i + 1] - bounds[i]))
                for i, child in enumerate(spec.params["schedulers"])]
    return {"schedulers": children, "milestones": list(marks)}


def _segment(span: Span, n: int) -> Span:
    return Span(span.lr, span.epochs, span.steps_per_epoch, span.interval, n)


def _resolve_warmup(spec: SchedulerSpec, span: Span) -> dict:
    params = {"warmup_epochs": spec.params.get("warmup_epochs") or DERIVED["warmup"]["warmup_epochs"].compute(span, {}),
              "start_factor": spec.params.get("start_factor", WARMUP_START_FACTOR)}
    then = spec.params.get("then") or SchedulerSpec("none", {}, spec.interval, key=f"{spec.key}.then")
    warm = _warmup_steps(params["warmup_epochs"], spec.interval, span.steps_per_epoch)
    rest = span.n - warm
    if rest < 0 or (rest == 0 and then.type != "none"):
        raise ConfigError(f"warmup_epochs={params['warmup_epochs']} leaves no epochs for 'then' "
                          f"(epochs={span.epochs})", key=f"{spec.key}.warmup_epochs")
    params["then"] = _typed(then, _segment(span, rest)) if then.type != "none" else {"type": "none"}
    return params


def _warmup_steps(warmup_epochs: int, interval: str, steps_per_epoch: int) -> int:
    return warmup_epochs * steps_per_epoch if interval == "step" else warmup_epochs


def _check_onecycle(span: Span, params: dict) -> None:
    total = params["total_steps"]
    if total is None:
        raise _Impossible("total_steps", "must be set (lrsweep does not take epochs/steps_per_epoch here)")
    if total < span.n:
        raise _Impossible("total_steps", f"total_steps={total} is fewer than the {span.n} steps of the run; "
                                         "OneCycleLR cannot step past its total")
    pct = params.get("pct_start", 0.3)
    if isinstance(pct, (int, float)) and pct * total <= 1:
        raise _Impossible("total_steps", f"total_steps={total} is too few for pct_start={pct} "
                                         f"(needs pct_start x total_steps > 1); use interval: step or more epochs")


def _check_formula(span: Span, params: dict) -> None:
    formula = compile_formula(params["lr_lambda"], FORMULA_NAMES)
    points = range(span.n + 1)
    if span.n > FORMULA_CHECK_LIMIT:
        points = sorted({*range(0, span.n + 1, span.n // FORMULA_CHECK_LIMIT + 1), span.n})
    for t in points:
        try:
            value = formula(t)
        except ConfigError as exc:
            raise _Impossible("lr_lambda", exc.message) from None
        if value < 0:
            raise _Impossible("lr_lambda", f"formula {formula.text!r} gives a negative factor {value:g} "
                                           f"at epoch={t}")


# Per-type checks of the resolved values (impossible combinations are refused before training).
CHECKS: dict[str, Callable[[Span, dict], None]] = {
    "onecyclelr": _check_onecycle,
    "lambdalr": _check_formula,
    "multiplicativelr": _check_formula,
}


# ---------------------------------------------------------------------------------------------- build


def _build(spec: SchedulerSpec, resolved: dict, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """The torch scheduler for ``resolved`` on ``optimizer`` (None for ``none``)."""
    if spec.type == "none":
        return None
    try:
        return _construct(spec, resolved, optimizer, steps_per_epoch)
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
        raise ConfigError(f"torch refused it: {exc}", key=spec.key) from None


def _construct(spec: SchedulerSpec, resolved: dict, optimizer, steps_per_epoch: int):
    if spec.type == "warmup":
        warm = _warmup_steps(resolved["warmup_epochs"], spec.interval, steps_per_epoch)
        ramp = torch_schedulers.LinearLR(optimizer, start_factor=resolved["start_factor"], end_factor=1.0,
                                         total_iters=warm)
        then_spec = spec.params.get("then")
        if then_spec is None or then_spec.type == "none":
            return ramp
        then = _built_child(then_spec, resolved["then"], optimizer, steps_per_epoch)
        return torch_schedulers.SequentialLR(optimizer, [ramp, then], milestones=[warm])
    if spec.type in ("sequentiallr", "chainedscheduler"):
        children = [_built_child(c, r, optimizer, steps_per_epoch)
                    for c, r in zip(spec.params["schedulers"], resolved["schedulers"])]
        if spec.type == "chainedscheduler":
            return torch_schedulers.ChainedScheduler(children, optimizer=optimizer)
        return torch_schedulers.SequentialLR(optimizer, children, milestones=resolved["milestones"])
    kwargs = {k: compile_formula(v, FORMULA_NAMES, key=f"{spec.key}.{k}") if k in FORMULA_PARAMS else v
              for k, v in resolved.items()}
    return SCHEDULERS.get(spec.type).cls(optimizer, **kwargs)


def _built_child(spec: SchedulerSpec, resolved: dict, optimizer, steps_per_epoch: int):
    return _build(spec, {k: v for k, v in resolved.items() if k != "type"}, optimizer, steps_per_epoch)


class ScheduleDriver:
    """Owns when ``.step()`` is called: the ONLY place that steps torch schedulers.

    Per-step schedules step after every optimizer step, epoch schedules (and ReduceLROnPlateau, on
    the metric) after every epoch. The step after the run's last batch/epoch is skipped (its LR
    would never be used), so :attr:`lr` ends as the LR of the last step. Calling past the planned
    epochs x steps_per_epoch raises RuntimeError: the plan the defaults were derived from is wrong.

    Args:
        spec: the parsed schedule.
        optimizer: a fresh optimizer (its param groups' ``lr`` is where the schedule starts).
        epochs: epochs the run trains.
        steps_per_epoch: optimizer steps per epoch (``len(loader)``).
        lr: the variant's learning rate (for derived defaults such as OneCycleLR's max_lr).
    """

    def __init__(self, spec: SchedulerSpec, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int,
                 lr: float):
        self.spec = spec
        self.optimizer = optimizer
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.params = resolve_params(spec, lr, epochs, steps_per_epoch)
        self.scheduler = _build(spec, self.params, optimizer, steps_per_epoch)
        self.batches_done = 0
        self.epochs_done = 0

    @property
    def per_step(self) -> bool:
        return self.spec.interval == "step"

    @property
    def lr(self) -> float:
        """The current LR of param group 0: what the next optimizer step will use."""
        return float(self.optimizer.param_groups[0]["lr"])

    def after_batch(self) -> None:
        """Call after every ``optimizer.step()``."""
        self.batches_done += 1
        planned = self.epochs * self.steps_per_epoch
        if self.batches_done > planned:
            raise RuntimeError(f"after_batch called {self.batches_done} times, but the schedule was planned for "
                               f"{self.epochs} epochs x {self.steps_per_epoch} steps = {planned}")
        if self.scheduler is not None and self.per_step and self.batches_done < planned:
            self.scheduler.step()

    def after_epoch(self, metric: float | None = None) -> None:
        """Call at the end of each epoch; ``metric`` (val loss, else train loss) drives ReduceLROnPlateau."""
        self.epochs_done += 1
        if self.epochs_done > self.epochs:
            raise RuntimeError(f"after_epoch called {self.epochs_done} times for a {self.epochs}-epoch schedule")
        if self.scheduler is None or self.epochs_done == self.epochs:
            return
        if self.spec.type == "reducelronplateau":
            if metric is None:
                raise ValueError("reducelronplateau needs the epoch's metric (validation or training loss)")
            self.scheduler.step(metric)
        elif not self.per_step:
            self.scheduler.step()


# -------------------------------------------------------------------------------------------- preview


PLATEAU_NOTE = "preview assumes a flat metric: the LR drops by factor every patience+1 epochs (+ cooldown)"


@dataclass
class Preview:
    """The LR a schedule gives at every epoch and every optimizer step, with what it resolved to."""

    spec: SchedulerSpec
    params: dict  # resolved
    epoch_lrs: list[float]  # LR during each epoch (its LR at the start)
    step_lrs: list[float]  # LR at each optimizer step; len = epochs x steps_per_epoch
    note: str | None = None  # e.g. the flat-metric assumption for ReduceLROnPlateau

    @property
    def final_lr(self) -> float:
        return self.step_lrs[-1]


def preview(spec: SchedulerSpec, lr: float, epochs: int, steps_per_epoch: int) -> Preview:
    """Drive the real scheduler on a throwaway optimizer (one dummy parameter, no data)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
    driver = ScheduleDriver(spec, optimizer, epochs, steps_per_epoch, lr)
    epoch_lrs: list[float] = []
    step_lrs: list[float] = []
    for _ in range(epochs):
        epoch_lrs.append(driver.lr)
        if driver.per_step:
            for _ in range(steps_per_epoch):
                step_lrs.append(driver.lr)
                optimizer.step()  # no gradients: nothing moves, but torch sees the proper call order
                driver.after_batch()
        else:
            step_lrs.extend([driver.lr] * steps_per_epoch)
            optimizer.step()
        driver.after_epoch(1.0)  # a flat metric, for ReduceLROnPlateau
    note = PLATEAU_NOTE if spec.type == "reducelronplateau" else None
    return Preview(spec, driver.params, epoch_lrs, step_lrs, note)


# ----------------------------------------------------------------------------------------- describe


_OWN_PARAMS = {  # parameters of lrsweep's own types (their defaults are written above, once)
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
