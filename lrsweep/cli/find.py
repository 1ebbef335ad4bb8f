"""``lrsweep find``: the LR range test, its report, and a grid written around its suggestion."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from lrsweep.api.rangetest import DEFAULT_SUGGESTER, FinderSettings
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
from lrsweep.render.find import render_find

DEFAULTS = FinderSettings()


class Mode(str, Enum):
    """--mode: the finder's MODES (tests/cli/test_find.py keeps them the same)."""

    exp = "exp"
    linear = "linear"


class Suggester(str, Enum):
    """--suggest: the finder's SUGGESTERS, in their order (tests/cli/test_find.py keeps them the same)."""

    steep = "steep"
    valley = "valley"
    min10 = "min10"


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
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Also draw RUN_DIR/plots/find.png, the loss against the LR (needs pip install 'lrsweep\\[plot]'); "
            "lrsweep plot RUN_DIR draws it later.",
        ),
    ] = False,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """LR range test: one short run with a rising LR; suggests an LR and, with --write-grid, a grid around it.

    Writes runs/<name>-find-<YYYYmmdd-HHMMSS>/ (config, meta, find.csv, find.json; plots/find.png with --plot).
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
                    plot=plot,
                    on_step=on_step,
                    on_notice=note,
                )
        except KeyboardInterrupt:
            stderr_console().print("[yellow]interrupted[/]: the range test left no results")
            raise typer.Exit(130) from None
        report = found.to_dict()
        if quiet:
            err.print(f"run directory: {report['run_dir']}", markup=False, highlight=False, soft_wrap=True)
        if json_out:
            print_json(report)
        elif not quiet:
            stdout_console().print(render_find(found.range_test, found.chosen, report))
        if found.plot_file is not None and not quiet:
            (err if json_out else stdout_console()).print(
                f"Plot: {found.plot_file}", markup=False, highlight=False, soft_wrap=True
            )
