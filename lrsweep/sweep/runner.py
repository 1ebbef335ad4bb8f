"""Orchestration: skip finished variants, hand the rest to an executor, select the best, retrain it.

The runner reports through :class:`SweepEvents` and persists through :class:`RunStore`;
it never prints and never builds a path itself. Executors (local, worker processes, Ray) train
the packs and send epoch records and results back; only this side writes the run directory.
"""

from __future__ import annotations

import math
from typing import Protocol

from lrsweep.config import Config
from lrsweep.data import Splits
from lrsweep.engine.common import STATUS_DONE, STATUS_INTERRUPTED, EpochRecord, TrainSpec, VariantResult
from lrsweep.engine.loop import steps_per_epoch
from lrsweep.engine.precision import notices as precision_notices
from lrsweep.errors import Interrupted, UsageError  # noqa: F401  Interrupted: defined with the other errors
from lrsweep.run.store import RETRAIN_ID, RunStore
from lrsweep.select.halving import FINISHED, PENDING, STATUS_PRUNED, successive_halving
from lrsweep.select.summary import SUMMARY_COLUMNS, summarize, variant_row
from lrsweep.sweep.executors import Executor, Job, LocalExecutor
from lrsweep.sweep.plan import Shard, Variant, check_task, expand, shard_variants


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


def train_spec(config: Config, splits: Splits) -> TrainSpec:
    """What every variant shares; refuses a loss/metric that does not fit the dataset's task."""
    return TrainSpec(
        model_name=config.model.name,
        model_options=config.model.options,
        input_shape=tuple(splits.input_shape),
        output_size=splits.output_size,
        epochs=config.train.epochs,
        batch_size=config.data.batch_size,
        loss=check_task(config, splits.task),
        augment=config.data.augment if config.data.augment.active else None,
        num_workers=config.data.num_workers,
        precision=config.train.precision,
        grad_clip=config.train.grad_clip,
        compile=config.train.compile,
        weights=config.save,
    )


def preflight(config: Config, splits: Splits, variants: list[Variant], model: bool = True) -> TrainSpec:
    """Everything that can be refused is refused here, before any training starts (``model=False``: all but
    the model, for ``validate --no-import``)."""
    from lrsweep.engine.augment import check_augment
    from lrsweep.sweep.preflight import check_model, check_schedules

    spec = train_spec(config, splits)
    check_augment(spec.augment, spec.input_shape)
    if model:
        check_model(spec, splits, config.limits)
    for variant in variants:
        scheduler_params(variant, spec, len(splits.train_x))
    check_schedules(variants, spec, len(splits.train_x))
    return spec


def scheduler_params(variant: Variant, spec: TrainSpec, n_train: int) -> dict:
    """The arguments the variant's torch scheduler is built with (derived defaults filled in)."""
    from lrsweep.optim.schedulers import resolve_params

    return resolve_params(variant.scheduler, variant.lr, spec.epochs, steps_per_epoch(n_train, spec.batch_size))


class _Recorder:
    """Writes each variant's metrics.csv after every epoch and forwards the event."""

    def __init__(self, store: RunStore, events: SweepEvents, write_as: str | None = None):
        self.store, self.events, self.write_as = store, events, write_as
        self.rows: dict[str, list[dict]] = {}

    def on_epoch(self, variant_id: str, record: EpochRecord) -> None:
        rows = self.rows.get(variant_id, []) + [record.as_row()]
        self.store.write_metrics(self.write_as or variant_id, rows)
        self.rows[variant_id] = rows  # only once on disk: an interrupted write leaves both as they were
        self.events.on_epoch(self.write_as or variant_id, record)


def status_record(variant_id: str, result: VariantResult, described: dict | None = None) -> dict:
    # the last LR actually used: per optimizer step for per-step schedules, else the last epoch's
    last_lr = result.lr_steps[-1] if result.lr_steps else (result.epochs[-1].lr if result.epochs else None)
    return {
        "status": result.status,
        "variant": described or {"id": variant_id},
        "epochs_run": len(result.epochs),
        "final_lr": last_lr,
        "seconds": round(result.seconds, 3),
        "error": result.error,
        "test_loss": result.test_loss,
        "test_acc": result.test_acc,
        "traceback": result.traceback,
        "computed": result.computed,
    }


