"""The Python API: configs from anything, plain results, typed errors, nothing printed; kept weights."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import Recorded

import lrsweep
from lrsweep import api
from lrsweep.engine.common import evaluate
from lrsweep.errors import ConfigError, Interrupted, RunDirError, UsageError

TINY = {
    "name": "tiny",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 300,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 100,
        "val_fraction": 0.2,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.01, 0.1, 1.0],
    "train": {"epochs": 2},
}


def splits(run_dir):
    config = api.load_config_any(run_dir / "config.yaml")
    return api.load_splits(config)


# --------------------------------------------------------------------------- configs


def test_a_dict_a_path_and_a_config_give_the_same_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    from_dict = api.load_config_any(TINY, {"train.epochs": 3, "lr": [1e-05, 0.1]})
    from_path = api.load_config_any(path, ["train.epochs=3", "lr=[1.0e-05, 0.1]"])
    assert from_dict == from_path
    assert from_dict.train.epochs == 3 and from_dict.lrs == (1e-05, 0.1)  # 1e-05 stays a float
    assert api.load_config_any(from_dict) is from_dict
    assert api.load_config_any(from_dict, {"seed": 4}).seeds == (4,)


def test_a_bad_dict_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as err:
        api.load_config_any({**TINY, "train": {"epochs": 2, "lossx": "mse"}})
    assert err.value.key == "train.lossx" and "did you mean 'loss'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        api.load_config_any(TINY, {"train.epochs": 0})
    assert err.value.key == "train.epochs"
    with pytest.raises(ConfigError, match="save"):
        api.load_config_any({**TINY, "save": "everything"})


def test_import_lrsweep_is_light():
    import subprocess
    import sys

    code = (
        "import sys, lrsweep; lrsweep.load_run; lrsweep.grid\n"
        "print(sorted(m for m in ('torch', 'lrsweep.engine.loop') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- grid, load_run, load_model


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One sweep with every variant's weights kept (sequential engine: exact losses), and its events."""
    events = Recorded()
    result = lrsweep.grid(
        TINY, {"engine": "sequential"}, out=tmp_path_factory.mktemp("runs"), events=events, save="all"
    )
    return result, events


