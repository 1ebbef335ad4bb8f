"""``lrsweep grid`` (``lrsweep validate`` is in cli/validate.py)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from lrsweep.api.sweep import DEFAULT_MAX_EXTENSIONS
from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT,
    DeviceOption,
    EngineOption,
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
    storage_failure,
    user_errors,
)
from lrsweep.errors import StorageError

ConfigArg = Annotated[
    Path | None, typer.Argument(help="The sweep's YAML config (see configs/). Optional with --resume.")
]


class Backend(str, Enum):
    local = "local"
    ray = "ray"


DevicesOption = Annotated[
    str | None,
    typer.Option(
        "--devices",
        help="Train on several devices at once, one worker process per entry: cuda:0,cuda:1 | all "
        "(every CUDA device) | cpu,cpu. Trials of your own code get one device each (CUDA_VISIBLE_DEVICES).",
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Train only slice I of N of the variants (the same slice on every machine), "
        "in the run directory <name>-<config fingerprint> under --out that all shards "
        "share; then  lrsweep merge RUN_DIR.",
    ),
]
BackendOption = Annotated[
    Backend,
    typer.Option(
        "--backend",
        help="local: this machine | ray: one Ray task per pack, or per trial of your own code "
        "(needs pip install 'lrsweep\\[ray]').",
    ),
]


class Save(str, Enum):
    """--save: the config's SAVES (tests/cli/test_grid.py keeps them the same)."""

    best = "best"
    all = "all"
    none = "none"


SaveOption = Annotated[
    Save | None,
    typer.Option(
        "--save",
        help="Final weights to keep: best (retrain/model.pt) | all (also variants/<id>/model.pt) | none "
        "(overrides the config's save).",
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="With --backend ray: the cluster to join (auto, HOST:PORT, ray://HOST:10001); "
        "without it a local Ray instance is started.",
    ),
]


@app.command()
def grid(
    config_path: ConfigArg = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    engine: EngineOption = None,
    out: OutOption = DEFAULT_OUT,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Finish an interrupted run directory: re-runs only unfinished variants."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: accept a config that changed.")] = False,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot", help="Write PNG figures into RUN_DIR/plots/ at the end (needs pip install 'lrsweep\\[plot]')."
        ),
    ] = False,
    extend: Annotated[
        bool,
        typer.Option(
            "--extend",
            help="When the best lr is the smallest/largest of the grid, add log-spaced points beyond "
            "that edge and run them in the same run directory, until the best is interior.",
        ),
    ] = False,
    max_extensions: Annotated[
        int,
        typer.Option(
            "--max-extensions", min=1, help="With --extend: at most this many extensions (counted across resumes)."
        ),
    ] = DEFAULT_MAX_EXTENSIONS,
    tensorboard: Annotated[
        bool,
        typer.Option(
            "--tensorboard",
            help="Also write each variant's scalars to "
            "RUN_DIR/tensorboard/<variant id> (needs pip install "
            "'lrsweep\\[tensorboard]').",
        ),
    ] = False,
    devices: DevicesOption = None,
    jobs: JobsOption = 1,
    shard: ShardOption = None,
    backend: BackendOption = Backend.local,
    address: AddressOption = None,
    save: SaveOption = None,
    keep_checkpoints: Annotated[
        bool,
        typer.Option(
            "--keep-checkpoints",
            help="Keep each variant's last checkpoint after it finishes (they are deleted by default).",
        ),
    ] = False,
) -> None:
    """Grid search: train every variant of CONFIG, rank them on validation, retrain the best.

    Writes runs/<name>-<YYYYmmdd-HHMMSS>/ (config, meta, summary.csv/.json, per-variant metrics, retrain/model.pt).
    A config with command: runs your own script once per variant instead (one JSON line per epoch on stdout;
    its output in variants/<id>/stdout.log and stderr.log); see the README, "Your own training code".
    """
    from lrsweep import api
    from lrsweep.cli.progress import ProgressEvents

    err = stderr_console()

    def show_run_dir(path: Path) -> None:  # always, even with --quiet or --json: one line on stderr
        err.print(f"run directory: {path}", markup=False, highlight=False, soft_wrap=True)

    overrides = config_overrides(sets, device, engine)
    with user_errors():
        check_device_options(device, devices)
        try:
            with sigterm_as_interrupt(), announce_downloads():
                try:
                    result = api.grid(
                        config_path,
                        overrides,
                        out=out,
                        events=lambda cfg: ProgressEvents(err, cfg.train.epochs, quiet),
                        resume=resume,
                        force=force,
                        extend=extend,
                        max_extensions=max_extensions,
                        devices=devices,
                        jobs=jobs,
                        backend=backend.value,
                        address=address,
                        shard=shard,
                        save=save.value if save else None,
                        plot=plot,
                        tensorboard=tensorboard,
                        keep_checkpoints=keep_checkpoints,
                        on_run_dir=show_run_dir,
                    )
                except api.Interrupted as stop:
                    if json_out:
                        print_json(stop.summary)
                    stderr_console().print(
                        f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {stop.run_dir}", soft_wrap=True
                    )  # one line, however long the path
                    raise typer.Exit(130) from None
                except StorageError as failure:  # a full disk, mid-run
                    raise storage_failure(failure, json_out) from None
        except KeyboardInterrupt:  # a second Ctrl-C while winding down: leave at once (every write is atomic)
            raise typer.Exit(130) from None
        _render(result, json_out, quiet)
    raise typer.Exit(1 if result.failed else 0)


def _render(result, json_out: bool, quiet: bool) -> None:
    from lrsweep.render.tables import extension_way, summary_table, verdict

    summary = result.summary
    if json_out:
        print_json(summary)
    elif not quiet:
        console = stdout_console()
        console.print(summary_table(summary))
        console.print(
            _shard_note(result.shard, summary, result.run_dir) if result.shard else verdict(summary), markup=False
        )
        for ext in result.extensions:
            way = extension_way(ext["edge"])
            console.print(f"Grid extended {way}: added lr = {', '.join(f'{lr:g}' for lr in ext['added'])}")
        console.print(f"Results: {result.run_dir}", markup=False, highlight=False)
    if result.plots and not quiet:
        (stderr_console() if json_out else stdout_console()).print(
            "\n".join(["Plots:", *(f"  {p}" for p in result.plots)]), markup=False, highlight=False, soft_wrap=True
        )


def _shard_note(shard, summary: dict, run_dir) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["status_counts"].items()))
    return (
        f"Shard {shard} of the sweep: {len(summary['variants'])} variants ({counts}). "
        f"When every shard has finished:  lrsweep merge {run_dir}"
    )
