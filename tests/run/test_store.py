import json

import pytest

from lrsweep.errors import RunDirError
from lrsweep.run.store import RunStore


def test_run_directory_layout_and_round_trip(tmp_path):
    store = RunStore.create(tmp_path, "demo")
    assert store.path.name.startswith("demo-")
    store.write_config({"name": "demo", "lr": (0.1, 0.01)})
    store.write_meta({"versions": {"lrsweep": "0.1"}})  # what makes it a run directory lrsweep made
    store.write_metrics(
        "v1",
        [
            {
                "epoch": 1,
                "lr": 0.1,
                "train_loss": 0.5,
                "train_acc": None,
                "val_loss": 0.4,
                "val_acc": 0.9,
                "seconds": 1.5,
            }
        ],
    )
    store.write_status("v1", {"status": "done", "final": float("nan")})
    assert (store.path / "variants" / "v1" / "metrics.csv").exists()
    assert store.read_metrics("v1")[0] == {
        "epoch": 1,
        "lr": 0.1,
        "train_loss": 0.5,
        "train_acc": None,
        "val_loss": 0.4,
        "val_acc": 0.9,
        "seconds": 1.5,
    }
    assert store.read_status("v1") == {"status": "done", "final": None}  # NaN is stored as null: valid JSON
    json.loads((store.path / "variants" / "v1" / "status.json").read_text())
    assert RunStore.open(store.path).read_config()["lr"] == [0.1, 0.01]


def test_two_runs_in_the_same_second_get_distinct_directories(tmp_path):
    from datetime import datetime

    stamp = datetime(2026, 1, 1)
    a = RunStore.create(tmp_path, "x", stamp)
    b = RunStore.create(tmp_path, "x", stamp)
    assert a.path != b.path


def test_open_refuses_what_is_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirError, match="not found"):
        RunStore.open(tmp_path / "missing")
    with pytest.raises(RunDirError, match="no config.yaml"):
        RunStore.open(tmp_path)


def test_model_files_round_trip_and_a_truncated_one_is_a_run_dir_error(tmp_path):
    import torch

    from lrsweep.config import parse_config
    from lrsweep.engine.common import TrainSpec
    from lrsweep.models import build_model
    from lrsweep.run.weights import build_module, model_payload
    from lrsweep.sweep.plan import expand

    spec = TrainSpec("mlp", {"hidden": [4]}, (3,), 2, epochs=1, batch_size=8, loss="cross_entropy")
    variant = expand(parse_config({"lr": 0.1}))[0]
    trained = build_model("mlp", {"hidden": [4]}, (3,), 2, seed=5)
    store = RunStore.create(tmp_path, "demo")
    path = store.write_model(variant.id, model_payload(spec, variant, trained.state_dict()))
    assert path == store.variant_dir(variant.id) / "model.pt" and store.has_model(variant.id)
    payload = store.read_model(variant.id)
    rebuilt = build_module(payload, str(path))
    x = torch.randn(5, 3)
    assert torch.equal(rebuilt(x), trained.eval()(x)) and payload["variant"] == variant.describe()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RunDirError, match="unreadable model file"):
        store.read_model(variant.id)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # atomic writes leave no temporary files


def test_metrics_csv_keeps_further_metrics_after_the_standard_columns_and_refuses_text_in_them(tmp_path):
    from lrsweep.errors import RunDirError
    from lrsweep.run.store import METRIC_COLUMNS, RunStore

    store = RunStore.create(tmp_path, "m")
    rows = [
        {
            "epoch": 1,
            "lr": 0.1,
            "train_loss": 1.0,
            "train_acc": None,
            "val_loss": 0.9,
            "val_acc": None,
            "seconds": 0.5,
            "val_f1": 0.5,
        },
        {
            "epoch": 2,
            "lr": 0.1,
            "train_loss": 0.8,
            "train_acc": None,
            "val_loss": 0.7,
            "val_acc": None,
            "seconds": 0.5,
            "val_f1": 0.6,
            "eval_bleu": 20.0,
        },
    ]
    store.write_metrics("v1", rows)
    header = (store.variant_dir("v1") / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header == [*METRIC_COLUMNS, "val_f1", "eval_bleu"]
    back = store.read_metrics("v1")
    assert back[1]["val_f1"] == 0.6 and back[0]["eval_bleu"] is None and back[1]["eval_bleu"] == 20.0
    path = store.variant_dir("v1") / "metrics.csv"
    path.write_text(path.read_text().replace("20.0", "twenty"))
    with pytest.raises(RunDirError, match="eval_bleu"):
        store.read_metrics("v1")
