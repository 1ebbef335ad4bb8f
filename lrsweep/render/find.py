"""``lrsweep find``'s report: the suggestions, the curve as a terminal chart, what to do next; and
plots/find.png. ``result`` is always a :class:`lrsweep.select.finder.FinderResult`.
"""

from __future__ import annotations

import math

from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from lrsweep.select.finder import SUGGESTERS, FinderResult, completion_note

MARKS = {"steep": "s", "valley": "v", "min10": "m"}  # sparkline markers; "x" marks the divergence LR
CURVE_WIDTH = 60  # columns of the terminal chart
CURVE_HEIGHT = 4  # rows of the terminal chart (8 levels each)


def render_find(result: FinderResult, suggester: str, report: dict) -> Group:
    """The table of suggestions, the terminal chart, and what to do next."""
    parts: list[Table | Text] = [suggestions_table(result, suggester), render_curve(result, suggester)]
    note = completion_note(result)
    if note:
        parts.append(Text(note, style="yellow"))
    footer = Text(f"Results: {report['run_dir']}")
    if report.get("grid"):
        footer.append(
            f"\nWrote {report['grid_file']} with lr {report['grid']}\nNext: lrsweep grid {report['grid_file']}",
            style="bold",
        )
    parts.append(footer)
    return Group(*parts)


def suggestions_table(result: FinderResult, suggester: str) -> Table:
    stop = {"completed": "reached --end", "diverged": "loss diverged", "nonfinite": "loss became NaN/inf"}
    title = (
        f"LR range test: {result.steps_run} steps, {stop[result.stopped]}, {result.seconds:.1f}s "
        f"({result.settings.mode} {result.settings.start_lr:g} → {result.settings.end_lr:g})"
    )
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("suggestion", "left"), ("lr", "right"), ("rule", "left"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    rules = {
        "steep": "steepest descent of the smoothed loss vs log LR",
        "valley": "middle of the descent (10% to 90% of the fall)",
        "min10": "LR of the lowest smoothed loss / 10",
    }
    for name in SUGGESTERS:
        chosen = name == suggester
        table.add_row(
            f"{name} ({MARKS[name]})" + (" ★" if chosen else ""),
            f"{result.suggestions[name]:.3g}",
            rules[name],
            style="bold green" if chosen else None,
        )
    diverged = f"{result.divergence_lr:.3g}" if result.divergence_lr is not None else "–"
    table.add_row(
        "divergence (x)",
        diverged,
        "the lower of the two below",
        style="red" if result.divergence_lr is not None else None,
    )
    onset = f"{result.onset_lr:.3g}" if result.onset_lr is not None else "–"
    table.add_row("  curve", onset, "the loss only got worse from here on")
    if result.edge_lr is not None:
        table.add_row(
            "  stability edge",
            f"{result.edge_lr:.3g}",
            f"gradient descent's edge at the start (sharpness {result.sharpness:.3g})",
        )
    return table


def render_curve(result: FinderResult, suggester: str, width: int = CURVE_WIDTH, height: int = CURVE_HEIGHT) -> Text:
    """Smoothed loss against LR as block characters, with the suggestions and divergence marked below."""
    n = len(result.lrs)
    width = max(2, min(width, n))
    columns = [_column_value(result.smoothed, n, c, width) for c in range(width)]
    lo, hi = find_loss_range(result)
    scale = (height * 8 - 1) / ((hi - lo) or 1.0)
    levels = [None if v is None else round((min(v, hi) - lo) * scale) + 1 for v in columns]
    text = Text()
    for row in range(height - 1, -1, -1):
        line = "".join(" " if lv is None else _block(lv - row * 8) for lv in levels)
        text.append(line + "\n", style="cyan")
    marks = [" "] * width
    points: list[tuple[str, float | None]] = [
        (MARKS[name], result.suggestions[name]) for name in SUGGESTERS if name != suggester
    ]
    points += [("x", result.divergence_lr), (MARKS[suggester], result.suggestion(suggester))]  # chosen drawn last
    for mark, lr in points:
        col = _column_of(lr, result, width)
        if col is not None:
            marks[col] = mark
    for ch in marks:
        text.append(ch, style="bold red" if ch == "x" else ("bold green" if ch == MARKS[suggester] else "yellow"))
    left, right = f"{result.lrs[0]:.2g}", f"{result.lrs[-1]:.2g}"
    text.append("\n" + left + " " * max(1, width - len(left) - len(right)) + right)
    text.append(f"   loss {lo:.3g}…{hi:.3g}", style="dim")
    return text


def _column_value(values: list[float], n: int, col: int, width: int) -> float | None:
    """Mean of the finite values falling in column ``col`` (None when there are none)."""
    lo, hi = col * n // width, max(col * n // width + 1, (col + 1) * n // width)
    finite = [v for v in values[lo:hi] if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _block(level: int) -> str:
    """The character for one cell of a bar whose top is ``level`` eighths above the cell's bottom."""
    if level <= 0:
        return " "
    return "█" if level >= 8 else "▁▂▃▄▅▆▇"[level - 1]


def _column_of(lr: float | None, result: FinderResult, width: int) -> int | None:
    """The chart column of ``lr`` (exp: log scale; linear: linear), or None when off the chart."""
    if lr is None or not result.lrs[0] <= lr <= result.lrs[-1] or result.lrs[-1] == result.lrs[0]:
        return None
    scale = math.log if result.settings.mode == "exp" else (lambda v: v)
    frac = (scale(lr) - scale(result.lrs[0])) / (scale(result.lrs[-1]) - scale(result.lrs[0]))
    return min(width - 1, int(frac * width))


# --------------------------------------------------------------------------- plots/find.png


def find_png(result) -> bytes | None:
    """plots/find.png (:func:`find_figure`) as PNG bytes; None without matplotlib."""
    figure = find_figure(result)
    return None if figure is None else png_bytes(figure)


def png_bytes(figure) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def find_figure(result):
    """The range test's figure: loss and smoothed loss against LR, suggestions, divergence and the stability
    edge (where find measured one) marked.

    ``result`` is a :class:`lrsweep.select.finder.FinderResult`; a matplotlib Figure (not registered with
    pyplot: nothing to close), or None without matplotlib.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(7, 4.2), dpi=110)
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="0.75", lw=1, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=2, label="smoothed")
    for i, (name, lr) in enumerate(result.suggestions.items()):
        ax.axvline(lr, color=f"C{i + 1}", ls="--", lw=1, label=f"{name} {lr:.3g}")
    if result.divergence_lr is not None:
        ax.axvline(result.divergence_lr, color="red", lw=1, label=f"diverged {result.divergence_lr:.3g}")
    if result.edge_lr is not None:  # the sharpness at the start bounds gradient descent's LR
        ax.axvline(result.edge_lr, color="purple", ls=":", lw=1.5, label=f"stability edge {result.edge_lr:.3g}")
    if result.settings.mode == "exp":
        ax.set_xscale("log")
    lo, hi = find_loss_range(result)
    lo = min([lo] + [v for v in result.losses if math.isfinite(v)])  # the raw loss dips below the smoothed
    ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation loss" if result.settings.use_val else "training loss")
    ax.set_title(f"LR range test ({result.steps_run} steps, {result.stopped})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def find_loss_range(result) -> tuple[float, float]:
    """Smoothed-loss range to draw: from its minimum to its highest point before it (the blow-up is clipped)."""
    finite = [v for v in result.smoothed if math.isfinite(v)]
    low = min(range(len(finite)), key=finite.__getitem__)
    top = max(finite[: low + 1])
    return finite[low], top if top > finite[low] else max(finite)
