"""``lrsweep find``: the LR range test, its report, and a grid written around its suggestion."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT,
    DeviceOption,
    JsonOption,
    OutOption,
    QuietOption,
    SetOption,
    announce_downloads,
    print_json,
    sigterm_as_interrupt,
    stderr_console,
    stdout_console,
    user_errors,
)
from lrsweep.cli.progress import RangeTestProgress
from lrsweep.render.plots import find_loss_range
from lrsweep.select.finder import DEFAULT_SUGGESTER, MODES, SUGGESTERS, FinderResult, FinderSettings

DEFAULTS = FinderSettings()
Mode = Enum("Mode", {m: m for m in MODES}, type=str)
Suggester = Enum("Suggester", {s: s for s in SUGGESTERS}, type=str)
MARKS = {"steep": "s", "valley": "v", "min10": "m"}  # sparkline markers; "x" marks the divergence LR
CURVE_WIDTH = 60  # columns of the terminal chart
CURVE_HEIGHT = 4  # rows of the terminal chart (8 levels each)


@app.command()
def find(
    config_path: Annotated[Path, typer.Argument(help="The YAML config whose model, optimizer and data to test.")],
    start: Annotated[float, typer.Option("--start", help="LR of the first step.")] = DEFAULTS.start_lr,
    end: Annotated[float, typer.Option("--end", help="LR of the last step.")] = DEFAULTS.end_lr,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Optimizer steps from --start to --end.")] = (
        DEFAULTS.steps
    ),
    mode: Annotated[Mode, typer.Option("--mode", help="How the LR rises.")] = Mode(DEFAULTS.mode),
    val: Annotated[
        bool, typer.Option("--val", help="Record the validation loss after each step (slower, sharper).")
    ] = DEFAULTS.use_val,
    suggest: Annotated[
        Suggester, typer.Option("--suggest", help="The suggestion to highlight and to grid around.")
    ] = Suggester(DEFAULT_SUGGESTER),
    write_grid: Annotated[
        Path | None,
        typer.Option(
            "--write-grid",
            help="Write a copy of CONFIG (with any --set applied) whose lr is a log-spaced grid "
            "around the suggestion, kept below the divergence LR, ready for `lrsweep grid`.",
        ),
    ] = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """LR range test: one short run with a rising LR; suggests an LR and, with --write-grid, a grid around it.

    Writes runs/<name>-find-<YYYYmmdd-HHMMSS>/ (config, meta, find.csv, find.json, plots/find.png).
    """
    from lrsweep import api

    err = stderr_console()

    def note(message: str) -> None:
        if not quiet:
            err.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)

    with user_errors():
        settings = FinderSettings(start_lr=start, end_lr=end, steps=steps, mode=mode.value, use_val=val)
        try:
            with sigterm_as_interrupt(), announce_downloads(), RangeTestProgress(err, steps, quiet) as on_step:
                found = api.find(
                    config_path,
                    sets,
                    settings=settings,
                    suggest=suggest.value,
                    device=device,
                    out=out,
                    write_grid=write_grid,
                    on_step=on_step,
                    on_notice=note,
                )
        except KeyboardInterrupt:
            stderr_console().print("[yellow]interrupted[/]: the range test left no results")
            raise typer.Exit(130) from None
        report = found.to_dict()
        if quiet:
            err.print(f"run directory: {report['run_dir']}", markup=False, highlight=False, soft_wrap=True)
        elif not (Path(report["run_dir"]) / "plots" / "find.png").exists():  # matplotlib is optional: say so
            err.print(
                f"no plots/find.png: matplotlib is not installed (pip install 'lrsweep[plot]'; then  "
                f"lrsweep plot {report['run_dir']})",
                style="yellow",
                markup=False,
                soft_wrap=True,
            )
        if json_out:
            print_json(report)
        elif not quiet:
            stdout_console().print(render_find(found.range_test, found.chosen, report))


# --------------------------------------------------------------------------- report (pure)


def render_find(result: FinderResult, suggester: str, report: dict) -> Group:
    """The table of suggestions, the terminal chart, and what to do next."""
    parts = [suggestions_table(result, suggester), render_curve(result, suggester)]
    from lrsweep.api.rangetest import completion_note

    if completion_note(result):
        parts.append(Text(completion_note(result), style="yellow"))
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
    for column, justify in (("suggestion", "left"), ("lr", "right"), ("rule", "left")):
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
    points = [(MARKS[name], result.suggestions[name]) for name in SUGGESTERS if name != suggester]
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