def run_sweep(
    config: Config,
    splits: Splits,
    store: RunStore,
    events: SweepEvents | None = None,
    executor: Executor | None = None,
    shard: Shard | None = None,
) -> dict:
    """Train every unfinished variant of ``config`` (of its ``shard`` slice); returns (and writes) the summary.

    ``executor`` (default: this process) trains the packs; with ``prune`` in the config they train rung
    by rung (see :mod:`lrsweep.select.halving`). A shard writes its own summary and never retrains (``merge``,
    then ``grid --resume``, do that once every shard has finished).
    Raises :class:`Interrupted` on KeyboardInterrupt, after writing what is consistent.
    """
    events = events or QuietEvents()
    executor = executor or LocalExecutor()
    variants = expand(config)
    spec = preflight(config, splits, variants)
    for message in precision_notices(spec.precision, spec.compile, splits.train_x.device):
        events.on_notice(message)
    check_shard(config, shard)
    mine = shard_variants(variants, shard) if shard else variants
    sink = _Sink(
        store,
        events,
        executor.backend,
        spec.epochs,
        mine,
        lambda v: scheduler_params(v, spec, len(splits.train_x)),
        config.fingerprint(),
        spec=spec,
    )
    pending = [v for v in mine if sink.status(v.id) == PENDING]
    events.on_start(mine, pending)
    try:
        packs = sink.checkpoints.regroup(
            pending,
            lambda rest: plan_packs(config.engine, rest, spec, splits.train_x.device, events, executor.parallelism),
        )
        with executor.session(Job(config, spec, splits), sink.on_notice) as session:
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


def check_shard(config: Config, shard: Shard | None) -> None:
    """Refuse what a shard cannot do on its own slice."""
    if shard is not None and config.prune.active:
        raise UsageError(
            "prune (successive halving) compares every variant at each rung, so it cannot run in "
            "independent shards: drop --shard (use --devices or --backend ray) or remove prune"
        )


def _write_summary(store: RunStore, summary: dict, shard: Shard | None) -> None:
    if shard is None:
        store.write_summary(summary, SUMMARY_COLUMNS)
    else:
        summary["shard"] = shard.label
        store.write_shard_summary(shard.label, summary, SUMMARY_COLUMNS)


def _note_pruning(config: Config, executor, events) -> None:
    from lrsweep.select.halving import rung_epochs

    prune = config.prune
    rungs = rung_epochs(prune.grace_epochs, prune.reduction, config.train.epochs)
    if not rungs:
        events.on_notice(
            f"prune: no rung before the last epoch (grace_epochs={prune.grace_epochs}, "
            f"train.epochs={config.train.epochs}): nothing is pruned"
        )
    elif executor.backend != "local":
        events.on_notice(
            f"prune: the {executor.backend} backend retrains survivors from epoch 1 up to each rung "
            f"(rungs at epochs {', '.join(map(str, rungs))}): training state stays in this process only"
        )


