"""Derived defaults: the ONE place each is written, as a rule of the run the schedule covers.

N below is the schedule's length in scheduler steps: the epochs, or epochs x steps_per_epoch
when ``interval: step``; inside ``sequential``/``warmup`` it is the length of the segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LENGTH_NOTE = "N = scheduler steps in the schedule: epochs, or epochs x steps per epoch when interval=step"
WARMUP_START_FACTOR = 0.1  # warmup starts at lr x 0.1 and rises linearly to lr


class Impossible(Exception):
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
        raise Impossible("milestones", f"N={span.n} is too short for milestones at 50% and 75%; set milestones")
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
    "reducelronplateau": {
        "patience": Rule(
            "min(10, N//10): torch's 10 from 100 epochs on, a tenth of a shorter run (so the LR can drop in it)",
            lambda s, p: min(10, s.n // 10),
        )
    },
    "constantlr": {"total_iters": Rule("max(1, N//10): the first 10% of the run", lambda s, p: max(1, s.n // 10))},
    "linearlr": {"total_iters": Rule("N: the ramp spans the run", lambda s, p: s.n)},
    "polynomiallr": {"total_iters": Rule("N: the LR reaches 0 at the end of the run", lambda s, p: s.n)},
    "warmup": {
        "warmup_epochs": Rule("max(1, epochs//10): the first 10% of the run", lambda s, p: max(1, s.epochs // 10))
    },
}
