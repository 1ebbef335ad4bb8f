"""Grid extension: when the best learning rate sits on an edge of the grid, look beyond it.

Pure: a grid and a summary in, a wider grid out. Each extension adds ``POINTS_PER_EXTENSION``
points beyond the edge the best sits on, spaced by the ratio between that edge and its
neighbour (the grid's own log spacing there), so ``[0.01, 0.1, 1]`` best at 1 becomes
``[0.01, 0.1, 1, 10, 100]``. When an extension diverged (``[.., 0.1, 1, 10]``, best 0.1, 1 and 10
diverged) the optimum may lie in the gap between the best and the first diverged LR: the next
extension probes it (``0.215, 0.464``), until the two are within ``BISECT_MIN_RATIO``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_MAX_EXTENSIONS = 3  # `grid --extend` without a number: at most this many extensions
POINTS_PER_EXTENSION = 2  # new learning rates per extension, beyond the edge
SINGLE_POINT_RATIO = 10.0  # spacing when the grid has one learning rate (no neighbour to copy)
BISECT_MIN_RATIO = 1.5  # no probing between the best and the first diverged LR once they are this close
WAYS = {"low": "downwards", "high": "upwards", "between": "between the best and the first diverged lr"}  # by edge


@dataclass(frozen=True)
class Extension:
    """One extension of the grid: which edge, which learning rates were added."""

    edge: str  # "low" | "high" | "between" (the best and the first diverged LR above it)
    added: tuple[float, ...]
    ratio: float  # the multiplicative spacing used
    bounds: tuple[float, float] | None = None  # "between": the best LR and the first diverged one

    def describe(self) -> str:
        points = ", ".join(f"{lr:g}" for lr in self.added)
        if self.bounds is not None:
            low, high = self.bounds
            return (
                f"probing between lr {low:g} (the best) and {high:g} (diverged) "
                f"(×{self.ratio:.3g} spacing): adding lr = {points}"
            )
        return f"extending the grid {WAYS[self.edge]} (×{self.ratio:.3g} spacing): adding lr = {points}"

    def to_dict(self) -> dict:
        extra = {"bounds": list(self.bounds)} if self.bounds is not None else {}
        return {"edge": self.edge, "added": list(self.added), "ratio": self.ratio, **extra}


def edge_ratio(lrs: tuple[float, ...] | list[float], edge: str) -> float:
    """The multiplicative spacing between the edge learning rate and its neighbour (> 1)."""
    ordered = sorted(lrs)
    if len(ordered) < 2:
        return SINGLE_POINT_RATIO
    pair = ordered[:2] if edge == "low" else ordered[-2:]
    return pair[1] / pair[0]


def beyond(lrs: tuple[float, ...] | list[float], edge: str, points: int = POINTS_PER_EXTENSION) -> Extension:
    """``points`` new learning rates beyond ``edge`` ("low" or "high"), log-spaced like the grid there."""
    if edge not in ("low", "high"):
        raise ValueError(f"edge must be 'low' or 'high', got {edge!r}")
    ratio = edge_ratio(lrs, edge)
    start = min(lrs) if edge == "low" else max(lrs)
    step = -math.log(ratio) if edge == "low" else math.log(ratio)
    added = tuple(_round(math.exp(math.log(start) + step * i)) for i in range(1, points + 1))
    added = tuple(lr for lr in added if lr > 0 and math.isfinite(lr) and lr not in lrs)
    return Extension(edge=edge, added=tuple(sorted(added)), ratio=ratio)


def between(low: float, high: float, points: int = POINTS_PER_EXTENSION) -> Extension:
    """``points`` learning rates log-spaced strictly inside (``low``, ``high``)."""
    ratio = (high / low) ** (1 / (points + 1))
    added = tuple(_round(low * ratio**i) for i in range(1, points + 1))
    return Extension(edge="between", added=added, ratio=ratio, bounds=(low, high))


def extended_grid(lrs: tuple[float, ...], extension: Extension) -> tuple[float, ...]:
    """The grid with ``extension``'s points before (low) or after (high) the original order, or in their
    place between the best and the first diverged LR."""
    if extension.edge == "low":
        return extension.added + tuple(lrs)
    if extension.edge == "between":
        low = extension.bounds[0] if extension.bounds else min(extension.added)
        cut = next((i for i, lr in enumerate(lrs) if lr == low), len(lrs) - 1) + 1
        return tuple(lrs[:cut]) + extension.added + tuple(lrs[cut:])
    return tuple(lrs) + extension.added


def next_extension(
    lrs: tuple[float, ...],
    summary: dict,
    done: int,
    cap: int = DEFAULT_MAX_EXTENSIONS,
    points: int = POINTS_PER_EXTENSION,
) -> Extension | None:
    """The extension a finished sweep calls for, or None: the best is interior, absent, or the cap is hit.

    After an extension (``done`` > 0), a best whose next larger LR diverged is probed above: the gap is
    bisected while it is wider than BISECT_MIN_RATIO.
    """
    best = summary.get("best") or {}
    edge = best.get("edge")
    if not best or done >= cap:
        return None
    if edge is not None:
        extension = beyond(lrs, edge, points)
    elif done > 0 and (gap := diverged_above(best, summary.get("variants") or [])) is not None:
        extension = between(*gap, points) if gap[1] / gap[0] > BISECT_MIN_RATIO else Extension("between", (), 1.0)
    else:
        return None
    return extension if extension.added else None


def diverged_above(best: dict, rows: list[dict]) -> tuple[float, float] | None:
    """(the best LR, the next larger LR of its optimizer and scheduler) when every variant of that LR
    diverged; else None."""
    same = ("optimizer", "scheduler")
    series = [r for r in rows if all(r.get(k) == best.get(k) for k in same)]
    above = sorted({r["lr"] for r in series if r["lr"] > best["lr"]})
    if not above:
        return None
    statuses = {r.get("status") for r in series if r["lr"] == above[0]}
    return (best["lr"], above[0]) if statuses == {"diverged"} else None


def _round(lr: float) -> float:
    """Six significant digits, as the config's logspace writes them (no 0.30000000000000004)."""
    return float(f"{lr:.6g}")
