"""The runner: engines agree, packs fall back, every variant gets a status, retrain scores test."""

import textwrap

import pytest
from helpers import Recorded, splits_of

from lrsweep.config import parse_config
from lrsweep.run.store import RunStore
from lrsweep.sweep.runner import run_sweep


def sweep(raw, tmp_path, name):
    config = parse_config(raw)
    splits = splits_of(config)
    events = Recorded()
    summary = run_sweep(config, splits, RunStore.create(tmp_path / name, config.name), events)
    return summary, events


def by_lr(summary):
    return {r["lr"]: r for r in summary["variants"]}


def test_vectorized_and_sequential_engines_give_the_same_sweep(tiny_sweep, tmp_path):
    packed, events = sweep({**tiny_sweep, "engine": "auto"}, tmp_path, "a")
    alone, _ = sweep({**tiny_sweep, "engine": "sequential"}, tmp_path, "b")
    assert events.packs == [3]
    assert packed["best"]["lr"] == alone["best"]["lr"]
    for lr, row in by_lr(packed).items():
        other = by_lr(alone)[lr]
        assert row["status"] == other["status"]
        assert row["val_loss"] == pytest.approx(other["val_loss"], rel=1e-4, abs=1e-6)
    assert packed["retrain"]["test_loss"] == pytest.approx(alone["retrain"]["test_loss"], rel=1e-5)


def test_unvectorizable_user_model_falls_back_with_a_notice(tiny_sweep, tmp_path, monkeypatch):
    module = tmp_path / "branchy_model.py"
    module.write_text(
        textwrap.dedent("""
        import math
        from torch import nn

        class Branchy(nn.Module):
            def __init__(self, n_in, n_out):
                super().__init__()
                self.a, self.b = nn.Linear(n_in, n_out), nn.Linear(n_in, n_out)

            def forward(self, x):
                x = x.flatten(1)
                h = self.a(x)
                return h if h.sum() > 0 else self.b(x)   # branches on a weight-dependent value: vmap cannot

        def make(input_shape, output_size):
            return Branchy(math.prod(input_shape), output_size)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    summary, events = sweep({**tiny_sweep, "model": {"name": "branchy_model:make"}, "retrain": False}, tmp_path, "c")
    assert any("one at a time" in n and "branchy_model:make" in n for n in events.notices)
    assert events.packs == [1, 1, 1]
    assert {r["status"] for r in summary["variants"]} <= {"done", "diverged"}
    # where a script reads it, also with --quiet / --json: the summary and each variant's status.json
    import json

    (note,) = summary["notices"]
    assert "one at a time" in note and "branchy_model:make" in note
    run = next((tmp_path / "c").iterdir())
    assert json.loads((run / "summary.json").read_text())["notices"] == [note]
    for row in summary["variants"]:
        status = json.loads((run / "variants" / row["id"] / "status.json").read_text())
        assert status["computed"]["engine"] == "sequential" and status["engine_note"] == note


def test_a_pack_whose_optimizer_has_no_stacked_update_says_why_in_status_and_summary(tiny_sweep, tmp_path):
    import json

    raw = {**tiny_sweep, "optimizer": ["sgd", "adadelta"], "lr": [0.01, 0.1], "retrain": False}
    summary, events = sweep(raw, tmp_path, "e")
    (note,) = summary["notices"]
    assert note.startswith("training this pack one variant at a time") and "adadelta" in note
    run = next((tmp_path / "e").iterdir())
    for row in summary["variants"]:
        status = json.loads((run / "variants" / row["id"] / "status.json").read_text())
        packed = row["optimizer"] == "sgd"
        assert status["computed"]["engine"] == ("vectorized" if packed else "sequential")
        assert status.get("engine_note") == (None if packed else note)


def test_optimizers_make_separate_packs_and_seeds_share_them(tiny_sweep, tmp_path, seeds_share_packs):
    raw = {**tiny_sweep, "seeds": [0, 1], "optimizer": ["sgd", "adam"], "lr": [0.01, 0.1], "retrain": False}
    raw.pop("seed")
    summary, events = sweep(raw, tmp_path, "d")
    assert sorted(events.packs) == [4, 4]
    assert len(summary["variants"]) == 8 and len(summary["groups"]) == 4


def test_a_grid_of_lrs_by_seeds_trains_as_one_pack_and_status_says_so(tiny_sweep, tmp_path, seeds_share_packs):
    raw = {**tiny_sweep, "seeds": [0, 1, 2], "lr": [0.01, 1.0e6], "retrain": False}  # 1e6 diverges in epoch 1
    raw.pop("seed")
    config = parse_config(raw)
    store = RunStore.create(tmp_path / "seeds", config.name)
    events = Recorded()
    run_sweep(config, splits_of(config), store, events)
    assert events.packs == [6]
    ids = store.variant_ids()
    assert all(store.read_pack_record(v)["members"] == ids for v in ids)  # pack.json: one pack, every member
    for vid in ids:
        computed = store.read_status(vid)["computed"]
        assert computed["engine"] == "vectorized" and computed["pack_size"] == 6
        assert computed["seeds"] == [0, 1, 2] and sorted(computed["members"]) == sorted(ids)
    # the diverged ended mid-pack (status.json written then): computed is added once the pack returns
    assert sorted(status for _, status in events.ended) == ["diverged"] * 3 + ["done"] * 3


def test_a_model_with_dropout_keeps_one_seed_per_pack(tiny_sweep, tmp_path):
    """A pack draws one dropout mask from one seed's stream: what each member's own loop draws only for that seed."""
    raw = {**tiny_sweep, "seeds": [0, 1], "lr": [0.01, 0.1], "retrain": False}
    raw.pop("seed")
    raw["model"] = {"name": "mlp", "hidden": [16], "dropout": 0.2}
    summary, events = sweep(raw, tmp_path, "dropout")
    assert events.packs == [2, 2]


def test_on_a_cpu_each_seed_has_its_own_pack(tiny_sweep, tmp_path):
    raw = {**tiny_sweep, "seeds": [0, 1, 2], "lr": [0.01, 0.1], "retrain": False}
    raw.pop("seed")
    summary, events = sweep(raw, tmp_path, "cpu-packs")
    assert sorted(events.packs) == [2, 2, 2]  # one pack per seed: a shared batch is one wide product on a CPU
