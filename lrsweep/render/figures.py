"""matplotlib for every figure: an optional extra (``pip install 'lrsweep[plot]'``), imported only when a
plot is made, on the non-interactive Agg backend (no display needed on a GPU box); PNGs written atomically.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from lrsweep.errors import UsageError

TITLE_CHARS = 34  # a small-multiple title wraps at this many characters (5 panels a row never overlap)
INSTALL_HINT = "pip install 'lrsweep[plot]'"


def pyplot():
    """matplotlib.pyplot on the Agg backend, or a UsageError naming the install command."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path: Path) -> None:
    """Render to bytes, then write atomically (a killed plot leaves no half-written PNG)."""
    import io

    from lrsweep.run.files import atomic_write_bytes

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def finite(value) -> float:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else math.nan


def wide_positive(values, ratio: float = 20.0) -> bool:
    """Positive values spanning more than ``ratio``: worth a log axis (losses of a wide lr grid)."""
    numbers = [v for v in values if v is not None and math.isfinite(v)]
    return bool(numbers) and min(numbers) > 0 and max(numbers) / min(numbers) > ratio


def series_label(optimizer: str, scheduler: str) -> str:
    return f"{optimizer} · {scheduler}"


def wrap(title: str, width: int = TITLE_CHARS) -> str:
    """A title broken into lines of at most ``width`` characters (at spaces and commas)."""
    import textwrap

    spaced = re.sub(r",(?=\S)", ", ", title)  # break points inside "steplr(step_size=1,gamma=0.5)"
    return "\n".join(textwrap.wrap(spaced, width, break_on_hyphens=False)) or title
