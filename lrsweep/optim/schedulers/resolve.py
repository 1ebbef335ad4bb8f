"""The parameters that actually run (the user's plus derived defaults), and the torch scheduler built from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.optim import lr_scheduler as torch_schedulers

from lrsweep.errors import ConfigError
from lrsweep.optim import trial_optimizer
from lrsweep.optim.schedulers.catalog import FORMULA_NAMES, FORMULA_PARAMS, SCHEDULERS
from lrsweep.optim.schedulers.defaults import DERIVED, WARMUP_START_FACTOR, Impossible, Span
from lrsweep.optim.schedulers.formula import compile_formula
from lrsweep.optim.schedulers.spec import SchedulerSpec

FORMULA_CHECK_LIMIT = (
    10_000  # a formula is checked at every scheduler step up to this many (else a sample), at config time
)


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
    trial = trial_optimizer(lr=span.lr, momentum=0.9)
    build_scheduler(spec, resolved, trial, steps_per_epoch)  # torch's own checks, before any training
    return resolved


def cannot_fire(spec: SchedulerSpec, resolved: dict, epochs: int) -> str | None:
    """Why a ReduceLROnPlateau of ``resolved`` can never lower the LR in an ``epochs``-epoch run, or None.

    It lowers the LR after patience + 1 epochs without improvement on the first epoch's metric, so the
    earliest drop ends epoch patience + 2 and is used from epoch patience + 3 on: patience <= epochs - 3.
    """
    patience = resolved.get("patience")
    if spec.type != "reducelronplateau" or not isinstance(patience, int) or patience <= epochs - 3:
        return None
    fix = f"; set patience <= {epochs - 3}" if epochs >= 3 else "; it needs at least 3 epochs"
    return (
        f"{spec.key}: reducelronplateau with patience={patience} cannot lower the LR in a {epochs}-epoch run "
        f"(patience + 1 epochs without improvement, then an epoch at the lower LR): it trains as 'none'{fix}"
    )


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
    except Impossible as exc:
        param, message = exc.args
        raise ConfigError(message, key=f"{spec.key}.{param}") from None
    return params


def _typed(spec: SchedulerSpec, span: Span) -> dict:
    return {"type": spec.type, **_resolve(spec, span)}


def _resolve_sequential(spec: SchedulerSpec, span: Span) -> dict:
    marks = spec.params["milestones"]
    if marks[-1] >= span.n:
        raise ConfigError(
            f"milestone {marks[-1]} is at or past the end of the run (N={span.n}); "
            "the schedulers after it would never run",
            key=f"{spec.key}.milestones",
        )
    bounds = [0, *marks, span.n]
    children = [
        _typed(child, _segment(span, bounds[i + 1] - bounds[i])) for i, child in enumerate(spec.params["schedulers"])
    ]
    return {"schedulers": children, "milestones": list(marks)}


def _segment(span: Span, n: int) -> Span:
    return Span(span.lr, span.epochs, span.steps_per_epoch, span.interval, n)


def _resolve_warmup(spec: SchedulerSpec, span: Span) -> dict:
    params = {
        "warmup_epochs": spec.params.get("warmup_epochs") or DERIVED["warmup"]["warmup_epochs"].compute(span, {}),
        "start_factor": spec.params.get("start_factor", WARMUP_START_FACTOR),
    }
    then = spec.params.get("then") or SchedulerSpec("none", {}, spec.interval, key=f"{spec.key}.then")
    warm = warmup_steps(params["warmup_epochs"], spec.interval, span.steps_per_epoch)
    rest = span.n - warm
    if rest < 0 or (rest == 0 and then.type != "none"):
        raise ConfigError(
            f"warmup_epochs={params['warmup_epochs']} leaves no epochs for 'then' (epochs={span.epochs})",
            key=f"{spec.key}.warmup_epochs",
        )
    params["then"] = _typed(then, _segment(span, rest)) if then.type != "none" else {"type": "none"}
    return params


def warmup_steps(warmup_epochs: int, interval: str, steps_per_epoch: int) -> int:
    return warmup_epochs * steps_per_epoch if interval == "step" else warmup_epochs


def _check_onecycle(span: Span, params: dict) -> None:
    total = params["total_steps"]
    if total is None:
        raise Impossible("total_steps", "must be set (lrsweep does not take epochs/steps_per_epoch here)")
    if total < span.n:
        raise Impossible(
            "total_steps",
            f"total_steps={total} is fewer than the {span.n} steps of the run; OneCycleLR cannot step past its total",
        )
    pct = params.get("pct_start", 0.3)
    if isinstance(pct, (int, float)) and pct * total <= 1:
        raise Impossible(
            "total_steps",
            f"total_steps={total} is too few for pct_start={pct} "
            f"(needs pct_start x total_steps > 1); use interval: step or more epochs",
        )


def _check_formula(span: Span, params: dict) -> None:
    formula = compile_formula(params["lr_lambda"], FORMULA_NAMES)
    points: Sequence[int] = range(span.n + 1)
    if span.n > FORMULA_CHECK_LIMIT:
        points = sorted({*range(0, span.n + 1, span.n // FORMULA_CHECK_LIMIT + 1), span.n})
    for t in points:
        try:
            value = formula(t)
        except ConfigError as exc:
            raise Impossible("lr_lambda", exc.message) from None
        if value < 0:
            raise Impossible("lr_lambda", f"formula {formula.text!r} gives a negative factor {value:g} at epoch={t}")


# Per-type checks of the resolved values (impossible combinations are refused before training).
CHECKS: dict[str, Callable[[Span, dict], None]] = {
    "onecyclelr": _check_onecycle,
    "lambdalr": _check_formula,
    "multiplicativelr": _check_formula,
}

# ---------------------------------------------------------------------------------------------- build


def build_scheduler(spec: SchedulerSpec, resolved: dict, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """The torch scheduler for ``resolved`` on ``optimizer`` (None for ``none``)."""
    if spec.type == "none":
        return None
    try:
        return _construct(spec, resolved, optimizer, steps_per_epoch)
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
        raise ConfigError(f"torch refused it: {exc}", key=spec.key) from None


def _construct(spec: SchedulerSpec, resolved: dict, optimizer, steps_per_epoch: int):
    if spec.type == "warmup":
        warm = warmup_steps(resolved["warmup_epochs"], spec.interval, steps_per_epoch)
        ramp = torch_schedulers.LinearLR(
            optimizer, start_factor=resolved["start_factor"], end_factor=1.0, total_iters=warm
        )
        then_spec = spec.params.get("then")
        if then_spec is None or then_spec.type == "none":
            return ramp
        then = _built_child(then_spec, resolved["then"], optimizer, steps_per_epoch)
        return torch_schedulers.SequentialLR(optimizer, [ramp, then], milestones=[warm])
    if spec.type in ("sequentiallr", "chainedscheduler"):
        children = [
            _built_child(c, r, optimizer, steps_per_epoch)
            for c, r in zip(spec.params["schedulers"], resolved["schedulers"])
        ]
        if spec.type == "chainedscheduler":
            return torch_schedulers.ChainedScheduler(children, optimizer=optimizer)
        return torch_schedulers.SequentialLR(optimizer, children, milestones=resolved["milestones"])
    kwargs = {
        k: compile_formula(v, FORMULA_NAMES, key=f"{spec.key}.{k}") if k in FORMULA_PARAMS else v
        for k, v in resolved.items()
    }
    return SCHEDULERS.get(spec.type).cls(optimizer, **kwargs)


def _built_child(spec: SchedulerSpec, resolved: dict, optimizer, steps_per_epoch: int):
    return build_scheduler(spec, {k: v for k, v in resolved.items() if k != "type"}, optimizer, steps_per_epoch)
