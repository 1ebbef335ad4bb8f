"""`lrsweep grid` and `lrsweep validate` through the CLI, as users and shell scripts call them."""

import json
import subprocess
import sys

import pytest

from lrsweep.cli import app
from lrsweep.cli.grid import Save
from lrsweep.config import SAVES


def run_dir_of(tmp_path):
    dirs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(dirs) == 1
    return dirs[0]


def test_grid_writes_the_run_directory_and_prints_the_table(runner, write_config, tiny_sweep, tmp_path):
    path = write_config(tiny_sweep)
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "Best: lr=" in result.stdout and "ranked by val_loss" in result.stdout
    run = run_dir_of(tmp_path)
    for name in ("config.yaml", "meta.json", "summary.csv", "summary.json"):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert len(summary["variants"]) == 3 and sum(r["best"] for r in summary["variants"]) == 1
    for row in summary["variants"]:
        metrics = (run / "variants" / row["id"] / "metrics.csv").read_text().splitlines()
        assert metrics[0] == "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds"
        assert len(metrics) == 1 + row["epochs_run"]
        assert json.loads((run / "variants" / row["id"] / "status.json").read_text())["status"] in ("done", "diverged")
    assert summary["retrain"]["status"] == "done" and 0 <= summary["retrain"]["test_acc"] <= 1
    assert (run / "retrain" / "metrics.csv").exists()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["versions"]["torch"] and meta["fingerprint"] and meta["outcome"] == "finished"


