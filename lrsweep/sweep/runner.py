"""Orchestration: skip finished variants, hand the rest to an executor, select the best, retrain it.

The runner reports through :class:`SweepEvents` and persists through :class:`RunStore`;
it never prints and never builds a path itself. Executors (local, worker processes, Ray) train
the packs and send epoch records and results back to :class:`lrsweep.sweep.sink.Sink`: only this
side writes the run directory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from lrsweep.config import Config
from lrsweep.data import Splits
from lrsweep.data.streamed import StreamedSplits
from lrsweep.engine.common import EpochRecord, TrainSpec, VariantResult
from lrsweep.engine.loop import steps_per_epoch
from lrsweep.engine.precision import notices as precision_notices
from lrsweep.errors import Interrupted, UsageError  # noqa: F401  Interrupted: defined with the other errors
from lrsweep.run.store import RunStore
from lrsweep.select.halving import FINISHED, PENDING, successive_halving
from lrsweep.select.health import Scoring, health
from lrsweep.select.summary import summarize, summary_columns, variant_row
from lrsweep.sweep.executors import Executor, Job, LocalExecutor
from lrsweep.sweep.plan import Shard, Variant, check_task, expand, loss_options, shard_variants
from lrsweep.sweep.preflight import schedule_notices
from lrsweep.sweep.sink import Sink, retrain_best


class SweepEvents(Protocol):
    """What a sweep tells its observer (the CLI's progress display)."""

    def on_start(self, variants: list[Variant], pending: list[Variant]) -> None: ...
    def on_pack_start(self, variants: list[Variant]) -> None: ...
    def on_epoch(self, variant_id: str, record: EpochRecord) -> None: ...  # variant_id "retrain" for the retrain
    def on_variant_end(self, variant: Variant, result: VariantResult) -> None: ...
    def on_notice(self, message: str) -> None: ...


class QuietEvents:
    def on_start(self, variants, pending):
        pass

    def on_pack_start(self, variants):
        pass

    def on_epoch(self, variant_id, record):
        pass

    def on_variant_end(self, variant, result):
        pass

    def on_notice(self, message):
        pass


def train_spec(config: Config, splits: Splits | StreamedSplits) -> TrainSpec:
    """What every variant shares; refuses a loss/metric that does not fit the dataset's task.

    ``batch_size`` is the config's first; a variant that names its own (batch size as a sweep axis) trains with it.
    """
    from lrsweep.engine.stopping import StopRule

    loss = check_task(config, splits.task, splits.num_classes)
    stopping = config.train.early_stopping
    rule = None
    if stopping is not None:
        rule = StopRule(config.select.metric, config.select.direction, stopping.patience, stopping.min_delta)
    return TrainSpec(
        model_name=config.model.name,
        model_options=config.model.options,
        input_shape=tuple(splits.input_shape),
        output_size=1 if loss == "bce_with_logits" else splits.output_size,
        epochs=config.train.epochs,
        batch_size=config.batch_sizes[0],
        loss=loss,
        loss_options=loss_options(config, loss),
        metrics=tuple(config.train.metrics),
        early_stopping=rule,
        augment=config.data.augment if config.data.augment.active else None,
        num_workers=config.data.num_workers,
        precision=config.train.precision,
        grad_clip=config.train.grad_clip,
        compile=config.train.compile,
        weights=config.save,
    )


def preflight(
    config: Config, splits: Splits | StreamedSplits, variants: list[Variant], model: bool = True
) -> TrainSpec:
    """Everything that can be refused is refused here, before any training starts (``model=False``: all but
    the model, for ``validate --no-import``)."""
    from lrsweep.engine.augment import check_augment
    from lrsweep.sweep.preflight import check_engine, check_model, check_schedules

    spec = train_spec(config, splits)
    check_augment(spec.augment, spec.input_shape)
    if model:
        check_model(replace(spec, batch_size=max(config.batch_sizes)), splits, config.limits)
        check_engine(config.engine, variants, spec, splits.train_x.device)
    for variant in variants:
        scheduler_params(variant, spec, len(splits.train_x))
    check_schedules(variants, replace(spec, batch_size=min(config.batch_sizes)), len(splits.train_x))
    return spec


def scheduler_params(variant: Variant, spec: TrainSpec, n_train: int) -> dict:
    """The arguments the variant's torch scheduler is built with (derived defaults filled in)."""
    from lrsweep.optim.schedulers import resolve_params

    steps = steps_per_epoch(n_train, variant.batch_size or spec.batch_size)
    return resolve_params(variant.scheduler, variant.lr, spec.epochs, steps)


def chance_rate(splits: Splits | StreamedSplits | None) -> float | None:
    """The share of the validation split's most common class (None for regression, a streamed split or your
    own code, which loads its own data)."""
    import torch

    if splits is None:
        return None
    y = splits.val_y
    if splits.task != "classification" or not isinstance(y, torch.Tensor) or len(y) == 0:
        return None
    return float(torch.bincount(y.reshape(-1).cpu()).max()) / len(y)


def run_sweep(
    config: Config,
    splits: Splits | StreamedSplits | None,
    store: RunStore,
    events: SweepEvents | None = None,
    executor: Executor | None = None,
    shard: Shard | None = None,
    function=None,
    seeds_share: bool | None = None,
    stage: Callable[[str], str] | None = None,
) -> dict:
    """Train every unfinished variant of ``config`` (of its ``shard`` slice); returns (and writes) the summary.

    ``executor`` (default: this process) trains the packs; with ``prune`` in the config they train rung
    by rung (see :mod:`lrsweep.select.halving`). A shard writes its own summary and never retrains (``merge``,
    then ``grid --resume``, do that once every shard has finished). A config of your own code (``command:``,
    ``function:``, given here as ``function`` when it is a callable) has no ``splits``: each variant is one trial.
    ``seeds_share``: whether seeds may share a pack, where a caller measured which is faster (None: the device's
    rule, see :func:`lrsweep.engine.packing.seeds_apart`). ``stage``: tune's, the stage each ended variant's
    status.json names (from its status).
    Raises :class:`Interrupted` on KeyboardInterrupt, after writing what is consistent.
    """
    events = events or QuietEvents()
    executor = executor or LocalExecutor()
    variants = expand(config)
    spec = None
    if splits is not None and config.kind == "engine":
        spec = preflight(config, splits, variants)
        for message in precision_notices(spec.precision, spec.compile, splits.train_x.device):
            events.on_notice(message)
        for message in schedule_notices(variants, spec, len(splits.train_x)):
            events.on_notice(message)
    check_shard(config, shard)
    mine = shard_variants(variants, shard) if shard else variants
    chance, scoring = chance_rate(splits), Scoring.of(config.select)
    sink = Sink(
        store,
        events,
        executor.backend,
        config.train.epochs,
        mine,
        _schedule_params(spec, splits),
        config.fingerprint(),
        spec=spec,
        health=lambda rows: health(rows, scoring, chance),
        stage=stage,
    )
    pending = [v for v in mine if sink.status(v.id) == PENDING]
    events.on_start(mine, pending)
    try:
        packs = (
            [[v] for v in pending]  # your own code: one trial per variant
            if spec is None or splits is None
            else sink.checkpoints.regroup(
                pending,
                lambda rest: plan_packs(
                    config.engine, rest, spec, splits.train_x.device, sink, executor.parallelism, seeds_share
                ),
            )
        )
        with executor.session(Job(config, spec, splits, function), sink.on_notice) as session:
            if config.prune.active:
                _note_pruning(config, executor, events)
                successive_halving(mine, packs, config, store, session, sink)
            else:
                session.train(packs, sink)
            summary = collect_summary(config, store, mine)
            if shard is None and config.retrain and summary["best"] is not None:
                summary["retrain"] = retrain_best(
                    store, variants, summary, events, session, executor.backend, spec=spec
                )
    except KeyboardInterrupt:
        sink.interrupt()
        summary = collect_summary(config, store, mine)
        _write_summary(store, summary, shard)
        raise Interrupted(summary) from None
    _write_summary(store, summary, shard)
    return summary


def _schedule_params(spec: TrainSpec | None, splits: Splits | StreamedSplits | None):
    """What status.json records of each variant's schedule (nothing for your own code: its schedule is its own)."""
    if spec is None or splits is None:
        return lambda variant: None
    return lambda variant: scheduler_params(variant, spec, len(splits.train_x))


def check_shard(config: Config, shard: Shard | None) -> None:
    """Refuse what a shard cannot do on its own slice."""
    if shard is not None and config.prune.active:
        raise UsageError(
            "prune (successive halving) compares every variant at each rung, so it cannot run in "
            "independent shards: drop --shard (use --devices or --backend ray) or remove prune"
        )


def _write_summary(store: RunStore, summary: dict, shard: Shard | None) -> None:
    if shard is None:
        store.write_summary(summary, summary_columns(summary))
    else:
        summary["shard"] = shard.label
        store.write_shard_summary(shard.label, summary, summary_columns(summary))


def _note_pruning(config: Config, executor, events) -> None:
    from lrsweep.select.halving import rung_epochs

    prune = config.prune
    rungs = rung_epochs(prune.grace_epochs, prune.reduction, config.train.epochs)
    if not rungs:
        events.on_notice(
            f"prune: no rung before the last epoch (grace_epochs={prune.grace_epochs}, "
            f"train.epochs={config.train.epochs}): nothing is pruned"
        )
    elif executor.backend == "ray" or (executor.backend != "local" and config.kind == "engine"):
        events.on_notice(
            f"prune: the {executor.backend} backend retrains survivors from epoch 1 up to each rung "
            f"(rungs at epochs {', '.join(map(str, rungs))}): training state stays in this process only"
        )
    elif config.kind != "engine" and not config.trials.pause:
        events.on_notice("prune: trials.pause is off: promoted trials train again from epoch 1 after each rung")


def plan_packs(
    engine: str,
    pending: list[Variant],
    spec: TrainSpec,
    device,
    sink: Sink,
    parallelism: int = 1,
    seeds_share: bool | None = None,
) -> list[list[Variant]]:
    """Packs of 1 for the sequential engine; otherwise compatible variants together (seeds too on an accelerator, or
    where ``seeds_share`` says so, unless the model draws random numbers), sized to the device and split into at
    least ``parallelism`` packs (one per worker) where there are enough variants."""
    from lrsweep.engine.packing import make_packs, pack_limit, seeds_apart

    if engine == "sequential" or len(pending) < 2:
        return [[v] for v in pending]
    largest = replace(spec, batch_size=max(v.batch_size or spec.batch_size for v in pending))
    limit = min(pack_limit(largest, device), math.ceil(len(pending) / max(1, parallelism)))
    packs = make_packs(pending, limit, by_seed=seeds_apart(pending, spec, device, seeds_share))
    if engine == "auto" and packs:
        reason = vectorize_obstacle(packs[0], spec, device)
        if reason:
            sink.on_fallback(f"training variants one at a time (sequential engine): {reason}")
            return [[v] for v in pending]
    return packs


def vectorize_obstacle(pack: list[Variant], spec: TrainSpec, device) -> str | None:
    """Why this pack cannot train as one computation, or None if it can."""
    from lrsweep.engine.vectorized import check_vectorizable
    from lrsweep.errors import VectorizeError

    try:
        check_vectorizable(pack, spec, device)
    except VectorizeError as exc:
        return str(exc)
    return None


def collect_summary(config: Config, store: RunStore, variants: list[Variant]) -> dict:
    """The summary rebuilt from the run directory's files (what ``show`` will see too)."""
    scoring = Scoring.of(config.select)
    statuses = {v.id: store.read_status(v.id) for v in variants}
    rows = [variant_row(v.describe(), statuses[v.id], store.read_metrics(v.id), scoring) for v in variants]
    previous = store.read_summary() or {}
    summary = summarize(
        config.name,
        config.select.metric,
        rows,
        retrain=previous.get("retrain"),
        direction=config.select.direction,
        at=config.select.at,
        lr_scaling=config.lr_scaling.rule,
    )
    notes = [s["engine_note"] for s in statuses.values() if s and s.get("engine_note")]
    if notes:  # why variants trained one at a time: for scripts (--quiet and --json hide the notice)
        summary["notices"] = list(dict.fromkeys(notes))
    return summary


def merge_run(config: Config, store: RunStore) -> dict:
    """The summary of a sharded run directory, as one unsharded run would have it; writes it.

    Adds ``shards`` (the slices that ran here) and ``missing``: every variant not finished yet, with
    the shard (of the count the shards used) that trains it.
    """
    from lrsweep.sweep.plan import shard_of

    variants = expand(config)
    summary = collect_summary(config, store, variants)
    labels = store.shard_labels()
    counts = [int(label.split("-of-")[1]) for label in labels]
    count = max(set(counts), key=counts.count) if counts else None
    finished = {r["id"] for r in summary["variants"] if r["status"] in FINISHED}
    summary["shards"] = labels
    summary["missing"] = [
        {
            **v.describe(),
            "status": (store.read_status(v.id) or {}).get("status", PENDING),
            "shard": str(shard_of(v, variants, count)) if count else None,
        }
        for v in variants
        if v.id not in finished
    ]
    store.write_summary(summary, summary_columns(summary))
    return summary
