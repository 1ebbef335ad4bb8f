"""``lrsweep tune``: the budgeted strategy (lrsweep.tune), its tables and its one-line verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lrsweep.api.common import DEFAULT_OUT
from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DeviceOption,
    JobsOption,
    JsonOption,
    OutOption,
    QuietOption,
    SetOption,
    announce_downloads,
    check_device_options,
    config_overrides,
    print_json,
    sigterm_as_interrupt,
    stderr_console,
    stdout_console,
    user_errors,
)
from lrsweep.cli.grid import AddressOption, Backend, BackendOption, DevicesOption

if TYPE_CHECKING:  # for the annotation; _Progress.on_start imports it where it is used
    from lrsweep.cli.progress import ProgressEvents


@app.command()
def tune(
    config_path: Annotated[
        Path | None,
        typer.Argument(
            help="The YAML config to choose an LR for (its lr is ignored; for command: or function: its span is "
            "searched). Optional with --resume."
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            min=0.1,
            help="At most this many full-training equivalents (variant-epochs / train.epochs, "
            "every seed, the range test included).",
        ),
    ] = None,
    resolution: Annotated[
        float | None,
        typer.Option("--resolution", min=1.01, help="Refine until the best LR's neighbours are within this ratio."),
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(
            "--time-budget",
            min=0.1,
            help="At most about this many wall seconds: tune times a pack of one and a pack of many before scouting "
            "and starts no stage, scouts or finalists that would overrun (it says so in tune.json's stages).",
        ),
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Finish an interrupted tune run directory.")] = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    jobs: JobsOption = 1,
    devices: DevicesOption = None,
    backend: BackendOption = Backend.local,
    address: AddressOption = None,
) -> None:
    """Choose a learning rate within a budget: range test, scouts with successive halving, refinement, finals.

    Writes runs/<name>-tune-<YYYYmmdd-HHMMSS>/ (every variant tried, tune.json, summary like grid's). For your
    own code (command: or function:) the scouts span the config's lr instead of a range test's bounds, and a
    scout cut at a rung has its process stopped.
    """
    from lrsweep.api.runs import run_summary
    from lrsweep.api.tuning import tune as run_tune
    from lrsweep.api.tuning import tune_config
    from lrsweep.errors import Interrupted
    from lrsweep.render.tune import tune_tables, tune_verdict

    with user_errors():
        err = stderr_console()
        check_device_options(device, devices)
        overrides = config_overrides(sets, device)
        config = tune_config(config_path, overrides, resume)
        events = _Progress(err, quiet or json_out, config.train.epochs)
        try:
            with sigterm_as_interrupt(), announce_downloads(quiet or json_out):
                try:
                    result = run_tune(
                        config_path,
                        overrides if resume is None else (sets or []),
                        budget=budget,
                        resolution=resolution,
                        time_budget=time_budget,
                        events=events,
                        out=out,
                        resume=resume,
                        jobs=jobs,
                        devices=devices,
                        backend=backend.value,
                        address=address,
                    )
                except Interrupted as stop:
                    events.close()
                    if json_out:
                        print_json(stop.summary)
                    run_dir = (stop.summary or {}).get("run_dir")
                    err.print(f"[yellow]interrupted[/]: resume with  lrsweep tune --resume {run_dir}")
                    raise typer.Exit(130) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        finally:
            events.close()
        data = {**result.to_dict(), "run_dir": result.run_dir}
        if json_out:
            print_json(data)
        elif not quiet:
            console = stdout_console()
            for table in tune_tables(data, run_summary(result.run_dir) or {"metric": ""}):
                console.print(table)
            console.print(tune_verdict(data))
            console.print(f"Results: {result.run_dir}", markup=False, highlight=False, soft_wrap=True)
        elif quiet and not json_out:
            typer.echo(result.run_dir)
    raise typer.Exit(1 if _failed(result) else 0)


def _failed(result) -> bool:
    """As grid's: a variant that failed (or the retrain) makes the exit code 1."""
    from lrsweep.api.runs import run_summary

    summary = run_summary(result.run_dir) or {}
    return bool((summary.get("status_counts") or {}).get("failed")) or (result.retrain or {}).get("status") == "failed"


class _Progress:
    """The grid's progress display, started afresh for each stage's sweep, plus one line per stage."""

    def __init__(self, console, quiet: bool, epochs: int):
        self.console, self.quiet, self.epochs = console, quiet, epochs
        self.current: ProgressEvents | None = None

    def close(self) -> None:
        if self.current is not None:
            self.current.__exit__(None, None, None)
            self.current = None

    def on_start(self, variants, pending):
        from lrsweep.cli.progress import ProgressEvents

        self.close()
        self.current = ProgressEvents(self.console, self.epochs, self.quiet)
        self.current.on_start(variants, pending)

    def on_pack_start(self, variants):
        if self.current:
            self.current.on_pack_start(variants)

    def on_epoch(self, variant_id, record):
        if self.current:
            self.current.on_epoch(variant_id, record)

    def on_variant_end(self, variant, result):
        if self.current:
            self.current.on_variant_end(variant, result)

    def on_notice(self, message):
        if self.quiet:
            return
        stage = message.startswith("tune: ")
        if stage:
            self.close()
        self.console.print(message, style="cyan" if stage else "yellow", markup=False, highlight=False, soft_wrap=True)