def test_grid_returns_plain_data_and_prints_nothing(tmp_path, capfd):
    result = lrsweep.grid(TINY, {"train.epochs": 1, "lr": [0.1, 0.5], "retrain": False}, out=tmp_path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert result.run_dir.parent == tmp_path and (result.run_dir / "summary.json").exists()
    written = json.loads((result.run_dir / "summary.json").read_text())
    assert result.best.id == written["best"]["id"] and result.best.lr in (0.1, 0.5)
    assert result.best.metric == "val_loss" and result.best.value == written["best"]["mean"]
    rows = result.table()
    assert [r["id"] for r in rows] == [r["id"] for r in written["variants"]] and rows[0]["best"] is True
    assert all(r["epochs_run"] == 1 for r in rows) and not result.failed and result.retrain is None
    assert not list(result.run_dir.rglob("model.pt"))  # save: best keeps the retrain's, and nothing retrained


def test_grid_reports_through_the_events_object(swept):
    result, events = swept
    assert events.epochs == 3 * 2 + 2  # every variant's epochs, then the retrain's
    assert sorted(lr for lr, _ in events.ended) == [0.01, 0.1, 1.0]


def test_load_model_gives_the_reported_losses(swept):
    result, _ = swept
    data = splits(result.run_dir)
    retrained = lrsweep.load_model(result.run_dir)
    assert not retrained.training and next(retrained.parameters()).device.type == "cpu"
    test_loss, test_acc = evaluate(retrained, data.test_x, data.test_y, "cross_entropy")
    assert test_loss == pytest.approx(result.retrain["test_loss"], rel=1e-6) and test_acc == result.retrain["test_acc"]
    for row in result.table():  # save: all: each variant's own final weights, scored on the run's validation split
        model = lrsweep.load_model(result.run_dir, row["id"])
        val_loss, val_acc = evaluate(model, data.val_x, data.val_y, "cross_entropy")
        assert val_loss == pytest.approx(row["val_loss"], rel=1e-6) and val_acc == row["val_acc"]
    best = lrsweep.load_model(result.run_dir, "best")
    assert evaluate(best, data.val_x, data.val_y, "cross_entropy")[0] == pytest.approx(result.best.value, rel=1e-6)


def test_model_pt_loads_with_weights_only_and_says_what_it_is(swept):
    import torch

    result, _ = swept
    payload = torch.load(result.run_dir / "retrain" / "model.pt", weights_only=True)
    assert payload["model"] == {"name": "mlp", "options": {"hidden": (16,)}}
    assert payload["input_shape"] == [8] and payload["output_size"] == 3
    assert payload["variant"]["id"] == result.best.id and payload["versions"]["lrsweep"] == lrsweep.__version__
    assert payload["versions"]["torch"] == str(torch.__version__)


def test_packed_variants_keep_their_weights_too(tmp_path):
    result = lrsweep.grid(TINY, {"engine": "vectorized", "retrain": False}, out=tmp_path, save="all")
    data = splits(result.run_dir)
    for row in result.table():
        model = lrsweep.load_model(result.run_dir, row["id"])
        assert evaluate(model, data.val_x, data.val_y, "cross_entropy")[0] == pytest.approx(row["val_loss"], rel=1e-5)


def test_missing_and_damaged_weights_are_run_dir_errors(swept, tmp_path):
    import shutil

    result, _ = swept
    copy = tmp_path / "copy"
    shutil.copytree(result.run_dir, copy)
    with pytest.raises(RunDirError, match="no variant 'nope'"):
        lrsweep.load_model(copy, "nope")
    (copy / "retrain" / "model.pt").write_bytes(b"not a model")
    with pytest.raises(RunDirError, match="unreadable model file .*retrain/model.pt"):
        lrsweep.load_model(copy)
    (copy / "retrain" / "model.pt").unlink()
    lrsweep.load_model(copy)  # no retrain weights: the best variant's own (kept with save: all)
    (copy / "variants" / result.best.id / "model.pt").unlink()
    with pytest.raises(RunDirError, match="neither retrain/model.pt .* nor the best variant's"):
        lrsweep.load_model(copy)
    with pytest.raises(RunDirError, match="does not exist"):
        lrsweep.load_model(copy, "retrain")
    import torch

    torch.save({"state_dict": {}}, copy / "retrain" / "model.pt")
    with pytest.raises(RunDirError, match="not a model file written by lrsweep"):
        lrsweep.load_model(copy)


def test_save_none_keeps_no_weights(tmp_path):
    result = lrsweep.grid(TINY, {"train.epochs": 1, "lr": [0.1]}, out=tmp_path, save="none")
    assert result.retrain["status"] == "done" and not list(result.run_dir.rglob("model.pt"))


def test_load_run_is_what_show_prints(swept):
    result, _ = swept
    run = lrsweep.load_run(result.run_dir)
    assert run.kind == "sweep" and run.summary["best"] == result.summary["best"]
    assert run.best == result.best and run.table() == result.table()
    assert run.meta["outcome"] == "finished" and run.details["run_dir"] == str(result.run_dir)
    assert api.load_config_any(run.config).fingerprint() == run.meta["fingerprint"]
    metrics = run.all_metrics()
    assert set(metrics) == {r["id"] for r in result.table()} | {"retrain"}
    assert [m["epoch"] for m in run.metrics(result.best.id)] == [1, 2]
    with pytest.raises(RunDirError):
        lrsweep.load_run(result.run_dir / "variants")


def test_a_run_built_by_hand_reads_its_own_directory(swept):
    result, _ = swept
    loaded = lrsweep.load_run(result.run_dir)
    run = api.Run(loaded.run_dir, loaded.config, loaded.meta, loaded.summary)
    assert run.metrics(result.best.id) == loaded.metrics(result.best.id)
    assert run.all_metrics() == loaded.all_metrics() and run.in_progress() == loaded.in_progress() == []


def test_an_interrupt_is_the_interrupted_error_with_the_summary(tmp_path):
    class StopAfterOneEpoch(Recorded):
        def on_epoch(self, variant_id, record):
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stop:
        lrsweep.grid(TINY, {"engine": "sequential"}, out=tmp_path, events=StopAfterOneEpoch())
    run_dir = stop.value.run_dir
    assert run_dir.parent == tmp_path and stop.value.summary["status_counts"].get("interrupted") == 1
    assert json.loads((run_dir / "meta.json").read_text())["outcome"] == "interrupted"
    resumed = lrsweep.grid(resume=run_dir)
    assert resumed.run_dir == run_dir and resumed.summary["status_counts"] == {"done": 3}


def test_usage_errors_come_before_any_run_directory(tmp_path):
    with pytest.raises(UsageError, match="cannot run in a shard"):
        lrsweep.grid(TINY, out=tmp_path, shard="1/2", extend=True)
    with pytest.raises(UsageError, match="CONFIG"):
        lrsweep.grid(out=tmp_path)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- find, schedules


def test_find_from_a_dict_writes_a_grid_that_validates(tmp_path):
    steps = []
    found = lrsweep.find(
        TINY,
        {"data.batch_size": 16},
        steps=40,
        start=1e-4,
        out=tmp_path / "runs",
        write_grid=tmp_path / "grid.yaml",
        on_step=lambda *a: steps.append(a),
    )
    assert len(steps) == found.range_test.steps_run and found.run_dir.name.startswith("tiny-find-")
    assert set(found.suggestions) == {"steep", "valley", "min10"} and found.suggested_lr == found.suggestions["valley"]
    assert [r["step"] for r in found.curve] == list(range(found.range_test.steps_run))
    written = api.load_config_any(tmp_path / "grid.yaml")
    assert list(written.lrs) == found.grid and written.data.batch_size == 16
    assert found.to_dict()["grid_file"] == str(tmp_path / "grid.yaml")
    run = lrsweep.load_run(found.run_dir)
    assert run.kind == "find" and run.range_test().suggestions == found.suggestions
    png = found.plot(tmp_path / "find.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_schedule_preview_is_data_and_loads_no_data(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a preview loaded data")

    monkeypatch.setattr("lrsweep.data.load_dataset", refuse)
    preview = lrsweep.schedule_preview(
        TINY, types="steplr", params=["step_size=1", "gamma=0.5"], epochs=3, lr=0.1, out=None
    )
    (entry,) = preview.data["schedules"]
    assert entry["epoch_lrs"] == pytest.approx([0.1, 0.05, 0.025]) and preview.files == []
    assert preview.notes == []
    assert lrsweep.schedule_preview(TINY, types="steplr", epochs=2, out=None).notes[0].startswith("using lr=0.01")


def test_worker_processes_send_the_weights_back_to_the_parent(tmp_path):
    result = lrsweep.grid(TINY, {"lr": [0.01, 0.1]}, out=tmp_path, devices="cpu,cpu", save="all")
    data = splits(result.run_dir)
    assert {r["backend"] for r in result.table()} == {"devices"}
    for row in result.table():
        model = lrsweep.load_model(result.run_dir, row["id"])
        assert evaluate(model, data.val_x, data.val_y, "cross_entropy")[0] == pytest.approx(row["val_loss"], rel=1e-5)
    retrained = lrsweep.load_model(result.run_dir)
    test_loss = evaluate(retrained, data.test_x, data.test_y, "cross_entropy")[0]
    assert test_loss == pytest.approx(result.retrain["test_loss"], rel=1e-6)
