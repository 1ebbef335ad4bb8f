"""``lrsweep find``: the LR range test, its report, and a grid written around its suggestion."""

from __future__ import annotations

import io
import math
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Group
from rich.table import Table
from rich.text import Text

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT, DeviceOption, JsonOption, OutOption, QuietOption, SetOption, config_overrides, load_splits,
    print_json, run_meta, sigterm_as_interrupt, stderr_console, stdout_console, user_errors,
)
from lrsweep.errors import ConfigError, UsageError
from lrsweep.finder import DEFAULT_SUGGESTER, MODES, SUGGESTERS, FinderResult, FinderSettings

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
        DEFAULTS.steps),
    mode: Annotated[Mode, typer.Option("--mode", help="How the LR rises.")] = Mode(DEFAULTS.mode),
    val: Annotated[bool, typer.Option(
        "--val", help="Record the validation loss after each step (slower, sharper).")] = DEFAULTS.use_val,
    suggest: Annotated[Suggester, typer.Option(
        "--suggest", help="The suggestion to highlight and to grid around.")] = Suggester(DEFAULT_SUGGESTER),
    write_grid: Annotated[Optional[Path], typer.Option(
        "--write-grid", help="Write a copy of CONFIG (with any --set applied) whose lr is a log-spaced grid "
                             "around the suggestion, kept below the divergence LR, ready for `lrsweep grid`.")] = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """LR range test: one short run with a rising LR; suggests an LR and, with --write-grid, a grid around it.

    Writes runs/<name>-find-<YYYYmmdd-HHMMSS>/ (config, meta, find.csv, find.json, plots/find.png).
    """
    from lrsweep.config import load_config

    with user_errors():
        settings = FinderSettings(start_lr=start, end_lr=end, steps=steps, mode=mode.value, use_val=val)
        config = load_config(config_path, config_overrides(sets, device))
        notes = scope_notes(config)
        if not (quiet or json_out):
            for note in notes:
                stderr_console().print(note, style="yellow", markup=False, highlight=False)
        try:
            with sigterm_as_interrupt():
                result, torch_device = run_find(config, settings, quiet or json_out)
        except KeyboardInterrupt:
            stderr_console().print("[yellow]interrupted[/]: the range test left no results")
            raise typer.Exit(130) from None
        store = save_find(out, config, result, torch_device)
        grid = None
        if write_grid is not None:
            grid = write_grid_config(config_path, write_grid, result, suggest.value, sets)
        notes += [n for n in (completion_note(result),) if n]
        report = {**find_report(result, suggest.value, str(store.path), grid, write_grid), "notes": notes}
        if json_out:
            print_json(report)
        elif not quiet:
            stdout_console().print(render_find(result, suggest.value, report))


def run_find(config, settings: FinderSettings, quiet: bool):
    """Build the model, optimizer and data exactly as the grid's first variant does; run the test."""
    import torch

    from lrsweep.device import resolve_device
    from lrsweep.engine.common import loss_fn
    from lrsweep.finder import range_test
    from lrsweep.engine.loop import initial_state
    from lrsweep.runner import train_spec

    torch_device = resolve_device(config.device)
    splits = load_splits(config).to(torch_device)
    spec = train_spec(config, splits)
    if settings.use_val and len(splits.val_x) == 0:
        raise UsageError("--val needs a validation split, but data.val_fraction is 0")
    seed, opt = config.seeds[0], config.optimizers[0]
    model, optimizer = initial_state(spec, opt, settings.start_lr, seed, torch_device)  # as the grid's variant
    generator = torch.Generator().manual_seed(seed)  # the grid's first-epoch batch order (batch_orders)
    val = (splits.val_x, splits.val_y) if settings.use_val else None
    with _progress(settings.steps, quiet) as on_step:
        result = range_test(model, optimizer, loss_fn(spec.loss), splits.train_x, splits.train_y, spec.batch_size,
                            settings, val=val, generator=generator, on_step=on_step)
    return result, torch_device


