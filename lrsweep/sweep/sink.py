"""The parent's end of every executor: what the runner writes while packs train.

Each epoch record becomes a row of the variant's metrics.csv; a variant that ends gets its status.json
(after its model.pt, when it carried its weights back); a pack's state after an epoch becomes its
checkpoint. The retrain of the best variant is recorded the same way, under ``retrain/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lrsweep.engine.common import STATUS_DONE, STATUS_INTERRUPTED, EpochRecord, TrainSpec, VariantResult
from lrsweep.run.store import RETRAIN_ID, RunStore
from lrsweep.select.halving import FINISHED, PENDING, STATUS_PRUNED
from lrsweep.sweep.plan import Variant

Health = Callable[[list[dict]], dict]  # a finished variant's epochs -> what status.json says of them (stuck, ...)


class Recorder:
    """Writes each variant's metrics.csv after every epoch and forwards the event."""

    def __init__(self, store: RunStore, events, write_as: str | None = None):
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
        **result.test_metrics,  # test_f1, ...: train.metrics on the test split (the retrain's)
        "stopped_early": result.stopped_early,
        "traceback": result.traceback,
        "computed": result.computed,
    }


class Sink:
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
        health: Health | None = None,
        stage: Callable[[str], str] | None = None,
    ):
        from lrsweep.run.checkpoints import Checkpoints

        self.store, self.events, self.backend, self.epochs, self.params = store, events, backend, epochs, params
        self.spec = spec  # for the model.pt of variants that carry their weights back (save: all)
        self.health = health  # judges a variant that finished done (stuck at chance? its best epoch)
        self.stage = stage  # tune's: the stage a variant's status.json names, from how it ended
        self.variants = {v.id: v for v in variants}
        self.checkpoints = Checkpoints(store, fingerprint, self.variants, self.on_notice, keep=store.keep_checkpoints)
        self.rows: dict[str, list[dict]] = {}
        self.reported: dict[str, int] = {}
        self.running: dict[str, Variant] = {}  # started (or paused at a rung), not ended
        self.where: dict[str, str] = {}
        self.ended: dict[str, str] = {}
        self.muted: set[str] = set()  # finished variants training along in their first pack: records ignored
        self.fallback: str | None = None  # why the runner trains this sweep's variants one at a time

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
        if result.status == STATUS_DONE and len(result.epochs) < self.epochs and not result.stopped_early:
            return  # paused at a rung
        if result.status != STATUS_DONE and self.ended.get(variant.id) == result.status:
            self._amend_computed(variant.id, result)  # ended mid-pack, recorded when its pack's checkpoint said so
            return
        self._end(variant, result, device)

    def _amend_computed(self, variant_id: str, result: VariantResult) -> None:
        """status.json of a variant that ended mid-pack gets how it was computed, known once its pack returns."""
        record = self.store.read_status(variant_id)
        if record is not None and record.get("computed") is None and result.computed:
            self.store.write_status(variant_id, {**record, "computed": result.computed})

    def on_pruned(self, variant_id: str, rows: list[dict], rung: int) -> None:
        self.store.write_metrics(variant_id, rows)
        result = VariantResult(variant_id, STATUS_PRUNED, epochs=[EpochRecord.from_row(row) for row in rows])
        result.seconds = sum(r["seconds"] for r in rows if isinstance(r.get("seconds"), (int, float)))
        self._end(self.variants[variant_id], result, self.where.get(variant_id), pruned_at=rung)

    def on_notice(self, message: str) -> None:
        self.events.on_notice(message)

    def on_fallback(self, message: str) -> None:
        """The variants train one at a time, and why: said now, and kept in each one's status.json (and so
        in the summary), where --quiet and --json runs read it."""
        self.fallback = message
        self.on_notice(message)

    def engine_note(self, result: VariantResult) -> str | None:
        """Why a variant that could have trained in a pack trained alone (None when it did not, or chose to)."""
        computed = result.computed or {}
        if computed.get("engine") != "sequential":
            return None
        return computed.get("because") or self.fallback

    def trial_paths(self, variant_id: str):
        """A trial of your own code: its folder, its stdout and stderr logs, the run directory."""
        from lrsweep.run.logs import trial_paths

        return trial_paths(self.store, variant_id)

    def on_trial_logs(self, variant_id: str, stdout: str, stderr: str) -> None:
        """The output of a trial that ran elsewhere (a Ray task), with its result."""
        from lrsweep.run.logs import append_logs

        append_logs(self.store, variant_id, stdout, stderr)

    def on_checkpoint(self, members: list[str], state: dict) -> None:
        """A trainer's state after an epoch: written atomically; members it reports ended are ended now."""
        self.checkpoints.save(members, state)
        results = state.get("results") or ([state["result"]] if "result" in state else [])
        for plain in results:
            # "done" in a checkpoint means "still training" (one that stopped early ends with its pack, which brings
            # its weights and how it was computed); diverged (or pruned) means it ended
            ended = plain["status"] in FINISHED and plain["status"] != STATUS_DONE
            if ended and plain["variant_id"] in self.running:
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
            partial.epochs = [EpochRecord.from_row(row) for row in self.rows.get(variant.id, [])]
            finish(self.store, variant, partial, None, self.backend, self.where.get(variant.id))
        self.running.clear()

    def _end(self, variant: Variant, result: VariantResult, device: str | None, **extra) -> None:
        self.running.pop(variant.id, None)
        self.ended[variant.id] = result.status
        save_weights(self.store, variant.id, self.spec, variant, result)  # before status.json says it finished
        note = self.engine_note(result)
        extra = {**extra, "engine_note": note} if note else extra
        if result.status == STATUS_DONE and self.health is not None:
            extra.update(self.health([e.as_row() for e in result.epochs]))
        if self.stage is not None:
            extra["stage"] = self.stage(result.status)
        finish(self.store, variant, result, self.params(variant), self.backend, device, **extra)
        self.checkpoints.discard(variant.id, lambda vid: self.status(vid) != PENDING)
        self.events.on_variant_end(variant, result)


