"""`lrsweep tune` through the CLI: --json, the tables and verdict, show and plot of a tune run, exit codes."""

import json

import pytest

from lrsweep.cli import app
from lrsweep.sweep.runner import Interrupted


@pytest.fixture
def task_file(write_config, tiny_sweep):
    raw = {k: v for k, v in tiny_sweep.items() if k not in ("seed", "lr")}
    return write_config({**raw, "seeds": [0, 1], "train": {"epochs": 2}, "retrain": False})


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One tune run shared by the tests that only read it."""
    import yaml
    from typer.testing import CliRunner

    from tests.conftest import tiny_sweep

    folder = tmp_path_factory.mktemp("tuned")
    raw = {k: v for k, v in tiny_sweep.__wrapped__().items() if k not in ("seed", "lr")}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({**raw, "seeds": [0, 1], "train": {"epochs": 2}, "retrain": False}))
    result = CliRunner().invoke(app, ["tune", str(path), "--budget", "8", "--json", "--out", str(folder / "runs")])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_the_pick_the_band_the_cost_and_the_stages(tuned):
    assert set(tuned) >= {"best", "band", "cost", "stages", "run_dir"}
    assert tuned["band"]["low"] <= tuned["best"]["lr"] <= tuned["band"]["high"]
    assert set(tuned["cost"]) >= {"trainings", "variant_epochs", "range_test_steps", "seconds"}
    assert tuned["pack_costs"]["k"] >= 2 and tuned["fidelity"]["mode"] in ("prefix", "full")
    assert tuned["cost"]["trainings"] <= 8
    assert [s["stage"] for s in tuned["stages"]][:2] == ["range", "scout"]


def test_show_prints_the_stage_tables_and_the_verdict(runner, tuned):
    result = runner.invoke(app, ["show", tuned["run_dir"]])
    assert result.exit_code == 0, result.output
    for word in ("range test", "scout:", "final:", f"lr {tuned['best']['lr']:.3g} · band", "trainings"):
        assert word in result.stdout
    shown = json.loads(runner.invoke(app, ["show", tuned["run_dir"], "--json"]).stdout)
    assert shown["best"] == tuned["best"] and shown["cost"] == tuned["cost"]


def test_plot_writes_the_tune_figure(runner, tuned):
    pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["plot", tuned["run_dir"]])
    assert result.exit_code == 0, result.output
    png = next(line for line in result.stdout.splitlines() if line.endswith("tune.png"))
    assert open(png, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_terminal_gets_tables_and_one_verdict_line(runner, task_file, tmp_path):
    result = runner.invoke(app, ["tune", str(task_file), "--budget", "8", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("lr ") and "trainings" in line]
    assert len(verdicts) == 1 and "band" in verdicts[0]
    assert "Results:" in result.stdout


def test_interrupted_exits_130_with_a_resume_hint_and_resumes(runner, task_file, tmp_path, monkeypatch):
    import lrsweep.sweep.runner as runner_module

    real = runner_module.run_sweep

    def interrupted(config, *args, **kwargs):
        if len(config.seeds) > 1:
            raise Interrupted({})
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner_module, "run_sweep", interrupted)
    result = runner.invoke(app, ["tune", str(task_file), "--budget", "8", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 130
    assert "lrsweep tune --resume" in result.output
    run_dir = next((tmp_path / "runs").iterdir())
    monkeypatch.setattr(runner_module, "run_sweep", real)
    resumed = runner.invoke(app, ["tune", "--resume", str(run_dir), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["best"] is not None


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["tune"], "CONFIG"),
        (["tune", "missing.yaml"], "missing.yaml"),
        (["tune", "{cfg}", "--budget", "0.5"], "budget"),
        (["tune", "--resume", "{tmp}"], "{tmp}"),
    ],
)
def test_bad_usage_exits_2_with_a_message(runner, task_file, tmp_path, args, fragment):
    args = [a.format(cfg=task_file, tmp=tmp_path) for a in args]
    fragment = fragment.format(tmp=tmp_path)
    (tmp_path / "config.yaml").write_text("name: x\n")
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "runs")] if "--resume" not in args else args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_several_batch_sizes_get_an_lr_each_in_one_run_directory(runner, task_file, tmp_path):
    out = tmp_path / "runs"
    args = [
        "tune",
        str(task_file),
        "--budget",
        "7",
        "--out",
        str(out),
        "--set",
        "data.batch_size=[8, 32]",
        "--set",
        "seeds=[0]",
    ]
    result = runner.invoke(app, [*args, "--set", "lr_scaling=sqrt", "--json"])
    assert result.exit_code == 0, result.output
    tuned = json.loads(result.stdout)
    assert list(tuned["batch_sizes"]) == ["8", "32"]
    picks = {size: part["best"]["lr"] for size, part in tuned["batch_sizes"].items()}
    for part in tuned["batch_sizes"].values():
        assert part["cost"]["trainings"] <= 7 and part["status"] == "finished"  # the budget is per batch size
    assert {s.get("batch_size") for s in tuned["stages"] if s["stage"] == "final"} == {8, 32}
    assert tuned["best"]["lr"] == picks[str(tuned["best"]["batch_size"])]
    assert tuned["scaling"]["rule"] == "sqrt"
    assert [e["lr"] for e in tuned["scaling"]["best"]] == [picks["8"], picks["32"]]
    shown = runner.invoke(app, ["show", tuned["run_dir"]])
    assert shown.exit_code == 0, shown.output
    for text in ("batch size 8", "batch size 32", "batch_size 8: lr", "batch_size 32: lr", "Best lr per batch size"):
        assert text in shown.stdout, text
    if pytest.importorskip("matplotlib"):
        plotted = runner.invoke(app, ["plot", tuned["run_dir"]])
        assert "tune-b8.png" in plotted.stdout and "tune-b32.png" in plotted.stdout


def test_time_budget_is_an_option_and_refused_below_its_minimum(task_file, tmp_path):
    from typer.testing import CliRunner

    help_text = CliRunner().invoke(app, ["tune", "--help"], env={"COLUMNS": "200"}).output
    assert "--time-budget" in help_text and "wall seconds" in help_text
    bad = CliRunner().invoke(app, ["tune", str(task_file), "--time-budget", "0", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--time-budget" in bad.output