class _Sink:
    """The parent's end of every executor: metrics.csv after each epoch, status.json when a variant ends.

    Records may arrive again from epoch 1 (a pack retried alone, a rung retrained from scratch): the rows
    from that epoch on are replaced, and the progress display only sees epochs it has not seen.
    """

    def __init__(
        self,
        store: RunStore,
        events,
        backend: str,
        epochs: int,
        variants: list[Variant],
        params,
        fingerprint: str = "",
        spec: TrainSpec | None = None,
    ):
        from lrsweep.run.checkpoints import Checkpoints

        self.store, self.events, self.backend, self.epochs, self.params = store, events, backend, epochs, params
        self.spec = spec  # for the model.pt of variants that carry their weights back (save: all)
        self.variants = {v.id: v for v in variants}
        self.checkpoints = Checkpoints(store, fingerprint, self.variants, self.on_notice, keep=store.keep_checkpoints)
        self.rows: dict[str, list[dict]] = {}
        self.reported: dict[str, int] = {}
        self.running: dict[str, Variant] = {}  # started (or paused at a rung), not ended
        self.where: dict[str, str] = {}
        self.ended: dict[str, str] = {}
        self.muted: set[str] = set()  # finished variants training along in their first pack: records ignored

    def status(self, variant_id: str) -> str:
        """How the variant ended in this sweep, or finished in an earlier one; else ``pending``."""
        if variant_id in self.ended:
            return self.ended[variant_id]
        on_disk = (self.store.read_status(variant_id) or {}).get("status")
        return on_disk if on_disk in FINISHED else PENDING

    def on_pack_start(self, pack: list, device: str) -> None:
        self.checkpoints.on_pack_start(pack, device)
        for variant in pack:
            self.running[variant.id] = variant
            self.where[variant.id] = device
        self.events.on_pack_start(pack)

    def on_epoch(self, variant_id: str, record: EpochRecord) -> None:
        if variant_id in self.muted:
            return
        rows = [r for r in self.rows.get(variant_id, []) if r["epoch"] < record.epoch] + [record.as_row()]
        self.store.write_metrics(variant_id, rows)
        self.rows[variant_id] = rows  # only once on disk: an interrupted write leaves both as they were
        if record.epoch > self.reported.get(variant_id, 0):
            self.reported[variant_id] = record.epoch
            self.events.on_epoch(variant_id, record)

    def on_result(self, variant: Variant, result: VariantResult, device: str) -> None:
        if result.status == STATUS_DONE and len(result.epochs) < self.epochs:
            return  # paused at a rung
        if result.status != STATUS_DONE and self.ended.get(variant.id) == result.status:
            return  # ended mid-pack, already recorded when its pack's checkpoint said so
        self._end(variant, result, device)

    def on_pruned(self, variant_id: str, rows: list[dict], rung: int) -> None:
        self.store.write_metrics(variant_id, rows)
        result = VariantResult(variant_id, STATUS_PRUNED, epochs=[EpochRecord(**row) for row in rows])
        result.seconds = sum(r["seconds"] for r in rows if isinstance(r.get("seconds"), (int, float)))
        self._end(self.variants[variant_id], result, self.where.get(variant_id), pruned_at=rung)

    def on_notice(self, message: str) -> None:
        self.events.on_notice(message)

    def on_checkpoint(self, members: list[str], state: dict) -> None:
        """A trainer's state after an epoch: written atomically; members it reports ended are ended now."""
        self.checkpoints.save(members, state)
        results = state.get("results") or ([state["result"]] if "result" in state else [])
        for plain in results:
            # "done" in a checkpoint means "still training"; diverged (or pruned) means it ended
            if plain["status"] in FINISHED and plain["status"] != STATUS_DONE and plain["variant_id"] in self.running:
                from lrsweep.engine.checkpoint import result_from_state

                self._end(
                    self.variants[plain["variant_id"]], result_from_state(plain), self.where.get(plain["variant_id"])
                )

    def resume_point(self, pack: list):
        """What ``pack`` carries on from (see :meth:`lrsweep.run.checkpoints.Checkpoints.resume_point`); the records
        it holds become the variants' rows, as if those epochs had just been reported."""
        point = self.checkpoints.resume_point(pack, self.status)
        if point is None:
            return None
        self.muted |= {v.id for v in point.members if self.status(v.id) != PENDING}  # trained along, not again
        states = [point.pack_state] if point.pack_state else []
        for state in states + list(point.alone.values()):
            for plain in state.get("results") or [state["result"]]:
                if plain["variant_id"] in self.variants and self.status(plain["variant_id"]) == PENDING:
                    self.rows[plain["variant_id"]] = list(plain["epochs"])
                    self.reported[plain["variant_id"]] = len(plain["epochs"])
        return point

    def interrupt(self) -> None:
        """Every started, unended variant is recorded ``interrupted`` with the epochs it finished."""
        for variant in list(self.running.values()):
            partial = VariantResult(variant.id, STATUS_INTERRUPTED)
            partial.epochs = [EpochRecord(**row) for row in self.rows.get(variant.id, [])]
            _finish(self.store, variant, partial, None, self.backend, self.where.get(variant.id))
        self.running.clear()

    def _end(self, variant: Variant, result: VariantResult, device: str | None, **extra) -> None:
        self.running.pop(variant.id, None)
        self.ended[variant.id] = result.status
        save_weights(self.store, variant.id, self.spec, variant, result)  # before status.json says it finished
        _finish(self.store, variant, result, self.params(variant), self.backend, device, **extra)
        self.checkpoints.discard(variant.id, lambda vid: self.status(vid) != PENDING)
        self.events.on_variant_end(variant, result)


