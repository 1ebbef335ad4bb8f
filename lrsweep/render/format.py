"""How numbers look in every table: ``fmt``, ``fmt_lr``, and columns of numbers that never lose a digit."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def fmt_score(value: Any, digits: int = 4) -> str:
    """A metric in a results table: ``–`` when there is none, a diverged variant's NaN included (summary.json
    stores it as null, so ``show`` and ``grid`` print the same row)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    return fmt(value, digits)


def fmt_seconds(seconds: float) -> str:
    """A variant's time, to a tenth of a second, from the value status.json and summary.csv hold (3 decimals):
    the progress line and every table print the same number."""
    return f"{round(float(seconds), 3):.1f}"


def fmt_lr(lr: float) -> str:
    return f"{lr:.3g}"


def keep_numbers(table: Table) -> Table:
    """Right-aligned (number) columns fold instead of cropping: a narrow terminal loses no digit."""
    for column in table.columns:
        if column.justify == "right":
            column.overflow, column.no_wrap = "fold", False
    return table


def varies(rows: list[dict], key: str) -> bool:
    return len({str(r.get(key)) for r in rows}) > 1
