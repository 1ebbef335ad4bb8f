"""``lrsweep schedule``: list, preview, train and compare PyTorch LR schedulers (see ``lrsweep.api.schedules``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrsweep.api.schedules import PREVIEW_STEPS_PER_EPOCH
from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT,
    DeviceOption,
    JsonOption,
    OutOption,
    QuietOption,
    SetOption,
    announce_downloads,
    config_overrides,
    print_json,
    sigterm_as_interrupt,
    stderr_console,
    stdout_console,
    user_errors,
)

ConfigArg = Annotated[
    Path | None,
    typer.Argument(
        help="The experiment's YAML config (see configs/). Omitted: the built-in quick experiment "
        "(lrsweep/config/quick.yaml: the bundled MNIST sample, offline)."
    ),
]
TypeOption = Annotated[
    str | None,
    typer.Option(
        "--type",
        "-t",
        help="Scheduler type or alias (see --list); a comma list trains them side by side. "
        "Replaces the config's scheduler.",
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A scheduler parameter: key=value (value parsed as YAML, e.g. milestones=[3,6]). "
        "With several types, key it by type: steplr.gamma=0.5. Repeatable.",
    ),
]


@app.command()
def schedule(
    config_path: ConfigArg = None,
    types: TypeOption = None,
    params: ParamOption = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", help="The one learning rate every schedule starts from (default: the config's first)."),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", "-e", min=1, help="Epochs to train (or preview) (default: the config's)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the initial weights and batch order (default: the config's seed(s))."),
    ] = None,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Only the LR curve: drive the real scheduler on a "
            "throwaway optimizer; no data is loaded, nothing is trained.",
        ),
    ] = False,
    steps_per_epoch: Annotated[
        int,
        typer.Option(
            "--steps-per-epoch",
            min=1,
            help="Optimizer steps per epoch for --preview (a real run has ceil(train rows / batch_size)).",
        ),
    ] = PREVIEW_STEPS_PER_EPOCH,
    list_types: Annotated[
        bool,
        typer.Option(
            "--list",
            help="List every scheduler type: aliases, interval, parameters and defaults (with --type: only those).",
        ),
    ] = False,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Preview, train or compare LR schedules on one experiment (CONFIG, or the built-in quick one).

    Training writes runs/<name>-schedule-<stamp>/ and prints one table ranked by the selection metric
    with each schedule's final LR. --preview writes runs/<name>-preview-<stamp>/ (preview.json and, with
    matplotlib, lr_preview.png), or the PNG to --out when it ends in .png.
    """
    code = 0
    options = dict(types=types, params=params, lr=lr, epochs=epochs, seed=seed)
    with user_errors():
        if list_types:
            _list(types, json_out)
        elif preview:
            _preview(config_path, config_overrides(sets, device), options, steps_per_epoch, out, json_out, quiet)
        else:
            code = _train(config_path, config_overrides(sets, device), options, out, json_out, quiet)
    raise typer.Exit(code)


def _list(types: str | None, json_out: bool) -> None:
    from lrsweep import api
    from lrsweep.api.schedules import length_note
    from lrsweep.render.schedules import scheduler_list_table

    entries = api.scheduler_types(types)
    if json_out:
        print_json(entries)
        return
    stdout_console().print(
        scheduler_list_table(entries, note=f"(lrsweep): derived by lrsweep from the run; {length_note()}")
    )


def _preview(
    config_path, overrides, options: dict, steps_per_epoch: int, out: Path, json_out: bool, quiet: bool
) -> None:
    from lrsweep import api
    from lrsweep.render.schedules import preview_tables

    result = api.schedule_preview(config_path, overrides, **options, steps_per_epoch=steps_per_epoch, out=out)
    data = result.data
    if not quiet:
        for line in result.notes:
            stderr_console().print(line, style="yellow", markup=False, soft_wrap=True)
    if json_out:
        print_json(data)
        return
    if quiet:
        return
    console = stdout_console()
    for table in preview_tables(data):
        console.print(table)
    for line in sorted({f"{s['scheduler']}: {s['note']}" for s in data["schedules"] if s["note"]}):
        console.print(line, style="yellow", markup=False, soft_wrap=True)
    for path in result.files:
        console.print(f"Saved: {path}", markup=False, highlight=False, soft_wrap=True)
    if result.skipped:
        console.print(result.skipped, style="yellow", markup=False, soft_wrap=True)


def _train(config_path, overrides, options: dict, out: Path, json_out: bool, quiet: bool) -> int:
    """Train every schedule through the grid runner; print the side-by-side table. Returns the exit code."""
    from lrsweep import api
    from lrsweep.cli.progress import ProgressEvents
    from lrsweep.render.schedules import schedule_table
    from lrsweep.render.tables import verdict

    err = stderr_console()

    def note(line: str) -> None:
        if not quiet:
            err.print(line, style="yellow", markup=False, soft_wrap=True)

    def show_run_dir(path: Path) -> None:  # always, even with --quiet or --json: one line on stderr
        err.print(f"run directory: {path}", markup=False, highlight=False, soft_wrap=True)

    try:
        with sigterm_as_interrupt(), announce_downloads(quiet):
            result = api.schedule(
                config_path,
                overrides,
                **options,
                out=out,
                on_notice=note,
                on_run_dir=show_run_dir,
                events=lambda cfg: ProgressEvents(err, cfg.train.epochs, quiet),
            )
    except api.Interrupted as stop:
        if json_out and stop.summary is not None:
            print_json(stop.summary)
        err.print(f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {stop.run_dir}", soft_wrap=True)
        return 130
    summary = result.summary
    if json_out:
        schedules = [
            {"id": row["id"], "scheduler": row["scheduler"], **result.curves[row["id"]]} for row in summary["variants"]
        ]
        print_json({**summary, "run_dir": str(result.run_dir), "schedules": schedules})
    elif not quiet:
        console = stdout_console()
        console.print(schedule_table(summary, result.curves))
        console.print(verdict(summary))
        console.print(f"Results: {result.run_dir}", markup=False, highlight=False, soft_wrap=True)
    return 1 if result.failed else 0
