"""``lrsweep grid`` and ``lrsweep validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT, DeviceOption, JsonOption, OutOption, QuietOption, SetOption, config_overrides, load_splits,
    print_json, run_meta, sigterm_as_interrupt, stderr_console, stdout_console, user_errors,
)
from lrsweep.errors import RunDirError, UsageError

ConfigArg = Annotated[
    Optional[Path], typer.Argument(help="The sweep's YAML config (see configs/). Optional with --resume.")
]


def _load(config_path: Path | None, sets, device, resume: Path | None, force: bool):
    """The config to run, and the run directory to resume (or None for a new run)."""
    from lrsweep.config import apply_overrides, load_config, parse_config
    from lrsweep.store import RunStore

    overrides = config_overrides(sets, device)
    if resume is None:
        if config_path is None:
            raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
        return load_config(config_path, overrides), None
    store = RunStore.open(resume)
    stored = parse_config(apply_overrides(store.read_config(), overrides), source=str(store.path / "config.yaml"))
    config = load_config(config_path, overrides) if config_path else stored
    started_with = store.read_meta().get("fingerprint", stored.fingerprint())
    if config.fingerprint() != started_with and not force:
        raise RunDirError(
            f"the config differs from the one {store.path} was started with "
            f"(fingerprint {config.fingerprint()} != {started_with}); resuming would mix results. "
            "Start a new run, or pass --force to resume anyway."
        )
    return config, store


@app.command()
def grid(
    config_path: ConfigArg = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    resume: Annotated[
        Optional[Path], typer.Option("--resume", help="Finish an interrupted run directory: re-runs only unfinished variants.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: accept a config that changed.")] = False,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Grid search: train every variant of CONFIG, rank them on validation, retrain the best.

    Writes runs/<name>-<YYYYmmdd-HHMMSS>/ (config, meta, summary.csv/.json, per-variant metrics).
    """
    from lrsweep.cli.progress import ProgressEvents
    from lrsweep.device import resolve_device
    from lrsweep.report import summary_table, verdict
    from lrsweep.runner import Interrupted, run_sweep
    from lrsweep.store import RunStore

    with user_errors():
        config, store = _load(config_path, sets, device, resume, force)
        torch_device = resolve_device(config.device)
        splits = load_splits(config).to(torch_device)
        if store is None:
            store = RunStore.create(out, config.name)
            store.write_config(config.to_dict())
            store.write_meta(run_meta(config, torch_device))
        err = stderr_console()
        if not json_out and not quiet:
            err.print(f"run directory: {store.path}", markup=False, highlight=False)
        try:
            with sigterm_as_interrupt(), ProgressEvents(err, config.train.epochs, quiet or json_out) as events:
                summary = run_sweep(config, splits, store, events)
        except Interrupted as stop:
            _finish_meta(store, "interrupted")
            if json_out:
                print_json(stop.summary)
            stderr_console().print(f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {store.path}")
            raise typer.Exit(130) from None
        _finish_meta(store, "finished")
        summary["run_dir"] = str(store.path)
        if json_out:
            print_json(summary)
        elif not quiet:
            console = stdout_console()
            console.print(summary_table(summary))
            console.print(verdict(summary))
            console.print(f"Results: {store.path}", markup=False, highlight=False)
    failed = summary["status_counts"].get("failed", 0) or (summary.get("retrain") or {}).get("status") == "failed"
    raise typer.Exit(1 if failed else 0)


def _finish_meta(store, outcome: str) -> None:
    from datetime import datetime

    meta = store.read_meta()
    meta["finished"] = datetime.now().isoformat(timespec="seconds")
    meta["outcome"] = outcome
    store.write_meta(meta)


@app.command()
def validate(
    config_path: Annotated[Path, typer.Argument(help="The YAML config to check.")],
    sets: SetOption = None,
    device: DeviceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check CONFIG and print the expanded plan (variants, device, dataset sizes) without training."""
    from lrsweep.config import load_config
    from lrsweep.device import describe_device, resolve_device
    from lrsweep.plan import expand
    from lrsweep.report import plan_table
    from lrsweep.runner import preflight

    with user_errors():
        config = load_config(config_path, config_overrides(sets, device))
        torch_device = resolve_device(config.device)
        splits = load_splits(config)
        variants = expand(config)
        preflight(config, splits, variants)
        if json_out:
            print_json({
                "config": config.to_dict(), "fingerprint": config.fingerprint(), "device": str(torch_device),
                "sizes": splits.sizes(), "task": splits.task, "variants": [v.describe() for v in variants],
            })
            return
        console = stdout_console()
        console.print(plan_table(variants, splits.sizes(), describe_device(torch_device), config.fingerprint(),
                                 config.train.epochs))
        console.print(f"[green]OK[/]: {config_path} is valid ({len(variants)} variants, task {splits.task}).")
