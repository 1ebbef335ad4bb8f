"""Checkpoints and mid-variant resume, through the runner: an interrupt mid-sweep, then a resume from the
last finished epoch that ends exactly where an uninterrupted sweep ends."""

from __future__ import annotations

import pytest
from helpers import Recorded, splits_of

from lrsweep.config import parse_config
from lrsweep.run.store import RunStore
from lrsweep.sweep.runner import Interrupted, run_sweep

SWEEP = {
    "name": "ckpt",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 300,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 50,
        "val_fraction": 0.2,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [16], "dropout": 0.1},
    "optimizer": {"name": "adam"},
    "lr": [0.003, 0.03, 0.3],
    "scheduler": {"type": "onecyclelr"},
    "train": {"epochs": 5},
    "retrain": False,
}


class StopAt(Recorded):
    """Ctrl-C when the ``nth`` epoch record of epoch ``epoch`` arrives (before that epoch's checkpoint)."""

    def __init__(self, epoch: int, nth: int = 1):
        super().__init__()
        self.epoch, self.nth, self.seen = epoch, nth, 0

    def on_epoch(self, variant_id, record):
        super().on_epoch(variant_id, record)
        if record.epoch == self.epoch:
            self.seen += 1
            if self.seen == self.nth:
                raise KeyboardInterrupt


def _run(raw, store, events):
    config = parse_config(raw)
    return run_sweep(config, splits_of(config), store, events)


def _metrics(store):
    return {vid: store.read_metrics(vid) for vid in store.variant_ids()}


def _interrupted(raw, tmp_path, epoch=3, nth=1):
    store = RunStore.create(tmp_path / "runs", raw["name"])
    with pytest.raises(Interrupted):
        _run(raw, store, StopAt(epoch, nth))
    return store


def _reference(raw, tmp_path):
    store = RunStore.create(tmp_path / "ref", raw["name"])
    _run(raw, store, Recorded())
    return store


def _without_seconds(metrics):
    """Rows as comparable values: seconds dropped, NaN as a string (NaN != NaN)."""
    return {
        vid: [{k: ("nan" if v != v else v) for k, v in row.items() if k != "seconds"} for row in rows]
        for vid, rows in metrics.items()
    }


@pytest.mark.parametrize("engine", ["sequential", "vectorized"])
def test_a_resumed_sweep_carries_on_from_the_last_epoch_and_ends_as_an_uninterrupted_one(engine, tmp_path):
    raw = {**SWEEP, "engine": engine}
    store = _interrupted(raw, tmp_path, epoch=3, nth=2 if engine == "sequential" else 1)
    statuses = {vid: store.read_status(vid) for vid in store.variant_ids()}
    assert [s["status"] for s in statuses.values()].count("interrupted") == (1 if engine == "sequential" else 3)
    assert list(store.path.rglob("checkpoint.pt")), "no checkpoint was written"

    events = Recorded()
    _run(raw, store, events)
    reference = _reference(raw, tmp_path)
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(reference))  # bit for bit on the CPU
    resumed = [store.read_status(vid)["computed"] for vid in store.variant_ids()]
    assert max(c["resumed_from_epoch"] for c in resumed) == 2  # the epoch in progress (3) alone was retrained
    # sequential: the first variant is done, the second carries on (3 epochs), the third starts (5)
    assert events.epochs == (3 + 5 if engine == "sequential" else 3 * 3)
    assert not list(store.path.rglob("checkpoint.pt")) and not list(store.path.glob("packs/*"))


def test_a_truncated_checkpoint_is_ignored_with_a_notice_and_the_variant_restarts(tmp_path):
    raw = {**SWEEP, "engine": "sequential", "lr": [0.03]}
    store = _interrupted(raw, tmp_path, epoch=3)
    path = next(store.path.rglob("checkpoint.pt"))
    path.write_bytes(path.read_bytes()[:200])
    events = Recorded()
    _run(raw, store, events)
    assert any("ignoring the checkpoint" in n and "unreadable" in n for n in events.notices)
    assert events.epochs == 5  # from epoch 1
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(_reference(raw, tmp_path)))