def plan_packs(
    engine: str, pending: list[Variant], spec: TrainSpec, device, events, parallelism: int = 1
) -> list[list[Variant]]:
    """Packs of 1 for the sequential engine; otherwise compatible variants together, sized to the device
    and split into at least ``parallelism`` packs (one per worker) where there are enough variants."""
    from lrsweep.engine.packing import make_packs, pack_limit

    if engine == "sequential" or len(pending) < 2:
        return [[v] for v in pending]
    packs = make_packs(pending, min(pack_limit(spec, device), math.ceil(len(pending) / max(1, parallelism))))
    if engine == "auto" and packs:
        reason = vectorize_obstacle(packs[0], spec, device)
        if reason:
            events.on_notice(f"training variants one at a time (sequential engine): {reason}")
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


def _finish(
    store: RunStore,
    variant: Variant,
    result: VariantResult,
    scheduler: dict | None,
    backend: str,
    device: str | None,
    **extra,
) -> None:
    if result.lr_steps:
        store.write_lr_steps(variant.id, result.lr_steps)
    record = status_record(variant.id, result, variant.describe())
    record.update(scheduler_params=scheduler, backend=backend, device=device, **extra)
    store.write_status(variant.id, record)


def collect_summary(config: Config, store: RunStore, variants: list[Variant]) -> dict:
    """The summary rebuilt from the run directory's files (what ``show`` will see too)."""
    rows = [variant_row(v.describe(), store.read_status(v.id), store.read_metrics(v.id)) for v in variants]
    previous = store.read_summary() or {}
    return summarize(config.name, config.select.metric, rows, retrain=previous.get("retrain"))


def save_weights(store: RunStore, where: str, spec: TrainSpec | None, variant: Variant, result: VariantResult) -> None:
    """``model.pt`` for a result that carried its final weights back (the store writes, atomically)."""
    if result.weights is None or spec is None:
        return
    from lrsweep.run.weights import model_payload

    store.write_model(where, model_payload(spec, variant, result.weights))
    result.weights = None  # written: do not keep a second copy alive


def retrain_best(store, variants, summary, events, session, backend: str, spec: TrainSpec | None = None) -> dict:
    """Train the best variant again on train+val (on the executor) and score it on the test split."""
    best = next(v for v in variants if v.id == summary["best"]["id"])
    done = store.read_status(RETRAIN_ID)
    if done and done.get("status") in FINISHED and done.get("variant", {}).get("id") == best.id:
        return _retrain_entry(best, done)
    events.on_notice(f"retraining the best variant ({best.group}) on train+val, scoring on test")
    result, device = session.retrain(best, _Recorder(store, events, write_as=RETRAIN_ID))
    save_weights(store, RETRAIN_ID, spec, best, result)
    record = status_record(best.id, result, best.describe())
    record.update(backend=backend, device=device)
    store.write_status(RETRAIN_ID, record)
    return _retrain_entry(best, record)


def _retrain_entry(best: Variant, record: dict) -> dict:
    return {
        "id": best.id,
        "lr": best.lr,
        "status": record["status"],
        "test_loss": record.get("test_loss"),
        "test_acc": record.get("test_acc"),
        "seconds": record.get("seconds"),
        "error": record.get("error"),
    }


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
    store.write_summary(summary, SUMMARY_COLUMNS)
    return summary
