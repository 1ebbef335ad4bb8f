"""Orchestration: skip finished variants, train the rest, select the best, retrain it.

The runner reports through :class:`SweepEvents` and persists through :class:`RunStore`;
it never prints and never builds a path itself.
"""

from __future__ import annotations

import traceback
from typing import Protocol

from lrsweep.config import Config
from lrsweep.data import Splits
from lrsweep.engine.common import (
    FINISHED, STATUS_FAILED, STATUS_INTERRUPTED, EpochRecord, TrainSpec, VariantResult,
)
from lrsweep.engine.loop import steps_per_epoch, train_variant
from lrsweep.errors import LrsweepError, UsageError
from lrsweep.plan import Variant, check_task, expand
from lrsweep.store import RETRAIN_ID, RunStore
from lrsweep.summary import SUMMARY_COLUMNS, summarize, variant_row


class SweepEvents(Protocol):
    """What a sweep tells its observer (the CLI's progress display)."""

    def on_start(self, variants: list[Variant], pending: list[Variant]) -> None: ...
    def on_pack_start(self, variants: list[Variant]) -> None: ...
    def on_epoch(self, variant_id: str, record: EpochRecord) -> None: ...  # variant_id "retrain" for the retrain
    def on_variant_end(self, variant: Variant, result: VariantResult) -> None: ...
    def on_notice(self, message: str) -> None: ...


class QuietEvents:
    def on_start(self, variants, pending): pass
    def on_pack_start(self, variants): pass
    def on_epoch(self, variant_id, record): pass
    def on_variant_end(self, variant, result): pass
    def on_notice(self, message): pass


class Interrupted(LrsweepError):
    """Ctrl-C or SIGTERM: the run directory is consistent and resumable."""

    exit_code = 130

    def __init__(self, summary: dict):
        self.summary = summary
        super().__init__("interrupted; resume with --resume")


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
    )


def preflight(config: Config, splits: Splits, variants: list[Variant]) -> TrainSpec:
    """Everything that can be refused is refused here, before any training starts."""
    from lrsweep.models import build_model

    spec = train_spec(config, splits)
    build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed=0)
    for variant in variants:
        scheduler_params(variant, spec, len(splits.train_x))
    return spec


def scheduler_params(variant: Variant, spec: TrainSpec, n_train: int) -> dict:
    """The arguments the variant's torch scheduler is built with (derived defaults filled in)."""
    from lrsweep.schedulers import resolve_params

    return resolve_params(variant.scheduler, variant.lr, spec.epochs, steps_per_epoch(n_train, spec.batch_size))


class _Recorder:
    """Writes each variant's metrics.csv after every epoch and forwards the event."""

    def __init__(self, store: RunStore, events: SweepEvents, write_as: str | None = None):
        self.store, self.events, self.write_as = store, events, write_as
        self.rows: dict[str, list[dict]] = {}

    def on_epoch(self, variant_id: str, record: EpochRecord) -> None:
        rows = self.rows.setdefault(variant_id, [])
        rows.append(record.as_row())
        self.store.write_metrics(self.write_as or variant_id, rows)
        self.events.on_epoch(self.write_as or variant_id, record)


def status_record(variant_id: str, result: VariantResult, described: dict | None = None) -> dict:
    last_lr = result.epochs[-1].lr if result.epochs else None
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
    }


def run_sweep(config: Config, splits: Splits, store: RunStore, events: SweepEvents | None = None) -> dict:
    """Train every unfinished variant of ``config``; returns (and writes) the summary.

    Raises :class:`Interrupted` on KeyboardInterrupt, after writing what is consistent.
    """
    events = events or QuietEvents()
    variants = expand(config)
    spec = preflight(config, splits, variants)
    pending = [v for v in variants if (store.read_status(v.id) or {}).get("status") not in FINISHED]
    events.on_start(variants, pending)
    recorder = _Recorder(store, events)
    evaluation = (splits.val_x, splits.val_y) if len(splits.val_x) else None
    train = (splits.train_x, splits.train_y)
    running: list[Variant] = []
    try:
        for pack in plan_packs(config.engine, pending, spec, splits.train_x.device, events):
            running = pack
            events.on_pack_start(pack)
            for variant, result in zip(pack, _train_pack(config.engine, pack, spec, train, evaluation, recorder,
                                                         events)):
                _finish(store, variant, result, scheduler_params(variant, spec, len(splits.train_x)))
                events.on_variant_end(variant, result)
            running = []
        summary = collect_summary(config, store, variants)
        if config.retrain and summary["best"] is not None:
            summary["retrain"] = retrain_best(config, splits, store, spec, variants, summary, events)
    except KeyboardInterrupt:
        for variant in running:
            partial = VariantResult(variant.id, STATUS_INTERRUPTED)
            partial.epochs = [EpochRecord(**row) for row in recorder.rows.get(variant.id, [])]
            _finish(store, variant, partial)
        summary = collect_summary(config, store, variants)
        store.write_summary(summary, SUMMARY_COLUMNS)
        raise Interrupted(summary) from None
    store.write_summary(summary, SUMMARY_COLUMNS)
    return summary


