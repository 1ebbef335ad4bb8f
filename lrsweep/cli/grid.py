"""``lrsweep grid`` and ``lrsweep validate``."""

from __future__ import annotations

from enum import Enum
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


class Backend(str, Enum):
    local = "local"
    ray = "ray"


DevicesOption = Annotated[Optional[str], typer.Option(
    "--devices", help="Train on several devices at once, one worker process per entry: cuda:0,cuda:1 | all "
                      "(every CUDA device) | cpu,cpu.")]
ShardOption = Annotated[Optional[str], typer.Option(
    "--shard", metavar="I/N", help="Train only slice I of N of the variants (the same slice on every machine), "
                                   "in the run directory <name>-<config fingerprint> under --out that all shards "
                                   "share; then  lrsweep merge RUN_DIR.")]
BackendOption = Annotated[Backend, typer.Option(
    "--backend", help="local: this machine | ray: one Ray task per pack (needs pip install 'lrsweep\\[ray]').")]
AddressOption = Annotated[Optional[str], typer.Option(
    "--address", help="With --backend ray: the cluster to join (auto, HOST:PORT, ray://HOST:10001); "
                      "without it a local Ray instance is started.")]


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
    devices: DevicesOption = None,
    shard: ShardOption = None,
    backend: BackendOption = Backend.local,
    address: AddressOption = None,
) -> None:
    """Grid search: train every variant of CONFIG, rank them on validation, retrain the best.

    Writes runs/<name>-<YYYYmmdd-HHMMSS>/ (config, meta, summary.csv/.json, per-variant metrics).
    """
    from lrsweep.engine.precision import check_devices
    from lrsweep.executors import make_executor
    from lrsweep.plan import Shard
    from lrsweep.report import summary_table, verdict
    from lrsweep.runner import Interrupted, check_shard

    with user_errors(), make_executor(backend.value, devices, address) as executor:
        _check_extras(plot, tensorboard)
        part = Shard.parse(shard) if shard else None
        if part and extend:
            raise UsageError("--extend grows the grid from the whole sweep's result, so it cannot run in a shard")
        config, store = _load(config_path, sets, device, engine, resume, force)
        check_shard(config, part)
        torch_device = _parent_device(config, executor)
        check_devices(config.train.precision, getattr(executor, "devices", None) or [torch_device])
        splits = load_splits(config).to(torch_device)
        store = _open_store(store, out, config, torch_device, executor, part)
        err = stderr_console()
        if not json_out and (part or not quiet):
            err.print(f"run directory: {store.path}", markup=False, highlight=False)
        observe = _observers(err, config.train.epochs, quiet or json_out, store.tensorboard_dir if tensorboard else None)
        try:
            with sigterm_as_interrupt():
                try:
                    summary = _sweep(config, splits, store, observe, max_extensions if extend else 0, executor, part)
                except Interrupted as stop:
                    _finish_meta(store, "interrupted", part)
                    if json_out:
                        print_json(stop.summary)
                    stderr_console().print(f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {store.path}")
                    raise typer.Exit(130) from None
        except KeyboardInterrupt:  # a second Ctrl-C while winding down: leave at once (every write is atomic)
            raise typer.Exit(130) from None
        _finish_meta(store, "finished", part)
        summary["run_dir"] = str(store.path)
        summary["extensions"] = store.read_meta().get("extensions", [])
        plots = _plots(store, summary) if plot else []
        if json_out:
            print_json(summary)
        elif not quiet:
            console = stdout_console()
            console.print(summary_table(summary))
            console.print(_shard_note(part, summary, store) if part else verdict(summary), markup=False)
            for ext in summary["extensions"]:
                way = "downwards" if ext["edge"] == "low" else "upwards"
                console.print(f"Grid extended {way}: added lr = {', '.join(f'{lr:g}' for lr in ext['added'])}")
            console.print(f"Results: {store.path}", markup=False, highlight=False)
        if plots and not quiet:
            (err if json_out else stdout_console()).print(
                "\n".join(["Plots:", *(f"  {p}" for p in plots)]), markup=False, highlight=False, soft_wrap=True)
    failed = summary["status_counts"].get("failed", 0) or (summary.get("retrain") or {}).get("status") == "failed"
    raise typer.Exit(1 if failed else 0)


def _parent_device(config, executor):
    """Where this process keeps the data: the config's device when it trains itself; the CPU when
    worker processes or Ray tasks train (each loads the data onto its own device)."""
    import torch

    from lrsweep.device import resolve_device

    if executor.backend == "local":
        return resolve_device(config.device)
    return torch.device("cpu")


def _open_store(store, out: Path, config, device, executor, shard):
    """The run directory: the one resumed, the shared ``<name>-<fingerprint>`` of a shard, or a new one."""
    from lrsweep.config import parse_config
    from lrsweep.store import RunStore

    meta = {**run_meta(config, device), "backend": executor.backend}
    if getattr(executor, "devices", None):
        meta["devices"] = executor.devices
    if store is not None:
        _note_resume(store, config)
    elif shard is None:
        store = RunStore.create(out, config.name)
        store.write_config(config.to_dict())
        store.write_meta(meta)
    else:
        store = RunStore.shared(out, config.name, config.fingerprint())
        if not store.create_config(config.to_dict()):
            found = parse_config(store.read_config()).fingerprint()
            if found != config.fingerprint():
                raise RunDirError(f"{store.path} holds another config (fingerprint {found} != "
                                  f"{config.fingerprint()}); use another --out")
        store.create_meta(meta)
    if shard is not None:
        store.write_shard_meta(shard.label, {**meta, "shard": str(shard)})
    return store


def _finish_meta(store, outcome: str, shard) -> None:
    """The run's meta.json gets how it ended; a shard writes only its own (shards never clobber each other)."""
    if shard is None:
        finish_meta(store, outcome)
        return
    from datetime import datetime

    meta = store.read_shard_meta(shard.label)
    meta.update(finished=datetime.now().isoformat(timespec="seconds"), outcome=outcome)
    store.write_shard_meta(shard.label, meta)


def _shard_note(shard, summary: dict, store) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["status_counts"].items()))
    return (f"Shard {shard} of the sweep: {len(summary['variants'])} variants ({counts}). "
            f"When every shard has finished:  lrsweep merge {store.path}")


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


def _sweep(config, splits, store, observe, max_extensions: int, executor=None, shard=None) -> dict:
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
            return run_sweep(cfg, splits, store, events, executor=executor, shard=shard)

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
    from lrsweep.engine.precision import check_devices
    from lrsweep.plan import expand
    from lrsweep.report import plan_table
    from lrsweep.runner import preflight

    with user_errors():
        config = load_config(config_path, config_overrides(sets, device))
        torch_device = resolve_device(config.device)
        check_devices(config.train.precision, [torch_device])
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