def scope_notes(config) -> list[str]:
    """What the range test leaves out of a config that sweeps more than the LR."""
    notes = []
    if len(config.optimizers) > 1:
        notes.append(f"the range test uses the first of {len(config.optimizers)} optimizers: {config.optimizers[0].label}")
    if len(config.seeds) > 1:
        notes.append(f"the range test uses the first of {len(config.seeds)} seeds: {config.seeds[0]}")
    if any(s.type != "none" for s in config.schedulers):
        notes.append("the range test drives the LR itself; the config's scheduler does not apply to it")
    return notes


class _progress:
    """A transient Rich progress bar on a terminal (stderr); nothing otherwise."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = stderr_console()
        if self.quiet or not console.is_terminal:
            return None
        self.bar = Progress(TextColumn("[bold]range test"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console, transient=True)
        self.bar.start()
        task = self.bar.add_task("find", total=self.total, status="")

        def on_step(step, lr, loss, smoothed):
            self.bar.update(task, advance=1, status=f"lr {lr:.3g} loss {smoothed:.4g}")

        return on_step

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


# --------------------------------------------------------------------------- files


def save_find(out: Path, config, result: FinderResult, torch_device):
    """The run directory: config.yaml, meta.json, find.csv, find.json and (with matplotlib) plots/find.png."""
    from lrsweep.store import RunStore

    store = RunStore.create(out, f"{config.name}-find")
    store.write_config(config.to_dict())
    store.write_meta({**run_meta(config, torch_device), "finished": datetime.now().isoformat(timespec="seconds")})
    rows = [{"step": i, "lr": lr, "loss": loss, "smoothed": sm}
            for i, (lr, loss, sm) in enumerate(zip(result.lrs, result.losses, result.smoothed))]
    store.write_find(rows, result.to_dict())
    png = find_png(result)
    if png is not None:
        store.write_plot("find.png", png)
    return store


def find_png(result: FinderResult) -> bytes | None:
    """Loss and smoothed loss against LR, suggestions and divergence marked; None without matplotlib."""
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
    if result.settings.mode == "exp":
        ax.set_xscale("log")
    lo, hi = _y_range(result)
    lo = min([lo] + [v for v in result.losses if math.isfinite(v)])  # the raw loss dips below the smoothed
    ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation loss" if result.settings.use_val else "training loss")
    ax.set_title(f"LR range test ({result.steps_run} steps, {result.stopped})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_grid_config(source: Path, target: Path, result: FinderResult, suggester: str, sets) -> list[float]:
    """Write ``source`` with its ``lr`` replaced by a grid around the suggestion; returns the grid.

    Without --set overrides the user's text is kept (comments included) and only ``lr`` changes;
    with overrides the overridden config is written as plain YAML. Either way it is validated first.
    """
    from lrsweep.config import apply_overrides, parse_config, read_yaml
    from lrsweep.finder import grid_around
    from lrsweep.store import atomic_write_text

    grid = grid_around(result.suggestion(suggester), result.ceiling)
    note = (f"lr: {len(grid)} LRs around the range test's {suggester} suggestion "
            f"({result.suggestion(suggester):.3g}){_diverged_note(result)}, by lrsweep find")
    text = source.read_text()
    new_text = None if sets else replace_lr(text, grid, note)
    if new_text is None:
        raw = apply_overrides(read_yaml(source), list(sets or []))
        raw["lr"] = grid
        header = f"# Written by lrsweep find from {source} ({', '.join(sets or []) or 'as is'}).\n# {note}\n"
        new_text = header + yaml.safe_dump(raw, sort_keys=False)
    try:  # refuse to write what `lrsweep grid` would refuse
        parse_config(yaml.safe_load(new_text), source=str(target))
    except ConfigError as err:
        raise err.located(file=f"{target} (written from {source})") from None
    atomic_write_text(target, new_text)
    return grid


def _diverged_note(result: FinderResult) -> str:
    if result.divergence_lr is not None:
        return f", below the divergence LR {result.divergence_lr:.3g}"
    return f", below where the loss stopped falling ({result.ceiling:.3g}; it never blew up)"


def completion_note(result: FinderResult) -> str | None:
    """Say so when the test reached --end without blowing up, and what bounds a grid then."""
    if result.divergence_lr is not None:
        return None
    return (f"the loss never blew up up to {result.stop_lr:.3g}: a grid is bounded by where it stopped falling "
            f"({result.ceiling:.3g})")


def replace_lr(text: str, grid: list[float], note: str) -> str | None:
    """``text`` with the value of its top-level ``lr`` key replaced by ``grid`` (comments kept).

    Returns None when the layout is not one this can edit safely (the caller then re-dumps the YAML).
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    flow = "[" + ", ".join(f"{lr:g}" for lr in grid) + "]"
    if root is None or not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "lr":
            start, stop = key.end_mark.index, _last_index(value)
            line_end = text.find("\n", stop)
            line_end = len(text) if line_end == -1 else line_end
            rest = text[stop:line_end]
            tail = f"   # {note}" if not rest.strip() or rest.strip().startswith("#") else rest
            edited = text[:start] + f": {flow}" + tail + text[line_end:]
            return edited if yaml.safe_load(edited).get("lr") == grid else None
    sep = "" if text.endswith("\n") or not text else "\n"
    return f"{text}{sep}lr: {flow}   # {note}\n"


