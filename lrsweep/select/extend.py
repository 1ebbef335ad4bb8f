"""Grid extension: when the best learning rate sits on an edge of the grid, look beyond it.

Pure: a grid and a summary in, a wider grid out. Each extension adds ``POINTS_PER_EXTENSION``
points beyond the edge the best sits on, spaced by the ratio between that edge and its
neighbour (the grid's own log spacing there), so ``[0.01, 0.1, 1]`` best at 1 becomes
``[0.01, 0.1, 1, 10, 100]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_MAX_EXTENSIONS = 3  # `grid --extend` without a number: at most this many extensions
POINTS_PER_EXTENSION = 2  # new learning rates per extension, beyond the edge
SINGLE_POINT_RATIO = 10.0  # spacing when the grid has one learning rate (no neighbour to copy)


@dataclass(frozen=True)
class Extension:
    """One extension of the grid: which edge, which learning rates were added."""

    edge: str  # "low" | "high"
    added: tuple[float, ...]
    ratio: float  # the multiplicative spacing used

    def describe(self) -> str:
        way = "downwards" if self.edge == "low" else "upwards"
        points = ", ".join(f"{lr:g}" for lr in self.added)
        return f"extending the grid {way} (×{self.ratio:.3g} spacing): adding lr = {points}"

    def to_dict(self) -> dict:
        return {"edge": self.edge, "added": list(self.added), "ratio": self.ratio}


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


def extended_grid(lrs: tuple[float, ...], extension: Extension) -> tuple[float, ...]:
    """The grid with ``extension``'s points before (low) or after (high) the original order."""
    if extension.edge == "low":
        return extension.added + tuple(lrs)
    return tuple(lrs) + extension.added


def next_extension(
    lrs: tuple[float, ...],
    summary: dict,
    done: int,
    cap: int = DEFAULT_MAX_EXTENSIONS,
    points: int = POINTS_PER_EXTENSION,
) -> Extension | None:
    """The extension a finished sweep calls for, or None: the best is interior, absent, or the cap is hit."""
    best = summary.get("best") or {}
    edge = best.get("edge")
    if edge is None or done >= cap:
        return None
    extension = beyond(lrs, edge, points)
    return extension if extension.added else None


def _round(lr: float) -> float:
    """Six significant digits, as the config's logspace writes them (no 0.30000000000000004)."""
    return float(f"{lr:.6g}")
