"""Early stopping (``train.early_stopping``): a variant stops once its selection metric stops improving.

The decision is a pure function of the epoch records, so a trainer keeps no state of its own for it: a
checkpoint's records restore it, and a resumed variant stops at the epoch an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StopRule:
    """Stop when ``metric`` (``mode`` min or max) has not improved by more than ``min_delta`` for ``patience``
    epochs in a row."""

    metric: str
    mode: str
    patience: int
    min_delta: float = 0.0


def epochs_without_improvement(records: Sequence[Any], rule: StopRule) -> int:
    """Epochs since the metric last improved on its best so far by more than ``min_delta`` (0: just improved).

    A missing or non-finite value never improves; the first finite value always does.
    """
    best: float | None = None
    since = 0
    sign = 1.0 if rule.mode == "min" else -1.0
    for record in records:
        value = record.value(rule.metric)
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        if finite and (best is None or sign * (best - value) > rule.min_delta):
            best, since = value, 0
        else:
            since += 1
    return since


def should_stop(records: Sequence[Any], rule: StopRule | None) -> bool:
    """Whether a variant with these epoch records stops now (never without a rule)."""
    return rule is not None and epochs_without_improvement(records, rule) >= rule.patience
