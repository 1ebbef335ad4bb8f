"""Which epoch a variant is scored at (``select.at``), and whether it learned anything (stuck at chance).

A variant *stuck at chance* finished without diverging but did not learn: after its first epochs its validation
accuracy at the scored epoch is at (or below) the majority-class rate of the validation split, or its training
loss never fell below its first epoch's (judged on the epochs up to the scored one: with ``at: best``, the
weights that count). Such a variant is still ranked, flagged, and never ranked above a healthy one (see
:func:`lrsweep.select.summary.rank_groups`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lrsweep.config.directions import metric_mode

STUCK_AFTER_EPOCHS = 2  # a variant is judged once it has this many epochs
CHANCE_MARGIN = 0.01  # accuracy within 1 point of the majority-class rate is chance


@dataclass(frozen=True)
class Scoring:
    """How a variant's score is read from its epochs: ``metric`` (``direction`` min or max) at its last or best."""

    metric: str = "val_loss"
    direction: str = "min"
    at: str = "last"

    @classmethod
    def of(cls, select: Any) -> Scoring:
        """From a config's select section (a SelectConfig, or config.yaml's mapping)."""
        if isinstance(select, dict):
            metric = select.get("metric", "val_loss")
            return cls(metric, metric_mode(metric, select.get("mode")), select.get("at", "last"))
        return cls(select.metric, select.direction, select.at)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def best_epoch_row(records: list[dict], metric: str, direction: str) -> dict | None:
    """The row of the best epoch by ``metric`` (the earliest of equals); None when no epoch has a finite value."""
    sign = 1.0 if direction == "min" else -1.0
    scored = [r for r in records if _finite(r.get(metric))]
    return min(scored, key=lambda r: (sign * r[metric], r["epoch"])) if scored else None


def scored_row(records: list[dict], scoring: Scoring) -> dict:
    """The epoch a variant is scored at: its last, or (``at: best``) its best by the metric; {} without epochs."""
    if not records:
        return {}
    if scoring.at == "best":
        return best_epoch_row(records, scoring.metric, scoring.direction) or records[-1]
    return records[-1]


def stuck_reason(records: list[dict], scored: dict, chance: float | None) -> str | None:
    """Why a finished variant counts as stuck at chance, or None when it learned (or is too young to tell).

    Args:
        records: its metrics.csv rows, epoch by epoch.
        scored: the row it is scored at (:func:`scored_row`).
        chance: the majority-class share of the validation split (None: regression, or unknown).
    """
    if len(records) < STUCK_AFTER_EPOCHS:
        return None
    acc = _number(scored.get("val_acc"))
    if chance is not None and acc is not None and acc <= chance + CHANCE_MARGIN:
        return (
            f"val_acc {acc:.3g} at epoch {scored.get('epoch')} is chance: the majority class alone is "
            f"{chance:.3g} of the validation split"
        )
    counted = [r for r in records if r.get("epoch", 0) <= scored.get("epoch", len(records))]
    losses = [v for r in counted if (v := _number(r.get("train_loss"))) is not None]
    if len(counted) >= STUCK_AFTER_EPOCHS and len(losses) == len(counted) and min(losses[1:]) >= losses[0]:
        return f"train_loss never fell below its first epoch's {losses[0]:.4g} in {len(losses)} epochs"
    return None


def health(records: list[dict], scoring: Scoring, chance: float | None) -> dict:
    """What status.json says of a finished variant's epochs: stuck (and why); best_epoch with ``at: best``."""
    scored = scored_row(records, scoring)
    reason = stuck_reason(records, scored, chance)
    out: dict[str, Any] = {"stuck": reason is not None, "stuck_reason": reason}
    if scoring.at == "best":
        out["best_epoch"] = scored.get("epoch")
    return out
