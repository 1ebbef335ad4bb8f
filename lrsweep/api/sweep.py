"""``grid`` and ``validate`` as library calls: a config in, plain data out; nothing printed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lrsweep.api.common import (
    DEFAULT_OUT,
    ConfigLike,
    Overrides,
    load_config_any,
    load_splits,
    override_items,
)
from lrsweep.api.grid_dir import HeldLock, finish, load_for_grid, open_store, record_extension
from lrsweep.errors import Interrupted, StorageError, UsageError
from lrsweep.select.extend import DEFAULT_MAX_EXTENSIONS


@dataclass(frozen=True)
class Best:
    """The winning variant (its seed group's mean, when the sweep has several seeds)."""

    id: str
    lr: float
    optimizer: str
    scheduler: str
    seed: int | None
    metric: str  # the selection metric: val_loss | val_acc | val_<m> of train.metrics, or any name your code reports
    value: float | None  # its mean over the group's seeds (at the epoch select.at says)
    std: float | None
    n: int  # seeds in the group
    ids: tuple[str, ...]
    edge: str | None  # "low" | "high" when the lr is the smallest/largest of its grid
    tied_with_runner_up: bool
    batch_size: int | None = None  # when data.batch_size is a sweep axis
    stop_epoch: int | None = None  # the epoch it was scored at, when not its last (select.at best, early stopping)
    stuck: bool = False  # no healthy variant finished: the best is stuck at chance

    @classmethod
    def from_summary(cls, summary: dict) -> Best | None:
        best = summary.get("best")
        if not best:
            return None
        row: dict[str, Any] = next((r for r in summary["variants"] if r["id"] == best["id"]), {})
        return cls(
            id=best["id"],
            lr=best["lr"],
            optimizer=best["optimizer"],
            scheduler=best["scheduler"],
            seed=row.get("seed"),
            metric=summary["metric"],
            value=best.get("mean"),
            std=best.get("std"),
            n=best.get("n", 1),
            ids=tuple(best.get("ids", (best["id"],))),
            edge=best.get("edge"),
            tied_with_runner_up=bool(best.get("tied_with_runner_up")),
            batch_size=best.get("batch_size"),
            stop_epoch=best.get("stop_epoch"),
            stuck=bool(best.get("stuck")),
        )


@dataclass
class GridResult:
    """What a sweep produced. ``summary`` is summary.json's content (plus ``run_dir`` and ``extensions``)."""

    run_dir: Path
    summary: dict
    best: Best | None
    retrain: dict | None  # the best retrained on train+val: status, test_loss, test_acc, ...
    extensions: list[dict] = field(default_factory=list)  # what --extend added, in order
    plots: list[Path] = field(default_factory=list)
    failed: bool = False  # some variant (or the retrain) failed
    shard: str | None = None  # "I/N" when only a slice of the sweep ran

    def table(self) -> list[dict]:
        """One plain dict per variant, ranked, with summary.csv's columns."""
        from lrsweep.select.summary import summary_columns

        columns = summary_columns(self.summary)
        return [{column: row.get(column) for column in columns} for row in self.summary["variants"]]


def grid(
    config: ConfigLike | Callable | None = None,
    overrides: Overrides = None,
    *,
    lr: Any = None,
    epochs: int | None = None,
    seeds: Any = None,
    metric: str | None = None,
    mode: str | None = None,
    params: dict | None = None,
    name: str | None = None,
    jobs: int = 1,
    out: str | Path = DEFAULT_OUT,
    events=None,
    resume: str | Path | None = None,
    force: bool = False,
    extend: bool = False,
    max_extensions: int = DEFAULT_MAX_EXTENSIONS,
    devices: str | None = None,
    backend: str = "local",
    address: str | None = None,
    shard=None,
    save: str | None = None,
    plot: bool = False,
    tensorboard: bool = False,
    on_run_dir: Callable[[Path], None] | None = None,
    keep_checkpoints: bool = False,
) -> GridResult:
    """Grid search: train every variant, rank them on validation, retrain the best (``lrsweep grid``).

    Args:
        config: a YAML path, a dict or a Config; optional with ``resume``. Or your own training function,
            called with a ``trial`` per variant (``trial.lr``, ``.seed``, ``.epochs``, ``.device``, ``.dir``,
            ``.params``; ``trial.report(epoch, **metrics)`` each epoch): see :mod:`lrsweep.api.trials`.
        overrides: ``{"train.epochs": 2}`` or ``["train.epochs=2"]``.
        lr, epochs, seeds, metric, mode, params, name: shorthands for ``lr``, ``train.epochs``, ``seeds``,
            ``select.metric``, ``select.mode``, ``params`` and ``name`` (what a function needs; overrides otherwise).
        jobs: trials of your own code (command:, function:) at once (per device with ``devices``).
        out: folder in which the run directory is created.
        events: progress observer (``runner.SweepEvents``), or a factory called with the Config once per
            pass of the runner (an extension, the retrain) returning a context manager that yields one.
        resume: an interrupted run directory to finish; ``force`` accepts a changed config.
        extend: grow the grid past an edge-best lr, at most ``max_extensions`` times.
        devices, backend, address: where packs train (see ``lrsweep grid --help``).
        shard: ``"I/N"`` (or a ``plan.Shard``): train only that slice.
        save: ``best`` | ``all`` | ``none``: which final weights to keep (overrides the config's ``save``).
        plot, tensorboard: write PNG figures at the end / TensorBoard scalars while training.
        on_run_dir: called with the run directory once it exists, before training.
        keep_checkpoints: keep each variant's last checkpoint after it finishes (deleted by default).

    Raises:
        Interrupted: on Ctrl-C/SIGTERM, with ``summary`` and ``run_dir`` (resumable).
        ConfigError, UsageError, RunDirError: bad input, before any training.
    """
    from lrsweep.api.trials import as_config, check_function, check_jobs, shorthands
    from lrsweep.engine.precision import check_devices
    from lrsweep.sweep.executors import make_executor
    from lrsweep.sweep.plan import Shard
    from lrsweep.sweep.runner import check_shard

    keywords = shorthands(lr, epochs, seeds, metric, mode, params, name)
    config, function, keywords = as_config(config, keywords, resume)
    items = override_items(overrides) + override_items(keywords) + ([f"save={save}"] if save else [])
    with make_executor(backend, devices, address, jobs) as executor, ExitStack() as stack:
        held = HeldLock(stack)
        check_extras(plot, tensorboard)
        part = Shard.parse(shard) if isinstance(shard, str) else shard
        if part and extend:
            raise UsageError("--extend grows the grid from the whole sweep's result, so it cannot run in a shard")
        cfg, store = load_for_grid(config, items, resume, force)
        check_shard(cfg, part)
        check_jobs(cfg, jobs)
        check_function(cfg, function)
        torch_device = parent_device(cfg, executor)
        splits = None
        if cfg.kind == "engine":  # your own code loads its own data
            check_devices(cfg.train.precision, getattr(executor, "devices", None) or [torch_device])
            splits = load_splits(cfg).to(torch_device)
            preflight_located(cfg, splits)  # everything refusable is refused before a run directory exists
        store = open_store(store, Path(out), cfg, torch_device, executor, part, held)
        store.keep_checkpoints = keep_checkpoints
        if on_run_dir is not None:
            on_run_dir(store.path)
        observe = observer(events, cfg, store.tensorboard_dir if tensorboard else None)
        _notices(observe, held.notice, cfg, getattr(splits, "notes", ()))  # notes: a dropped index column
        try:
            summary = sweep(cfg, splits, store, observe, max_extensions if extend else 0, executor, part, function)
        except Interrupted as stop:
            finish(store, "interrupted", part)
            stop.run_dir = store.path
            raise
        except StorageError as failure:  # a full disk: what finished is whole; the run resumes once there is room
            failure.run_dir = store.path
            try:
                finish(store, "interrupted", part)
            except OSError:
                pass  # still full: meta.json keeps its last whole version
            raise
    finish(store, "finished", part)
    return _result(store, summary, part, plot)


def _notices(observe, lock_notice: str | None, config, notes=()) -> None:
    from lrsweep.api.trials import direction_notice

    messages = [m for m in (lock_notice, direction_notice(config), *notes) if m]
    if messages:
        with observe() as notices:
            for message in messages:
                notices.on_notice(message)


def _result(store, summary: dict, part, plot: bool) -> GridResult:
    summary["run_dir"] = str(store.path)
    summary["extensions"] = store.read_meta().get("extensions", [])
    plots = []
    if plot:
        from lrsweep.render.plots import write_plots

        plots = write_plots(store, summary)
    failed = bool(summary["status_counts"].get("failed", 0)) or (summary.get("retrain") or {}).get("status") == "failed"
    return GridResult(
        run_dir=store.path,
        summary=summary,
        best=Best.from_summary(summary),
        retrain=summary.get("retrain"),
        extensions=summary["extensions"],
        plots=plots,
        failed=failed,
        shard=str(part) if part else None,
    )


def check_extras(plot: bool, tensorboard: bool) -> None:
    """Optional extras are checked before any training, so a missing one costs no time."""
    if plot:
        from lrsweep.render.figures import pyplot

        pyplot()
    if tensorboard:
        from lrsweep.render.tensorboard import summary_writer_class

        summary_writer_class()


def parent_device(config, executor):
    """Where this process keeps the data: the config's device when it trains itself (or its trials of your own
    code do); the CPU when worker processes or Ray tasks train (each loads the data onto its own device)."""
    import torch

    from lrsweep.engine.device import resolve_device

    if executor.backend == "local" or (config.kind != "engine" and executor.backend != "ray"):
        return resolve_device(config.device)
    return torch.device("cpu")


def observer(events, config, tensorboard_dir: Path | None):
    """A factory of the events context for one pass of the runner (the caller's events, TensorBoard if asked)."""
    from lrsweep.sweep.runner import QuietEvents

    @contextmanager
    def observe():
        with ExitStack() as stack:
            if events is None:
                inner = QuietEvents()
            elif callable(events) and not hasattr(events, "on_epoch"):  # a factory of per-pass contexts
                inner = stack.enter_context(events(config))
            else:
                inner = events
            if tensorboard_dir is not None:
                from lrsweep.render.tensorboard import TensorBoardEvents

                inner = stack.enter_context(TensorBoardEvents(inner, tensorboard_dir))
            yield inner

    return observe


def sweep(config, splits, store, observe, max_extensions: int, executor=None, shard=None, function=None) -> dict:
    """Run the sweep; with ``max_extensions`` > 0, grow the grid past an edge-best lr and run the new points.

    Extensions run in the same run directory (finished variants are skipped); config.yaml and the
    meta fingerprint follow the grid, so ``--resume`` and ``show`` see the extended sweep. The best is
    retrained only once, at the end.
    """
    from lrsweep.select.extend import extended_grid, next_extension
    from lrsweep.sweep.runner import run_sweep

    def run(cfg):
        with observe() as events:
            return run_sweep(cfg, splits, store, events, executor=executor, shard=shard, function=function)

    if max_extensions <= 0:
        return run(config)
    summary = run(replace(config, retrain=False))
    done = len(store.read_meta().get("extensions", []))
    while (extension := next_extension(config.lrs, summary, done, max_extensions)) is not None:
        done += 1
        config = replace(config, lrs=extended_grid(config.lrs, extension))
        record_extension(store, config, extension)
        with observe() as events:
            events.on_notice(f"{extension.describe()} (extension {done} of at most {max_extensions})")
        summary = run(replace(config, retrain=False))
    if (summary.get("best") or {}).get("edge") and done >= max_extensions:
        with observe() as events:
            events.on_notice(f"the best lr is still at the edge of the grid after {done} extension(s) (the cap)")
    return run(config) if config.retrain else summary


@dataclass
class Plan:
    """What ``validate`` found: the config, its variants, where and on what it would train."""

    config: Any  # lrsweep.config.Config
    variants: list  # plan.Variant, in run order
    device: str  # the resolved device
    device_description: str
    sizes: dict  # rows per split
    task: str  # classification | regression

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "fingerprint": self.config.fingerprint(),
            "device": self.device,
            "sizes": self.sizes,
            "task": self.task,
            "variants": [v.describe() for v in self.variants],
        }


def validate(config: ConfigLike, overrides: Overrides = None) -> Plan:
    """Check a config and expand its plan without training or downloading (``lrsweep validate``)."""
    from lrsweep.api.validation import check_loaded

    checked = check_loaded(load_config_any(config, overrides))
    # check_loaded imports what the config names, so the data was loaded: its sizes and task are known
    assert checked.sizes is not None and checked.task is not None, "check_loaded() loads the data"
    return Plan(
        config=checked.config,
        variants=checked.variants,
        device=checked.device,
        device_description=checked.device_description,
        sizes=checked.sizes,
        task=checked.task,
    )


def preflight_located(cfg, splits) -> None:
    """runner.preflight, its errors naming the config file."""
    from lrsweep.errors import ConfigError
    from lrsweep.sweep.plan import expand
    from lrsweep.sweep.runner import preflight

    try:
        preflight(cfg, splits, expand(cfg))
    except ConfigError as err:
        raise err.located(file=cfg.source) from None
