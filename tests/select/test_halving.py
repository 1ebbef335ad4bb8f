"""Successive halving (ASHA's rule): rungs, cuts, trainers stopped at rungs, resume, other executors."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import Recorded, splits_of

from lrsweep.config import parse_config
from lrsweep.data import load_dataset, split
from lrsweep.engine.vectorized import PackTrainer
from lrsweep.errors import ConfigError
from lrsweep.run.store import RunStore
from lrsweep.select.halving import cut, rung_epochs
from lrsweep.sweep.executors.devices import DevicesExecutor
from lrsweep.sweep.plan import expand
from lrsweep.sweep.runner import Interrupted, run_sweep, train_spec

# Full-batch gradient descent on y = w·x + b + noise: one step per epoch, every number deterministic.
TOY = {
    "name": "toy",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-regression",
        "n_samples": 400,
        "n_features": 4,
        "noise": 0.1,
        "val_fraction": 0.25,
        "batch_size": 400,
    },
    "model": {"name": "linear"},
    "optimizer": {"name": "sgd"},
    "lr": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7],
    "train": {"epochs": 5, "loss": "mse"},
    "prune": {"type": "asha", "grace_epochs": 1, "reduction": 3},  # rungs at epochs 1 and 3
    "retrain": False,
}


def sweep(raw, store, events=None, executor=None):
    config = parse_config(raw)
    splits = splits_of(config)
    return run_sweep(config, splits, store, events or Recorded(), executor=executor)


def by_lr(summary):
    return {r["lr"]: r for r in summary["variants"]}


def test_rungs_are_grace_times_powers_of_the_reduction_below_the_last_epoch():
    assert rung_epochs(1, 3, 9) == [1, 3]
    assert rung_epochs(1, 3, 10) == [1, 3, 9]
    assert rung_epochs(2, 2, 9) == [2, 4, 8]
    assert rung_epochs(5, 3, 5) == []


def test_a_cut_keeps_the_best_third_of_seed_groups_and_never_a_group_with_a_lost_seed():
    raw = {**TOY, "seeds": [0, 1], "lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}
    raw.pop("seed")
    variants = expand(parse_config(raw))
    score = {0.1: (5.0, 5.0), 0.2: (1.0, 9.0), 0.3: (4.0, 4.0), 0.4: (0.5, math.nan), 0.5: (2.0, 2.0), 0.6: (3, 3)}
    scores = {v.id: score[v.lr][v.seed] for v in variants}
    decision = cut(variants, scores, {v.id for v in variants}, rung=1, direction="min", reduction=3)
    kept = [g.split()[0] for g in decision.promoted]
    assert kept == ["lr=0.5", "lr=0.6"]  # means 2 and 3; lr 0.4's best seed cannot carry a diverged one
    assert {v.lr for v in variants if v.id in decision.pruned} == {0.1, 0.2, 0.3, 0.4}
    maximise = cut(variants, scores, {v.id for v in variants}, rung=1, direction="max", reduction=3)
    assert [g.split()[0] for g in maximise.promoted] == ["lr=0.1", "lr=0.2"]


def test_a_pack_trained_to_a_rung_carries_on_as_if_never_stopped():
    config = parse_config({**TOY, "data": {**TOY["data"], "batch_size": 50}})
    splits = split(load_dataset(config.data.name, config.data.options), config.data.val_fraction, 0)
    spec, variants = train_spec(config, splits), expand(config)[:4]
    data, val = (splits.train_x, splits.train_y), (splits.val_x, splits.val_y)
    whole = PackTrainer(variants, spec, torch.device("cpu")).run(data, val)
    trainer = PackTrainer(variants, spec, torch.device("cpu"))
    trainer.run(data, val, until=2)
    trainer.stop([variants[0].id], "pruned")
    staged = trainer.run(data, val)
    assert staged[0].status == "pruned" and len(staged[0].epochs) == 2
    for a, b in zip(whole[1:], staged[1:]):
        assert [r.val_loss for r in a.epochs] == pytest.approx([r.val_loss for r in b.epochs], rel=1e-5)


def test_asha_prunes_the_variants_successive_halving_predicts(tmp_path):
    full = sweep({**TOY, "prune": None}, RunStore.create(tmp_path, "full"))
    runs = {lr: RunStore(next(tmp_path.glob("full-*"))).read_metrics(row["id"]) for lr, row in by_lr(full).items()}

    def at(epoch, lrs):
        return sorted(lrs, key=lambda lr: (runs[lr][epoch - 1]["val_loss"], lr))

    after_1 = at(1, TOY["lr"])[:3]  # 9 // 3 go on from rung 1, 3 // 3 from rung 3
    after_3 = at(3, after_1)[:1]
    events = Recorded()
    summary = sweep(TOY, RunStore.create(tmp_path, "asha"), events)
    rows = by_lr(summary)

    def pruned_at(epoch):
        return {lr for lr, r in rows.items() if (r["status"], r["epochs_run"]) == ("pruned", epoch)}

    assert pruned_at(1) == set(TOY["lr"]) - set(after_1)
    assert pruned_at(3) == set(after_1) - set(after_3)
    assert [lr for lr, r in rows.items() if r["status"] == "done"] == after_3
    assert summary["best"]["lr"] == after_3[0] == full["best"]["lr"] and summary["complete"]
    assert events.epochs == 9 * 1 + 3 * 2 + 1 * 2  # variant-epochs trained, against 9 * 5 without pruning
    assert rows[after_3[0]]["val_loss"] == pytest.approx(by_lr(full)[after_3[0]]["val_loss"], rel=1e-5)
    assert all(r["rank"] is None for r in rows.values() if r["status"] == "pruned")


def test_an_interrupted_asha_sweep_resumes_to_the_same_decisions(tmp_path):
    reference = sweep(TOY, RunStore.create(tmp_path, "ref"))

    class StopInEpoch2(Recorded):
        def on_epoch(self, variant_id, record):
            if record.epoch == 2:  # after the first cut
                raise KeyboardInterrupt

    store = RunStore.create(tmp_path, "stopped")
    with pytest.raises(Interrupted) as stopped:
        sweep(TOY, store, StopInEpoch2())
    assert stopped.value.summary["status_counts"]["pruned"] == 6  # the rung-1 cut was recorded
    resumed = sweep(TOY, store)
    expected = {lr: (r["status"], r["epochs_run"]) for lr, r in by_lr(reference).items()}
    assert {lr: (r["status"], r["epochs_run"]) for lr, r in by_lr(resumed).items()} == expected
    again = Recorded()
    sweep(TOY, store, again)
    assert again.epochs == 0  # pruned counts as finished


def test_asha_on_worker_processes_retrains_rung_by_rung_to_the_same_result(tmp_path):
    local = sweep(TOY, RunStore.create(tmp_path, "local"))
    events = Recorded()
    workers = sweep(TOY, RunStore.create(tmp_path, "workers"), events, DevicesExecutor(["cpu", "cpu"]))
    assert any("retrains survivors from epoch 1" in n for n in events.notices)
    for lr, row in by_lr(local).items():
        other = by_lr(workers)[lr]
        assert (other["status"], other["epochs_run"]) == (row["status"], row["epochs_run"])
        assert other["val_loss"] == pytest.approx(row["val_loss"], rel=1e-4)


@pytest.mark.parametrize(
    "prune, message",
    [
        ({"type": "ashaa"}, "did you mean 'asha'"),
        ({"type": "asha", "reduction": 1}, "reduction=1"),
        ({"type": "asha", "grace_epoch": 1}, "did you mean 'grace_epochs'"),
    ],
)
def test_prune_section_is_strict(prune, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**TOY, "prune": prune})


def test_asha_scores_a_rung_as_select_at_says_and_a_stopped_variant_keeps_its_score(tmp_path):
    from lrsweep.select.halving import _metric_at
    from lrsweep.select.health import Scoring

    rows = [{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.3}, {"epoch": 3, "val_loss": 0.4}]
    assert _metric_at(rows, 3, Scoring("val_loss", "min", "last")) == 0.4
    assert _metric_at(rows, 3, Scoring("val_loss", "min", "best")) == 0.3  # best so far
    assert _metric_at(rows[:2], 3, Scoring("val_loss", "min", "last")) == 0.3  # stopped at epoch 2
    raw = {**TOY, "train": {"epochs": 5, "loss": "mse", "early_stopping": {"patience": 1}}, "select": {"at": "best"}}
    summary = sweep(raw, RunStore.create(tmp_path, "toy"))
    statuses = {r["lr"]: r["status"] for r in summary["variants"]}
    assert set(statuses.values()) <= {"done", "pruned", "diverged"} and summary["best"] is not None
    assert all(r["best_epoch"] <= r["epochs_run"] for r in summary["variants"] if r["status"] == "done")