def _last_index(node) -> int:
    """Where the text of ``node`` really ends (a block collection's own end mark runs on into what follows)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark.index
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max((_last_index(child) for child in children), default=node.end_mark.index)


# --------------------------------------------------------------------------- report (pure)


def find_report(result: FinderResult, suggester: str, run_dir: str, grid: list[float] | None,
                grid_file: Path | None) -> dict:
    """What --json prints: the result, the chosen suggestion, where things were written."""
    return {
        **result.to_dict(),
        "chosen": suggester,
        "suggested_lr": result.suggestion(suggester),
        "run_dir": run_dir,
        "grid": grid,
        "grid_file": str(grid_file) if grid_file else None,
    }


def render_find(result: FinderResult, suggester: str, report: dict) -> Group:
    """The table of suggestions, the terminal chart, and what to do next."""
    parts = [suggestions_table(result, suggester), render_curve(result, suggester)]
    if completion_note(result):
        parts.append(Text(completion_note(result), style="yellow"))
    footer = Text(f"Results: {report['run_dir']}")
    if report.get("grid"):
        footer.append(f"\nWrote {report['grid_file']} with lr {report['grid']}\nNext: lrsweep grid {report['grid_file']}",
                      style="bold")
    parts.append(footer)
    return Group(*parts)


def suggestions_table(result: FinderResult, suggester: str) -> Table:
    stop = {"completed": "reached --end", "diverged": "loss diverged", "nonfinite": "loss became NaN/inf"}
    title = (f"LR range test: {result.steps_run} steps, {stop[result.stopped]}, {result.seconds:.1f}s "
             f"({result.settings.mode} {result.settings.start_lr:g} → {result.settings.end_lr:g})")
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
        table.add_row(f"{name} ({MARKS[name]})" + (" ★" if chosen else ""), f"{result.suggestions[name]:.3g}",
                      rules[name], style="bold green" if chosen else None)
    diverged = f"{result.divergence_lr:.3g}" if result.divergence_lr is not None else "–"
    table.add_row("divergence (x)", diverged, "the lower of the two below",
                  style="red" if result.divergence_lr is not None else None)
    onset = f"{result.onset_lr:.3g}" if result.onset_lr is not None else "–"
    table.add_row("  curve", onset, "the loss only got worse from here on")
    if result.edge_lr is not None:
        table.add_row("  stability edge", f"{result.edge_lr:.3g}",
                      f"gradient descent's edge at the start (sharpness {result.sharpness:.3g})")
    return table


def render_curve(result: FinderResult, suggester: str, width: int = CURVE_WIDTH, height: int = CURVE_HEIGHT) -> Text:
    """Smoothed loss against LR as block characters, with the suggestions and divergence marked below."""
    n = len(result.lrs)
    width = max(2, min(width, n))
    columns = [_column_value(result.smoothed, n, c, width) for c in range(width)]
    lo, hi = _y_range(result)
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


def _y_range(result: FinderResult) -> tuple[float, float]:
    """Smoothed-loss range to draw: from its minimum to its highest point before it (the blow-up is clipped)."""
    finite = [v for v in result.smoothed if math.isfinite(v)]
    low = min(range(len(finite)), key=finite.__getitem__)
    top = max(finite[: low + 1])
    return finite[low], top if top > finite[low] else max(finite)