def test_grid_json_prints_only_the_summary(runner, write_config, tiny_sweep, tmp_path):
    path = write_config(tiny_sweep)
    result = runner.invoke(
        app,
        [
            "grid",
            str(path),
            "--out",
            str(tmp_path / "runs"),
            "--json",
            "--set",
            "train.epochs=1",
            "--set",
            "lr=[0.1, 0.2]",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {r["lr"] for r in summary["variants"]} == {0.1, 0.2}
    assert all(r["epochs_run"] == 1 for r in summary["variants"])
    assert summary["best"]["lr"] in (0.1, 0.2)


def test_diverged_variant_is_finished_and_the_sweep_goes_on(runner, write_config, tiny_sweep, tmp_path):
    path = write_config({**tiny_sweep, "lr": [0.1, 1e8], "retrain": False})
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    statuses = {r["lr"]: r["status"] for r in json.loads(result.stdout)["variants"]}
    assert statuses == {0.1: "done", 1e8: "diverged"}


def test_a_variants_time_is_one_number_everywhere_and_rows_read_the_same_in_grid_and_show(
    runner, write_config, tiny_sweep, tmp_path
):
    import csv

    path = write_config({**tiny_sweep, "lr": [0.01, 0.1, 1e8], "retrain": False, "train": {"epochs": 3}})
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = run_dir_of(tmp_path)
    table = {float(row["lr"]): float(row["seconds"]) for row in csv.DictReader(open(run / "summary.csv"))}
    for row in json.loads((run / "summary.json").read_text())["variants"]:
        folder = run / "variants" / row["id"]
        status = json.loads((folder / "status.json").read_text())
        epochs = [float(r["seconds"]) for r in csv.DictReader(open(folder / "metrics.csv"))]
        # one definition: the sum of its epochs' seconds (its share of each epoch of its pack)
        assert status["seconds"] == row["seconds"] == table[row["lr"]] == round(sum(epochs), 3), row["lr"]
        # one rendering: the progress line and the table show the same tenth of a second
        line = next(x for x in result.stderr.splitlines() if f"lr={row['lr']:.3g} " in x)
        assert line.endswith(f"  {row['seconds']:.1f}s"), line
        assert f"│ {row['seconds']:.1f} │" in result.stdout
    shown = runner.invoke(app, ["show", str(run)]).stdout
    diverged = [x for x in result.stdout.splitlines() if "diverged" in x]
    assert diverged and diverged == [x for x in shown.splitlines() if "diverged" in x]  # nan in grid, – in show
    assert "nan" not in diverged[0]


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"trian": {"epochs": 1}}, "trian: unknown key; did you mean 'train'"),
        ({"model": {"name": "mpl"}}, "model.name: unknown model 'mpl'; did you mean 'mlp'"),
        ({"optimizer": {"name": "sgdd"}}, "did you mean 'sgd'"),
        ({"data": {"name": "mnits"}}, "did you mean 'mnist'"),
        ({"lr": [0.1, -1]}, "lr[1]: learning rates must be finite and > 0, got lr=-1"),
        ({"lr": []}, "lr: the learning-rate grid is empty"),
        ({"train": {"epochs": "2"}}, "train.epochs: must be an integer, got '2'"),
        ({"device": "cuda:7"}, "device"),
        ({"scheduler": {"type": "steplrr"}}, "did you mean 'steplr'"),
    ],
)
@pytest.mark.parametrize("command", ["grid", "validate"])
def test_config_errors_exit_2_with_one_line_and_no_traceback(
    runner, write_config, tiny_sweep, tmp_path, change, fragment, command
):
    path = write_config({**tiny_sweep, **change})
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert str(path) in result.stderr or fragment == "device"
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_yaml_syntax_error_exits_2_with_line(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nlr: [0.1, 0.2\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "line" in result.stderr


def test_missing_config_file_exits_2(runner, tmp_path):
    result = runner.invoke(app, ["grid", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml" in result.stderr


def test_bad_set_override_exits_2(runner, write_config, tiny_sweep):
    path = write_config(tiny_sweep)
    result = runner.invoke(app, ["validate", str(path), "--set", "train.epoch=3"])
    assert result.exit_code == 2 and "train.epoch" in result.stderr and "did you mean 'epochs'" in result.stderr


def test_regression_with_val_acc_is_refused_before_training(runner, write_config, tmp_path):
    path = write_config(
        {"data": {"name": "synthetic-regression"}, "model": "linear", "select": {"metric": "val_acc"}, "device": "cpu"}
    )
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "select.metric" in result.stderr


def test_validate_prints_the_plan(runner, write_config, tiny_sweep):
    path = write_config({**tiny_sweep, "seeds": [0, 1], "seed": None} if False else {**tiny_sweep})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 variants" in result.stdout and "'train': 240" in result.stdout
    data = json.loads(runner.invoke(app, ["validate", str(path), "--json"]).stdout)
    assert len(data["variants"]) == 3 and data["sizes"] == {"train": 240, "val": 60, "test": 100}


def test_python_dash_m_works_like_the_console_script():
    result = subprocess.run([sys.executable, "-m", "lrsweep", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "grid" in result.stdout and "validate" in result.stdout


def test_help_lists_every_command_and_version_prints(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("grid", "validate", "schedule", "find", "show", "compare", "plot", "merge"):
        assert command in result.stdout
    from lrsweep import __version__

    assert runner.invoke(app, ["--version"]).stdout.strip() == f"lrsweep {__version__}"


@pytest.mark.parametrize("save, kept", [(None, {"retrain": 1}), ("all", {"retrain": 1, "variants": 2}), ("none", {})])
def test_save_keeps_the_weights_asked_for(runner, write_config, tiny_sweep, tmp_path, save, kept):
    from collections import Counter

    path = write_config({**tiny_sweep, "lr": [0.1, 0.2], "train": {"epochs": 1}})
    result = runner.invoke(
        app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--quiet", *(["--save", save] if save else [])]
    )
    assert result.exit_code == 0, result.output
    run = run_dir_of(tmp_path)
    assert Counter(p.relative_to(run).parts[0] for p in run.rglob("model.pt")) == kept


def test_the_save_choices_are_the_configs():
    assert [s.value for s in Save] == list(SAVES)
