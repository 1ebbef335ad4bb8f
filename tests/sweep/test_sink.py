"""The runner's end of every executor: metrics rows per epoch, status.json when a variant ends."""

from __future__ import annotations

from helpers import Recorded

from lrsweep.config import OptimizerConfig
from lrsweep.engine.common import EpochRecord, VariantResult
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.run.store import RunStore
from lrsweep.sweep.plan import Variant
from lrsweep.sweep.sink import Sink, status_record

VARIANTS = [Variant(lr, OptimizerConfig("sgd", {}), parse_scheduler(None), 0) for lr in (0.1, 1.0)]


def record(epoch: int, loss: float = 1.0) -> EpochRecord:
    return EpochRecord(epoch, 0.1, loss, None, loss, None, 0.5)


def sink(tmp_path, epochs: int = 2) -> tuple[Sink, RunStore, Recorded]:
    store, events = RunStore.create(tmp_path, "s"), Recorded()
    return Sink(store, events, "local", epochs, VARIANTS, lambda v: {"type": "none"}), store, events


def test_records_that_arrive_again_replace_the_rows_from_their_epoch_on_and_are_shown_once(tmp_path):
    s, store, events = sink(tmp_path)
    vid = VARIANTS[0].id
    s.on_epoch(vid, record(1, 3.0))
    s.on_epoch(vid, record(2, 2.0))
    s.on_epoch(vid, record(1, 2.5))  # the pack retried alone, from epoch 1
    assert [(r["epoch"], r["train_loss"]) for r in store.read_metrics(vid)] == [(1, 2.5)]
    assert events.epochs == 2  # epoch 1 again is written, not shown again


def test_a_result_paused_at_a_rung_is_not_an_end_and_a_finished_one_writes_its_status(tmp_path):
    s, store, events = sink(tmp_path, epochs=3)
    variant = VARIANTS[1]
    s.on_pack_start([variant], "cpu")
    s.on_result(variant, VariantResult(variant.id, "done", epochs=[record(1)]), "cpu")
    assert store.read_status(variant.id) is None and s.status(variant.id) == "pending"
    done = VariantResult(variant.id, "done", epochs=[record(e) for e in (1, 2, 3)])
    s.on_result(variant, done, "cpu")
    status = store.read_status(variant.id)
    assert status["status"] == "done" and status["epochs_run"] == 3 and status["device"] == "cpu"
    assert status["scheduler_params"] == {"type": "none"} and s.status(variant.id) == "done"
    assert events.ended == [(1.0, "done")]


def test_an_interrupt_records_every_started_variant_with_the_epochs_it_finished(tmp_path):
    s, store, _ = sink(tmp_path)
    s.on_pack_start(VARIANTS, "cpu")
    s.on_epoch(VARIANTS[0].id, record(1))
    s.interrupt()
    assert [store.read_status(v.id)["status"] for v in VARIANTS] == ["interrupted", "interrupted"]
    assert [store.read_status(v.id)["epochs_run"] for v in VARIANTS] == [1, 0]


def test_status_record_keeps_the_last_lr_used():
    per_epoch = VariantResult("v", "done", epochs=[record(1), EpochRecord(2, 0.05, 1.0, None, 1.0, None, 0.1)])
    assert status_record("v", per_epoch)["final_lr"] == 0.05
    per_step = VariantResult("v", "done", epochs=[record(1)], lr_steps=[0.1, 0.02])
    assert status_record("v", per_step, {"id": "v", "lr": 0.1})["final_lr"] == 0.02