def plan_packs(engine: str, pending: list[Variant], spec: TrainSpec, device, events) -> list[list[Variant]]:
    """Packs of 1 for the sequential engine; otherwise compatible variants together, sized to the device."""
    from lrsweep.engine.packing import make_packs, pack_limit

    if engine == "sequential" or len(pending) < 2:
        return [[v] for v in pending]
    packs = make_packs(pending, pack_limit(spec, device))
    if engine == "auto" and packs:
        reason = vectorize_obstacle(packs[0], spec, device)
        if reason:
            events.on_notice(f"training variants one at a time (sequential engine): {reason}")
            return [[v] for v in pending]
    return packs


def vectorize_obstacle(pack: list[Variant], spec: TrainSpec, device) -> str | None:
    """Why this pack cannot train as one computation, or None if it can."""
    from lrsweep.engine.vectorized import VectorizeError, check_vectorizable

    try:
        check_vectorizable(pack, spec, device)
    except VectorizeError as exc:
        return str(exc)
    return None


def _train_pack(engine, pack, spec, train, evaluation, recorder, events, test=None) -> list[VariantResult]:
    """Results for a pack, in order; an unexpected error fails only the variants it hit."""
    if len(pack) == 1:
        return [_train_one(pack[0], spec, train, evaluation, recorder, test)]
    from lrsweep.engine.vectorized import VectorizeError, train_pack

    try:
        return train_pack(pack, spec, train, evaluation, recorder, test=test)
    except VectorizeError as exc:
        if engine == "vectorized":
            raise UsageError(f"--engine vectorized: {exc}") from None
        events.on_notice(f"training this pack one variant at a time: {exc}")
    except (KeyboardInterrupt, LrsweepError):
        raise
    except Exception as exc:  # noqa: BLE001 - the pack failed; retry its variants alone
        events.on_notice(f"pack of {len(pack)} failed ({type(exc).__name__}: {exc}); retrying its variants one at a time")
    for variant in pack:
        recorder.rows.pop(variant.id, None)
    return [_train_one(v, spec, train, evaluation, recorder, test) for v in pack]


def _train_one(variant, spec, train, evaluation, recorder, test=None) -> VariantResult:
    """A variant's result; an unexpected error fails only this variant."""
    try:
        return train_variant(variant, spec, train, evaluation, recorder, test=test)
    except (KeyboardInterrupt, LrsweepError):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded in status.json, the sweep goes on
        result = VariantResult(variant.id, STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
        result.epochs = [EpochRecord(**row) for row in recorder.rows.get(variant.id, [])]
        result.traceback = traceback.format_exc(limit=-8)
        return result


def _finish(store: RunStore, variant: Variant, result: VariantResult, scheduler: dict | None = None) -> None:
    if result.lr_steps:
        store.write_lr_steps(variant.id, result.lr_steps)
    record = status_record(variant.id, result, variant.describe())
    record["scheduler_params"] = scheduler
    store.write_status(variant.id, record)


def collect_summary(config: Config, store: RunStore, variants: list[Variant]) -> dict:
    """The summary rebuilt from the run directory's files (what ``show`` will see too)."""
    rows = [variant_row(v.describe(), store.read_status(v.id), store.read_metrics(v.id)) for v in variants]
    previous = store.read_summary() or {}
    return summarize(config.name, config.select.metric, rows, retrain=previous.get("retrain"))


def retrain_best(config, splits, store, spec, variants, summary, events) -> dict:
    """Train the best variant again on train+val and score it on the test split."""
    best = next(v for v in variants if v.id == summary["best"]["id"])
    done = store.read_status(RETRAIN_ID)
    if done and done.get("status") in FINISHED and done.get("variant", {}).get("id") == best.id:
        return _retrain_entry(best, done)
    events.on_notice(f"retraining the best variant ({best.group}) on train+val, scoring on test")
    recorder = _Recorder(store, events, write_as=RETRAIN_ID)
    result = _train_one(best, spec, splits.train_plus_val(), None, recorder, test=(splits.test_x, splits.test_y))
    record = status_record(best.id, result, best.describe())
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
