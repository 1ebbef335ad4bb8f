"""The scheduler types: every ``torch.optim.lr_scheduler`` class by a lower-case name, with aliases."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from torch.optim import lr_scheduler as torch_schedulers

from lrsweep.registry import Registry

INTERVALS = ("epoch", "step")
FORMULA_NAMES = ("epoch", "step")  # both name torch's counter: epochs, or optimizer steps when interval=step
FORMULA_PARAMS = ("lr_lambda",)
NEVER_FROM_USER = ("optimizer", "last_epoch")  # lrsweep passes the optimizer and always starts fresh
COMPOSITES = ("sequentiallr", "chainedscheduler", "warmup")


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
    (
        "reducelronplateau",
        "ReduceLROnPlateau",
        ("plateau",),
        "epoch",
        (),
        "multiply the LR by factor when the validation loss stops improving",
    ),
    ("cycliclr", "CyclicLR", ("cyclic",), "step", ("scale_fn",), "cycle the LR between base_lr and max_lr"),
    ("cosineannealinglr", "CosineAnnealingLR", ("cosine",), "epoch", (), "cosine from lr down to eta_min"),
    (
        "cosineannealingwarmrestarts",
        "CosineAnnealingWarmRestarts",
        ("sgdr", "cosinerestarts"),
        "epoch",
        (),
        "cosine annealing restarted every T_0 (x T_mult) steps",
    ),
    (
        "onecyclelr",
        "OneCycleLR",
        ("onecycle",),
        "step",
        ("epochs", "steps_per_epoch"),
        "one cycle: up to max_lr, then down far below the start",
    ),
    ("lambdalr", "LambdaLR", ("lambda",), "epoch", (), "lr x lr_lambda(epoch), a formula such as '0.95 ** epoch'"),
    (
        "multiplicativelr",
        "MultiplicativeLR",
        ("multiplicative",),
        "epoch",
        (),
        "multiply the LR by lr_lambda(epoch) every step",
    ),
    ("constantlr", "ConstantLR", (), "epoch", (), "lr x factor for total_iters steps, then lr"),
    ("linearlr", "LinearLR", ("linear",), "epoch", (), "lr x a factor moving linearly from start_factor to end_factor"),
    ("polynomiallr", "PolynomialLR", ("polynomial", "poly"), "epoch", (), "polynomial decay to 0 over total_iters"),
    (
        "sequentiallr",
        "SequentialLR",
        ("sequential",),
        "epoch",
        (),
        "one schedule after another, switching at milestones",
    ),
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
