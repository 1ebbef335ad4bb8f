"""`lrsweep schedule` through the CLI: --list, --preview, training one schedule and several side by side."""

import json
import math
from importlib import resources

import pytest
import torch
import yaml
from helpers import ROOT
from torch.optim import lr_scheduler

from lrsweep.cli import app
from lrsweep.optim.schedulers import SCHEDULERS, torch_scheduler_classes

LR = 0.1


@pytest.fixture
def tiny(write_config, tiny_sweep, tmp_path):
    """A synthetic experiment (240 train rows / 32 = 8 steps per epoch): seconds for 20 epochs."""
    return write_config({**tiny_sweep, "retrain": False})


def invoke(runner, tmp_path, *args):
    return runner.invoke(app, ["schedule", *args, "--out", str(tmp_path / "runs")])


def only_run(tmp_path):
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    return run


def metrics_lrs(run, variant_id):
    lines = (run / "variants" / variant_id / "metrics.csv").read_text().splitlines()
    return [float(line.split(",")[1]) for line in lines[1:]]


def by_hand(cls, epochs, **kwargs):
    """The LR at the start of each epoch from the torch class stepped by hand once per epoch."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    scheduler = cls(optimizer, **kwargs)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


# --------------------------------------------------------------------------- the built-in experiment


def test_builtin_side_by_side_ranks_by_the_metric_with_each_final_lr(runner, tmp_path):
    result = invoke(runner, tmp_path, "--type", "none,steplr,onecycle", "--epochs", "1")
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path)
    assert run.name.startswith("quick-schedule-")
    summary = json.loads((run / "summary.json").read_text())
    rows = summary["variants"]
    assert summary["metric"] == "val_acc" and [r["scheduler"] for r in rows] != []
    assert sorted(r["scheduler"] for r in rows) == ["none", "onecyclelr", "steplr"]
    assert [r["val_acc"] for r in rows] == sorted((r["val_acc"] for r in rows), reverse=True)
    assert {r["lr"] for r in rows} == {0.03}  # the built-in's one learning rate
    table = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [next(s for s in ("none", "steplr", "onecyclelr") if f" {s} " in line) for line in table] == [
        r["scheduler"] for r in rows
    ]  # printed in rank order
    onecycle = next(r for r in rows if r["scheduler"] == "onecyclelr")
    steps = (run / "variants" / onecycle["id"] / "lr_steps.csv").read_text().splitlines()
    assert len(steps) == 1 + math.ceil(4000 * 0.9 / 32)  # one row per optimizer step of the epoch
    final_step_lr = float(steps[-1].split(",")[1])
    assert f"{final_step_lr:.3g}" in next(line for line in table if "onecyclelr" in line)
    assert "0.03" in next(line for line in table if " none " in line)
    assert not (run / "variants" / next(r["id"] for r in rows if r["scheduler"] == "none") / "lr_steps.csv").exists()


def test_builtin_experiment_is_the_quick_start_with_one_lr():
    builtin = yaml.safe_load(resources.files("lrsweep").joinpath("config/quick.yaml").read_text())
    quickstart = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    for key in ("data", "model", "optimizer", "train", "select", "seed"):
        assert builtin[key] == quickstart[key], key
    assert isinstance(builtin["lr"], float) and "scheduler" not in builtin


# --------------------------------------------------------------------------- one schedule on a config


def test_config_onecycle_at_the_given_lr_writes_every_step(runner, tiny, tmp_path):
    result = invoke(
        runner,
        tmp_path,
        str(tiny),
        "--type",
        "onecyclelr",
        "--lr",
        "0.1",
        "--json",
        "--set",
        "data.batch_size=60",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (row,) = data["variants"]
    assert row["lr"] == 0.1 and row["scheduler"] == "onecyclelr" and row["status"] == "done"
    (entry,) = data["schedules"]
    assert len(entry["step_lrs"]) == 2 * 4 and max(entry["step_lrs"]) == pytest.approx(0.1, rel=0.05)  # 240/60
    assert entry["final_lr"] == entry["step_lrs"][-1] < 1e-4  # the LR of the last step, not of the last epoch
    assert entry["epoch_lrs"] == metrics_lrs(only_run(tmp_path), row["id"])


def test_params_reach_the_scheduler(runner, tiny, tmp_path):
    result = invoke(
        runner,
        tmp_path,
        str(tiny),
        "--type",
        "steplr",
        "--param",
        "step_size=5",
        "--param",
        "gamma=0.5",
        "--epochs",
        "20",
        "--lr",
        str(LR),
        "--json",
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["schedules"]
    assert entry["epoch_lrs"] == pytest.approx(by_hand(lr_scheduler.StepLR, 20, step_size=5, gamma=0.5))
    assert entry["epoch_lrs"][4:6] == pytest.approx([LR, LR / 2])


def test_yaml_list_param_milestones_reach_the_recorded_lrs(runner, tiny, tmp_path):
    result = invoke(
        runner,
        tmp_path,
        str(tiny),
        "--type",
        "multistep",
        "--param",
        "milestones=[3,6]",
        "--epochs",
        "8",
        "--lr",
        str(LR),
    )
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path)
    (variant,) = (run / "variants").iterdir()
    assert metrics_lrs(run, variant.name) == pytest.approx([LR] * 3 + [LR / 10] * 3 + [LR / 100] * 2)
    assert "multisteplr(milestones=[3,6])" in result.stdout


def test_plateau_steps_on_the_validation_loss_in_training(runner, tiny, tmp_path):
    # threshold=10 (relative): no epoch counts as an improvement, so with patience 0 the LR halves every epoch
    result = invoke(
        runner,
        tmp_path,
        str(tiny),
        "--type",
        "plateau",
        "--param",
        "patience=0",
        "--param",
        "factor=0.5",
        "--param",
        "threshold=10",
        "--epochs",
        "3",
        "--lr",
        str(LR),
        "--json",
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["schedules"]
    assert entry["epoch_lrs"] == pytest.approx([LR, LR / 2, LR / 4]) and entry["final_lr"] == pytest.approx(LR / 4)


def test_keyed_params_with_several_types_and_the_same_start(runner, write_config, tiny_sweep, tmp_path):
    tiny = write_config({**{k: v for k, v in tiny_sweep.items() if k != "seed"}, "seeds": [0, 1], "retrain": False})
    result = invoke(
        runner,
        tmp_path,
        str(tiny),
        "--type",
        "steplr,exp",
        "--param",
        "steplr.gamma=0.5",
        "--param",
        "exp.gamma=0.9",
        "--epochs",
        "2",
        "--lr",
        str(LR),
        "--seed",
        "5",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    lrs = {e["scheduler"]: e["epoch_lrs"] for e in data["schedules"]}
    assert lrs == {
        "steplr(gamma=0.5)": pytest.approx([LR, LR / 2]),
        "exponentiallr(gamma=0.9)": pytest.approx([LR, LR * 0.9]),
    }
    assert sorted(r["seed"] for r in data["variants"]) == [5, 5]  # --seed replaces the config's seeds


# --------------------------------------------------------------------------- --preview


@pytest.fixture
def no_data(monkeypatch):
    """Previews must not load data."""

    def refuse(*args, **kwargs):
        raise AssertionError("a preview loaded data")

    monkeypatch.setattr("lrsweep.api.schedules.load_splits", refuse)
    monkeypatch.setattr("lrsweep.data.load_dataset", refuse)


def test_preview_equals_torch_steplr_and_saves_json_and_png(runner, tmp_path, no_data):
    result = invoke(
        runner,
        tmp_path,
        "--type",
        "steplr",
        "--param",
        "step_size=2",
        "--preview",
        "--epochs",
        "7",
        "--lr",
        str(LR),
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (entry,) = data["schedules"]
    assert entry["epoch_lrs"] == pytest.approx(by_hand(lr_scheduler.StepLR, 7, step_size=2))
    assert entry["params"] == {"step_size": 2} and "step_lrs" not in entry
    folder = only_run(tmp_path)
    assert folder.name.startswith("quick-preview-")
    assert sorted(p.name for p in folder.iterdir()) == ["lr_preview.png", "preview.json"]
    assert (folder / "lr_preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "preview.json").read_text())["schedules"][0]["epoch_lrs"] == entry["epoch_lrs"]


def test_preview_prints_the_curve_and_says_where_it_saved(runner, tmp_path, no_data):
    png = tmp_path / "cosine.png"
    result = runner.invoke(
        app, ["schedule", "--type", "cosineannealinglr", "--preview", "--epochs", "4", "--out", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert png.exists() and f"Saved: {png}" in result.stdout
    assert "T_max=4" in result.stdout and "LR at the start of each epoch" in result.stdout
    expected = by_hand(lr_scheduler.CosineAnnealingLR, 4, T_max=4)
    assert f"{expected[2] * 0.03 / LR:.4g}" in result.stdout  # the built-in's lr 0.03


def test_preview_side_by_side_with_a_per_step_schedule(runner, tmp_path, no_data):
    result = invoke(
        runner,
        tmp_path,
        "--type",
        "steplr,cosineannealinglr,onecyclelr",
        "--preview",
        "--steps-per-epoch",
        "10",
        "--json",
    )
    assert result.exit_code == 0, result.output
    entries = {e["type"]: e for e in json.loads(result.stdout)["schedules"]}
    assert list(entries) == ["steplr", "cosineannealinglr", "onecyclelr"]
    onecycle = entries["onecyclelr"]
    assert len(onecycle["step_lrs"]) == 3 * 10 and onecycle["params"]["total_steps"] == 30
    assert onecycle["final_lr"] == onecycle["step_lrs"][-1]
    table = invoke(runner, tmp_path, "--type", "steplr,cosineannealinglr,onecyclelr", "--preview")
    assert all(name in table.stdout for name in entries) and "per step" in table.stdout


# --------------------------------------------------------------------------- --list


def test_list_shows_every_torch_scheduler_with_aliases_and_defaults(runner):
    result = runner.invoke(app, ["schedule", "--list"])
    assert result.exit_code == 0, result.output
    for cls in torch_scheduler_classes():
        assert cls.__name__ in result.stdout, cls.__name__
    assert "ceil(N/3)" in result.stdout and "onecycle" in result.stdout and "warmup" in result.stdout
    entries = json.loads(runner.invoke(app, ["schedule", "--list", "--json"]).stdout)
    names = {e["name"] for e in entries}
    assert {cls.__name__.lower() for cls in torch_scheduler_classes()} <= names
    assert names == set(SCHEDULERS.names())
    steplr = next(e for e in entries if e["name"] == "steplr")
    assert steplr["aliases"] == ["step"] and {p["name"]: p["source"] for p in steplr["params"]} == {
        "step_size": "lrsweep",
        "gamma": "torch",
    }
    only = json.loads(runner.invoke(app, ["schedule", "--list", "--json", "--type", "cosine"]).stdout)
    assert [e["name"] for e in only] == ["cosineannealinglr"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--type", "steplrr"], "did you mean 'steplr'"),
        (["--type", "steplr", "--param", "gama=0.5"], "gama"),
        (["--type", "steplr", "--param", "gama=0.5"], "gamma"),
        (["--type", "lambda"], "lr_lambda"),
        (["--type", "lambda", "--param", "lr_lambda=__import__('os')"], "'__import__' is not allowed"),
        (["--type", "lambda", "--param", "lr_lambda=epoch.real"], "lr_lambda"),
        (["--type", "steplr,cosine", "--param", "gamma=0.5"], "key each --param by its type"),
        (["--type", "steplr", "--param", "cosine.T_max=3"], "not among --type"),
        (["--type", "steplr", "--param", "gamma"], "key=value"),
        (["--param", "gamma=0.5"], "--param needs --type"),
        ([], "give --type"),
        (["--type", "onecycle", "--param", "total_steps=2"], "total_steps"),
    ],
)
@pytest.mark.parametrize("mode", ["--preview", "train"])
def test_errors_exit_2_naming_the_key_before_anything_is_written(runner, tmp_path, request, args, fragment, mode):
    if mode == "--preview":
        request.getfixturevalue("no_data")
    result = invoke(runner, tmp_path, *args, *([mode] if mode == "--preview" else []))
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output and result.stderr.startswith("error:")
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_config_errors_name_the_file(runner, write_config, tiny_sweep, tmp_path):
    path = write_config({**tiny_sweep, "trian": {}})
    result = invoke(runner, tmp_path, str(path), "--type", "steplr")
    assert result.exit_code == 2 and f"{path}: trian: unknown key" in result.stderr


def test_side_by_side_schedules_share_initial_weights_and_batch_order(runner, tiny, tmp_path):
    # plateau (patience 10) never acts in 2 epochs: it must train exactly like a constant LR
    result = invoke(runner, tmp_path, str(tiny), "--type", "none,plateau", "--epochs", "2", "--lr", str(LR), "--json")
    assert result.exit_code == 0, result.output
    none, plateau = sorted(json.loads(result.stdout)["variants"], key=lambda r: r["scheduler"])
    for key in ("train_loss", "val_loss", "val_acc"):
        assert plateau[key] == pytest.approx(none[key], rel=1e-5), key