def finish(
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


def save_weights(store: RunStore, where: str, spec: TrainSpec | None, variant: Variant, result: VariantResult) -> None:
    """``model.pt`` for a result that carried its final weights back (the store writes, atomically)."""
    if result.weights is None or spec is None:
        return
    from lrsweep.run.weights import model_payload

    store.write_model(where, model_payload(spec, variant, result.weights))
    result.weights = None  # written: do not keep a second copy alive


def retrain_best(store, variants, summary, events, session, backend: str, spec: TrainSpec | None = None) -> dict:
    """Train the best variant again on train+val (on the executor) and score it on the test split."""
    stop = summary["best"].get("stop_epoch")  # the epoch it was scored at (select.at best, early stopping)
    best = replace(next(v for v in variants if v.id == summary["best"]["id"]), stop_epoch=stop)
    done = store.read_status(RETRAIN_ID)
    same = done and done.get("variant", {}).get("id") == best.id and done.get("stop_epoch") == stop
    if same and done.get("status") in FINISHED:
        return retrain_entry(best, done)
    until = f" for {stop} epochs (where it was scored)" if stop else ""
    events.on_notice(f"retraining the best variant ({best.group}) on train+val{until}, scoring on test")
    result, device = session.retrain(best, Recorder(store, events, write_as=RETRAIN_ID))
    save_weights(store, RETRAIN_ID, spec, best, result)
    record = status_record(best.id, result, best.describe())
    record.update(backend=backend, device=device, stop_epoch=stop)
    store.write_status(RETRAIN_ID, record)
    return retrain_entry(best, record)


def retrain_entry(best: Variant, record: dict) -> dict:
    further = {k: v for k, v in record.items() if k.startswith("test_") and k not in ("test_loss", "test_acc")}
    return {
        "id": best.id,
        "lr": best.lr,
        "batch_size": best.batch_size,
        "status": record["status"],
        "epochs_run": record.get("epochs_run"),
        "stop_epoch": record.get("stop_epoch"),
        "test_loss": record.get("test_loss"),
        "test_acc": record.get("test_acc"),
        **further,
        "seconds": record.get("seconds"),
        "error": record.get("error"),
    }