def test_a_checkpoint_of_another_variant_or_config_is_not_trusted(tmp_path):
    from lrsweep.run import checkpoints as resume

    raw = {**SWEEP, "engine": "sequential", "lr": [0.03, 0.3]}
    store = _interrupted(raw, tmp_path, epoch=3)  # the first variant at epoch 2, the second not started
    first, second = (v.id for v in __import__("lrsweep.sweep.plan", fromlist=["expand"]).expand(parse_config(raw)))
    data = store.read_checkpoint([first])
    store.write_checkpoint([second], data)  # a file copied into another variant's folder
    events = Recorded()
    _run(raw, store, events)
    assert any("ignoring the checkpoint" in n and "pack members" in n for n in events.notices)
    assert events.epochs == 3 + 5  # the first carried on from epoch 2, the second started afresh
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(_reference(raw, tmp_path)))
    fingerprint = parse_config(raw).fingerprint()
    with pytest.raises(resume.Rejected, match="config fingerprint"):
        resume.decode(data, "0" * 12, [first])
    head, state = resume.decode(data, fingerprint, [first])
    assert head["torch"] == __import__("torch").__version__ and state["kind"] == "sequential"


def test_a_variant_that_diverged_mid_pack_stays_diverged_after_ctrl_c(tmp_path):
    raw = {**SWEEP, "engine": "vectorized", "optimizer": {"name": "sgd"}, "scheduler": None, "lr": [0.01, 0.1, 1.0e6]}
    store = _interrupted(raw, tmp_path, epoch=3)
    statuses = {store.read_status(v)["variant"]["lr"]: store.read_status(v)["status"] for v in store.variant_ids()}
    assert statuses == {0.01: "interrupted", 0.1: "interrupted", 1.0e6: "diverged"}
    events = Recorded()
    _run(raw, store, events)
    assert (1.0e6, "diverged") not in events.ended  # not trained again
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(_reference(raw, tmp_path)))


def test_a_variant_rerun_alone_rejoins_its_first_pack_and_gets_the_same_result(tmp_path):
    """Trained alone it met other float sums (quick-start lr 0.1: val_acc 0.8775 alone vs 0.8175 in its pack)."""
    raw = {
        **SWEEP,
        "engine": "vectorized",
        "optimizer": {"name": "sgd", "momentum": 0.9},
        "scheduler": None,
        "model": {"name": "mlp", "hidden": [32, 32]},
        "lr": [0.1, 0.3, 1.0],
        "train": {"epochs": 2},
    }
    store = RunStore.create(tmp_path / "runs", "ckpt")
    _run(raw, store, Recorded())
    before = _without_seconds(_metrics(store))
    lost = store.variant_ids()[1]
    (store.variant_dir(lost) / "status.json").unlink()  # killed between the pack's status writes
    events = Recorded()
    _run(raw, store, events)
    assert _without_seconds(_metrics(store)) == before
    computed = store.read_status(lost)["computed"]
    assert computed["engine"] == "vectorized" and computed["pack_size"] == 3
    assert events.epochs == 2  # only the lost variant's epochs reached the run directory


@pytest.mark.parametrize("engine", ["sequential", "vectorized"])
def test_successive_halving_resumes_from_checkpoints_to_the_uninterrupted_result(engine, tmp_path):
    raw = {
        **SWEEP,
        "engine": engine,
        "scheduler": None,
        "lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
        "prune": {"type": "asha", "grace_epochs": 1, "reduction": 2},
    }  # rungs at epochs 1, 2 and 4
    store = _interrupted(raw, tmp_path, epoch=3)
    _run(raw, store, Recorded())
    reference = _reference(raw, tmp_path)
    assert {v: store.read_status(v)["status"] for v in store.variant_ids()} == {
        v: reference.read_status(v)["status"] for v in reference.variant_ids()
    }
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(reference))


