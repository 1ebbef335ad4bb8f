"""The pure decisions of ``lrsweep tune``: budget arithmetic, the scouting grid, refinement points, the band.

No torch, no files: numbers in, numbers out, so each rule is tested on its own and a resumed tune
replays every decision from the metrics on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrsweep.prune import rung_epochs

LR_DIGITS = 4  # significant digits of the LRs tune tries (readable ids and tables)


def round_lr(lr: float) -> float:
    return float(f"{lr:.{LR_DIGITS}g}")


def log_space(low: float, high: float, num: int) -> list[float]:
    """``num`` LRs from ``low`` to ``high`` inclusive, evenly spaced on log-LR."""
    if num == 1:
        return [round_lr(math.sqrt(low * high))]
    a, b = math.log(low), math.log(high)
    return [round_lr(math.exp(a + (b - a) * i / (num - 1))) for i in range(num)]


@dataclass(frozen=True)
class Costs:
    """What a training costs here: epochs per training and optimizer steps per epoch."""

    epochs: int
    steps_per_epoch: int

    def trainings(self, variant_epochs: float = 0.0, steps: float = 0.0) -> float:
        """Full-training equivalents of ``variant_epochs`` (every seed counted) and optimizer ``steps``."""
        return variant_epochs / self.epochs + steps / (self.epochs * self.steps_per_epoch)


def grace_epochs(epochs: int, fraction: float) -> int:
    """Epochs every scout trains before the first cut: ``fraction`` of the training, at least 1."""
    return max(1, min(epochs, round(fraction * epochs)))


def halving_epochs(scouts: int, epochs: int, grace: int, reduction: int) -> int:
    """Variant-epochs of successive halving over ``scouts`` LRs, at most (a diverged one stops sooner)."""
    total, alive, reached = 0, scouts, 0
    for rung in rung_epochs(grace, reduction, epochs):
        total += alive * (rung - reached)
        alive, reached = max(1, alive // reduction), rung
    return total + alive * (epochs - reached)


def survivors(scouts: int, epochs: int, grace: int, reduction: int) -> int:
    """How many scouts train every epoch under successive halving."""
    alive = scouts
    for _ in rung_epochs(grace, reduction, epochs):
        alive = max(1, alive // reduction)
    return alive


def refine_points(tried: list[float], incumbent: float, ceiling: float, resolution: float) -> tuple[list[float], str]:
    """The next LRs to try around ``incumbent`` (geometric midpoints to its neighbours), or [] and why not.

    ``tried`` are every LR tried so far (any fidelity). A side whose bracket is already narrower than
    ``resolution`` (a ratio of LRs) is done; below the lowest LR tried, the next point extends the grid
    downwards by the last spacing; above the highest, nothing is tried (the scouts reach the ceiling).
    """
    lrs = sorted(set(tried))
    i = lrs.index(incumbent)
    points = []
    if i > 0 and incumbent / lrs[i - 1] > resolution:
        points.append(round_lr(math.sqrt(lrs[i - 1] * incumbent)))
    elif i == 0 and len(lrs) > 1:
        points.append(round_lr(incumbent * incumbent / lrs[1]))  # the best is the lowest: look below it
    if i < len(lrs) - 1 and lrs[i + 1] / incumbent > resolution and lrs[i + 1] <= ceiling:
        points.append(round_lr(math.sqrt(lrs[i + 1] * incumbent)))
    points = [p for p in points if p not in lrs]
    if points:
        return points, ""
    return [], f"the bracket around {incumbent:.4g} is narrower than the resolution ({resolution:g}x)"


def band_of(best: dict, groups: list[dict], tied) -> dict:
    """``{low, high}``: the span of LRs (finals' seed groups) tied with ``best`` within seed noise."""
    lrs = [best["lr"]] + [g["lr"] for g in groups if g is not best and g["mean"] is not None and tied(best, g)]
    return {"low": min(lrs), "high": max(lrs)}
