"""Batch size as a sweep axis: each batch size's best LR, and whether it moved as a scaling rule predicts.

The linear rule (Goyal et al. 2017) says the good LR grows as the batch size, the square-root rule as its square
root: best_lr ~ batch_size ** e with e = 1 or 0.5. The measured exponent is the least-squares slope of
log(best LR) on log(batch size) over the batch sizes' best LRs; it agrees with a rule when it is within one grid
step of it (a grid can only place each best LR to within its spacing).
"""

from __future__ import annotations

import math
import statistics

from lrsweep.config.sections import SCALING_EXPONENTS


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys on xs (None for fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def batch_size_scaling(
    ranked: list[dict], rows: list[dict], rule: str = "none", step: float | None = None
) -> dict | None:
    """Each batch size's best healthy group (from ``ranked``, best first) and the measured exponent; None without a
    batch-size axis.

    Args:
        ranked: rankable seed groups, best first (each with ``batch_size``, ``lr``, ``mean``).
        rows: every variant row (their LRs give each batch size's grid).
        rule: lr_scaling.rule (none | linear | sqrt).
        step: the log-ratio within which a best LR is placed, when the rows are not a grid (tune's resolution);
            no LR is then said to be at an edge.
    """
    sizes = sorted({r["batch_size"] for r in rows if r.get("batch_size") is not None})
    if not sizes:
        return None
    best: dict[int, dict] = {}
    for ranked_group in ranked:  # a batch size whose every group is stuck at chance has no best LR
        if not ranked_group.get("stuck"):
            best.setdefault(ranked_group["batch_size"], ranked_group)
    entries = []
    for size in sizes:
        grid = sorted({r["lr"] for r in rows if r.get("batch_size") == size})
        group: dict | None = best.get(size)
        edge = None
        if group is not None and len(grid) > 1 and step is None:
            edge = "low" if group["lr"] == grid[0] else ("high" if group["lr"] == grid[-1] else None)
        entries.append(
            {
                "batch_size": size,
                "lr": group["lr"] if group else None,
                "mean": group["mean"] if group else None,
                "optimizer": group["optimizer"] if group else None,
                "scheduler": group["scheduler"] if group else None,
                "edge": edge,
            }
        )
    found = [e for e in entries if e["lr"] is not None]
    measured = slope([math.log(e["batch_size"]) for e in found], [math.log(e["lr"]) for e in found])
    step = _grid_step(rows) if step is None else step
    span = math.log(sizes[-1] / sizes[0]) if len(sizes) > 1 else 0.0
    resolution = step / span if span > 0 and step is not None else None
    expected = SCALING_EXPONENTS.get(rule, 0.0)
    return {
        "rule": rule,
        "expected_exponent": expected,
        "measured_exponent": measured,
        "resolution": resolution,  # one grid step, in exponent units
        "agrees": None if measured is None or resolution is None else abs(measured - expected) <= resolution + 1e-9,
        "at_edge": [e["batch_size"] for e in entries if e["edge"]],
        "best": entries,
    }


def _grid_step(rows: list[dict]) -> float | None:
    """The typical log-ratio of neighbouring LRs of one batch size's grid (the median over the batch sizes)."""
    steps = []
    for size in {r.get("batch_size") for r in rows}:
        lrs = sorted({r["lr"] for r in rows if r.get("batch_size") == size and r["lr"] > 0})
        steps += [math.log(b / a) for a, b in zip(lrs, lrs[1:])]
    return statistics.median(steps) if steps else None