def test_early_stopping_state_is_in_the_checkpoint_and_a_resume_stops_where_an_uninterrupted_run_does(tmp_path):
    raw = {
        **SWEEP,
        "engine": "vectorized",
        "scheduler": None,
        "train": {"epochs": 6, "early_stopping": {"patience": 1}},  # lr 0.03 and 0.3 stop at epoch 3
        "save": "all",
    }
    store = _interrupted(raw, tmp_path, epoch=5)  # the stopped members end with their pack; 0.003 trains on
    by_lr = {store.read_status(v)["variant"]["lr"]: store.read_status(v) for v in store.variant_ids()}
    assert {lr: (s["status"], s["epochs_run"]) for lr, s in by_lr.items()} == {
        0.003: ("interrupted", 5),  # its checkpoint holds epoch 4: epoch 5 trains again
        0.03: ("interrupted", 3),
        0.3: ("interrupted", 3),
    }
    events = Recorded()
    _run(raw, store, events)
    assert events.epochs == 2  # epochs 5-6 of lr 0.003 alone: the stopped ones are not trained again
    assert sorted(events.ended) == [(0.003, "done"), (0.03, "done"), (0.3, "done")]
    reference = _reference(raw, tmp_path)
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(reference))
    for vid in store.variant_ids():
        status, expected = store.read_status(vid), reference.read_status(vid)
        assert (status["stopped_early"], status["epochs_run"]) == (expected["stopped_early"], expected["epochs_run"])
        assert status["computed"]["pack_size"] == 3 and status["computed"]["resumed_from_epoch"] == 4
        assert store.has_model(vid)  # a stopped member's weights where it stopped


SEEDS = {**SWEEP, "engine": "vectorized", "model": {"name": "mlp", "hidden": [16]}, "lr": [0.003, 0.03]}
SEEDS.pop("seed")
SEEDS["seeds"], SEEDS["train"] = [0, 1, 2], {"epochs": 4}


def test_a_pack_of_several_seeds_resumes_mid_way_to_the_uninterrupted_result(tmp_path, seeds_share_packs):
    store = _interrupted(SEEDS, tmp_path, epoch=3)
    assert len(list(store.path.glob("packs/*/checkpoint.pt"))) == 1  # one pack for the 2 LRs x 3 seeds
    events = Recorded()
    _run(SEEDS, store, events)
    assert events.packs == [6] and events.epochs == 6 * 2  # epochs 3-4 of all six, in one pack
    assert _without_seconds(_metrics(store)) == _without_seconds(_metrics(_reference(SEEDS, tmp_path)))
    for vid in store.variant_ids():
        computed = store.read_status(vid)["computed"]
        assert (computed["pack_size"], computed["seeds"], computed["resumed_from_epoch"]) == (6, [0, 1, 2], 2)


@pytest.mark.parametrize("nth", [1, 3])  # Ctrl-C in the first per-seed pack (seed 0), or in the second (seed 1)
def test_a_run_made_with_one_seed_per_pack_resumes_in_the_packs_it_first_ran(
    nth, tmp_path, monkeypatch, seeds_share_packs
):
    """Runs made before seeds shared packs: a started pack re-forms from pack.json and carries on from its
    checkpoint; only the packs never started are planned anew (seeds together), and never mixed with the old."""
    from lrsweep.engine import packing

    monkeypatch.setattr(packing, "SEEDS_SHARE_PACKS", False)
    store = _interrupted(SEEDS, tmp_path, epoch=3, nth=nth)
    old = _metrics(_reference(SEEDS, tmp_path))
    monkeypatch.setattr(packing, "SEEDS_SHARE_PACKS", True)
    events = Recorded()
    _run(SEEDS, store, events)
    seeds = {vid: store.read_status(vid)["variant"]["seed"] for vid in store.variant_ids()}
    computed = {vid: store.read_status(vid)["computed"] for vid in store.variant_ids()}
    interrupted = 0 if nth == 1 else 1
    assert events.packs == ([2, 4] if nth == 1 else [2, 2])  # the old pack again, then the rest
    for vid, seed in seeds.items():
        if seed <= interrupted:  # finished before, or its old pack again from its checkpoint: what it first met
            assert computed[vid]["seeds"] == [seed] and computed[vid]["resumed_from_epoch"] == 2 * (seed == interrupted)
            assert _without_seconds({vid: store.read_metrics(vid)}) == _without_seconds({vid: old[vid]})
        elif seed > interrupted:  # never started: planned now
            assert computed[vid]["seeds"] == ([1, 2] if nth == 1 else [2])
            for row, expected in zip(store.read_metrics(vid), old[vid]):
                assert row["val_loss"] == pytest.approx(expected["val_loss"], rel=2e-5, abs=1e-6)
