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
