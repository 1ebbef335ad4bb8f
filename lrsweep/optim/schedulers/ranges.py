"""Values torch accepts when a scheduler is built, then fails on (or silently misuses) once training steps it."""

from __future__ import annotations

import math
from typing import Any

from lrsweep.errors import ConfigError, shown

# parameter -> the smallest value that works (torch takes 0 or negatives, then divides by them or never steps)
MINIMUM = {
    "step_size": 1,
    "T_max": 1,
    "T_0": 1,
    "T_mult": 1,
    "total_iters": 0,
    "total_steps": 1,
    "patience": 0,
    "cooldown": 0,
    "step_size_up": 1,
    "step_size_down": 1,
    "warmup_epochs": 1,
}
NON_NEGATIVE = (
    "gamma",
    "eta_min",
    "min_lr",
    "base_lr",
    "max_lr",
    "eps",
    "power",
    "threshold",
    "factor",
    "start_factor",
    "end_factor",
    "div_factor",
    "final_div_factor",
)


def check_ranges(params: dict[str, Any], key: str) -> None:
    """Every number finite; counts and periods at least their MINIMUM; factors and LRs not negative."""
    for name, value in params.items():
        for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            where = f"{key}.{name}" + (f"[{i}]" if isinstance(value, (list, tuple)) else "")
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if not math.isfinite(item):
                raise ConfigError(f"must be a finite number, got {name}={shown(item)}", key=where)
            if name in MINIMUM and item < MINIMUM[name]:
                raise ConfigError(f"must be >= {MINIMUM[name]}, got {name}={shown(item)}", key=where)
            if name in NON_NEGATIVE and item < 0:
                raise ConfigError(f"must be >= 0, got {name}={shown(item)}", key=where)
