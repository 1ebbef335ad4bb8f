"""``lrsweep grid`` and ``lrsweep validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT, DeviceOption, EngineOption, JsonOption, OutOption, QuietOption, SetOption, config_overrides, load_splits,
    finish_meta, print_json, run_meta, sigterm_as_interrupt, stderr_console, stdout_console, user_errors,
)
from lrsweep.errors import RunDirError, UsageError
from lrsweep.extend import DEFAULT_MAX_EXTENSIONS

ConfigArg = Annotated[
    Optional[Path], typer.Argument(help="The sweep's YAML config (see configs/). Optional with --resume.")
]


def _load(config_path: Path | None, sets, device, engine, resume: Path | None, force: bool):
    """The config to run, and the run directory to resume (or None for a new run)."""
    from lrsweep.config import apply_overrides, load_config, parse_config
    from lrsweep.store import RunStore

    overrides = config_overrides(sets, device, engine)
    if resume is None:
        if config_path is None:
            raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
        return load_config(config_path, overrides), None
    store = RunStore.open(resume)
    stored = parse_config(apply_overrides(store.read_config(), overrides), source=str(store.path / "config.yaml"))
    config = load_config(config_path, overrides) if config_path else stored
    meta = store.read_meta()
    started_with = meta.get("fingerprint", stored.fingerprint())
    if config.fingerprint() != started_with and not force:
        extended = " (its grid was extended by --extend: resume with the run directory alone)" if (
            config_path and meta.get("extensions")) else ""
        raise RunDirError(
            f"the config differs from the one {store.path} was started with{extended} "
            f"(fingerprint {config.fingerprint()} != {started_with}); resuming would mix results. "
            "Start a new run, or pass --force to resume anyway."
        )
    return config, store


@app.command()
def grid(
    config_path: ConfigArg = None,
    sets: SetOption = None,
    device: DeviceOption = None,
    engine: EngineOption = None,
    out: OutOption = DEFAULT_OUT,
    resume: Annotated[
        Optional[Path], typer.Option("--resume", help="Finish an interrupted run directory: re-runs only unfinished variants.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: accept a config that changed.")] = False,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    plot: Annotated[bool, typer.Option("--plot", help="Write PNG figures into RUN_DIR/plots/ at the end "
                                                      "(needs pip install 'lrsweep\\[plot]').")] = False,
    extend: Annotated[bool, typer.Option(
        "--extend", help="When the best lr is the smallest/largest of the grid, add log-spaced points beyond "
                         "that edge and run them in the same run directory, until the best is interior.")] = False,
    max_extensions: Annotated[int, typer.Option("--max-extensions", min=1, help="With --extend: at most this "
                                                "many extensions (counted across resumes).")] = DEFAULT_MAX_EXTENSIONS,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Also write each variant's scalars to "
                                              "RUN_DIR/tensorboard/<variant id> (needs pip install "
                                              "'lrsweep\\[tensorboard]').")] = False,
) -> None:
    """Grid search: train every variant of CONFIG, rank them on validation, retrain the best.

    Writes runs/<name>-<YYYYmmdd-HHMMSS>/ (config, meta, summary.csv/.json, per-variant metrics).
    """
    from lrsweep.device import resolve_device
    from lrsweep.report import summary_table, verdict
    from lrsweep.runner import Interrupted
    from lrsweep.store import RunStore

    with user_errors():
        _check_extras(plot, tensorboard)
        config, store = _load(config_path, sets, device, engine, resume, force)
        torch_device = resolve_device(config.device)
        splits = load_splits(config).to(torch_device)
        if store is None:
            store = RunStore.create(out, config.name)
            store.write_config(config.to_dict())
            store.write_meta(run_meta(config, torch_device))
        else:
            _note_resume(store, config)
        err = stderr_console()
        if not json_out and not quiet:
            err.print(f"run directory: {store.path}", markup=False, highlight=False)
        observe = _observers(err, config.train.epochs, quiet or json_out, store.tensorboard_dir if tensorboard else None)
        try:
            with sigterm_as_interrupt():
                try:
                    summary = _sweep(config, splits, store, observe, max_extensions if extend else 0)
                except Interrupted as stop:
                    finish_meta(store, "interrupted")
                    if json_out:
                        print_json(stop.summary)
                    stderr_console().print(f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {store.path}")
                    raise typer.Exit(130) from None
        except KeyboardInterrupt:  # a second Ctrl-C while winding down: leave at once (every write is atomic)
            raise typer.Exit(130) from None
        finish_meta(store, "finished")
        summary["run_dir"] = str(store.path)
        summary["extensions"] = store.read_meta().get("extensions", [])
        plots = _plots(store, summary) if plot else []
        if json_out:
            print_json(summary)
        elif not quiet:
            console = stdout_console()
            console.print(summary_table(summary))
            console.print(verdict(summary))
            for ext in summary["extensions"]:
                way = "downwards" if ext["edge"] == "low" else "upwards"
                console.print(f"Grid extended {way}: added lr = {', '.join(f'{lr:g}' for lr in ext['added'])}")
            console.print(f"Results: {store.path}", markup=False, highlight=False)
        if plots and not quiet:
            (err if json_out else stdout_console()).print(
                "\n".join(["Plots:", *(f"  {p}" for p in plots)]), markup=False, highlight=False, soft_wrap=True)
    failed = summary["status_counts"].get("failed", 0) or (summary.get("retrain") or {}).get("status") == "failed"
    raise typer.Exit(1 if failed else 0)


def _check_extras(plot: bool, tensorboard: bool) -> None:
    """Optional extras are checked before any training, so a missing one costs no time."""
    if plot:
        from lrsweep.plots import pyplot

        pyplot()
    if tensorboard:
        from lrsweep.tensorboard import summary_writer_class

        summary_writer_class()


def _observers(console, epochs: int, quiet: bool, tensorboard_dir: Path | None):
    """A factory of the events context for one pass of the runner (progress, and TensorBoard if asked)."""
    from contextlib import ExitStack, contextmanager

    from lrsweep.cli.progress import ProgressEvents

    @contextmanager
    def observe():
        with ExitStack() as stack:
            events = stack.enter_context(ProgressEvents(console, epochs, quiet))
            if tensorboard_dir is not None:
                from lrsweep.tensorboard import TensorBoardEvents

                events = stack.enter_context(TensorBoardEvents(events, tensorboard_dir))
            yield events

    return observe


def _sweep(config, splits, store, observe, max_extensions: int) -> dict:
    """Run the sweep; with ``max_extensions`` > 0, grow the grid past an edge-best lr and run the new points.

    Extensions run in the same run directory (finished variants are skipped); config.yaml and the
    meta fingerprint follow the grid, so ``--resume`` and ``show`` see the extended sweep. The best is
    retrained only once, at the end.
    """
    from dataclasses import replace

    from lrsweep.extend import extended_grid, next_extension
    from lrsweep.runner import run_sweep

    def run(cfg):
        with observe() as events:
            return run_sweep(cfg, splits, store, events)

    if max_extensions <= 0:
        return run(config)
    summary = run(replace(config, retrain=False))
    done = len(store.read_meta().get("extensions", []))
    while (extension := next_extension(config.lrs, summary, done, max_extensions)) is not None:
        done += 1
        config = replace(config, lrs=extended_grid(config.lrs, extension))
        _record_extension(store, config, extension)
        with observe() as events:
            events.on_notice(f"{extension.describe()} (extension {done} of at most {max_extensions})")
        summary = run(replace(config, retrain=False))
    if (summary.get("best") or {}).get("edge") and done >= max_extensions:
        with observe() as events:
            events.on_notice(f"the best lr is still at the edge of the grid after {done} extension(s) (the cap)")
    return run(config) if config.retrain else summary


def _record_extension(store, config, extension) -> None:
    """The run directory follows the grid: config.yaml, and meta's fingerprint and extension log."""
    meta = store.read_meta()
    meta.setdefault("extensions", []).append({**extension.to_dict(), "fingerprint": config.fingerprint()})
    meta["fingerprint"] = config.fingerprint()
    store.write_meta(meta)
    store.write_config(config.to_dict())


def _plots(store, summary: dict) -> list:
    from lrsweep.plots import write_plots

    return write_plots(store, summary)


def _note_resume(store, config) -> None:
    """meta.json keeps every resume (when, which command line); a --force'd config becomes the run's config."""
    import sys
    from datetime import datetime

    meta = store.read_meta()
    entry = {"at": datetime.now().isoformat(timespec="seconds"), "command": sys.argv}
    if meta.get("fingerprint") != config.fingerprint():
        entry["forced_from"] = meta.get("fingerprint")
        meta["fingerprint"] = config.fingerprint()
        store.write_config(config.to_dict())
    meta.setdefault("resumes", []).append(entry)
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
