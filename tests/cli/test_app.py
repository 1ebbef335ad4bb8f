"""The app as a whole: -h, shell completion, device options, and each reading command on each kind of folder."""

from __future__ import annotations

import json
import sys

import pytest
from helpers import ROOT
from typer.testing import CliRunner

from lrsweep.cli import app

QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
FAST_FIND = ["--steps", "30", "--start", "1e-4", "--device", "cpu"]


def test_dash_h_is_help_everywhere(runner):
    for args in (["-h"], ["grid", "-h"], ["show", "-h"]):
        result = runner.invoke(app, args, prog_name="lrsweep")
        assert result.exit_code == 0, (args, result.output)
        assert "Usage: lrsweep" in result.output


def test_shell_completion_is_offered_and_completes_commands_and_options(runner):
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="lrsweep")
    assert shown.exit_code == 0, shown.output
    assert "complete -o default -F _lrsweep_completion lrsweep" in shown.output
    assert "--install-completion" in runner.invoke(app, ["-h"], prog_name="lrsweep").output
    for words, cword, expected in (("lrsweep gr", "1", "grid"), ("lrsweep grid --res", "2", "--resume")):
        done = CliRunner(env={"_LRSWEEP_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}).invoke(
            app, [], prog_name="lrsweep"
        )
        assert done.output.split() == [expected]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--devices", ""], "--devices is empty"),
        (["--devices", " , "], "--devices is empty"),
        (["--devices", "cpu,cpu", "--device", "cuda"], "--device cuda and --devices cpu,cpu exclude each other"),
    ],
)
def test_device_options_that_make_no_sense_are_refused(runner, write_config, tiny_sweep, tmp_path, args, fragment):
    result = runner.invoke(app, ["grid", str(write_config(tiny_sweep)), "--out", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2 and fragment in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_changed_config_on_resume_names_the_keys_that_differ(runner, write_config, tiny_sweep, tmp_path):
    sweep = {**tiny_sweep, "train": {"epochs": 1}, "lr": [0.1], "retrain": False}
    first = runner.invoke(app, ["grid", str(write_config(sweep)), "--out", str(tmp_path / "runs"), "--quiet"])
    assert first.exit_code == 0, first.output
    run = next((tmp_path / "runs").iterdir())
    changed = write_config({**sweep, "train": {"epochs": 3}, "lr": [0.1, 0.2]}, "changed.yaml")
    result = runner.invoke(app, ["grid", str(changed), "--resume", str(run)])
    assert result.exit_code == 2
    assert "changed: lr: [0.1] -> [0.1, 0.2]; train.epochs: 1 -> 3" in result.stderr


@pytest.fixture(scope="module")
def find_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("find") / "runs"
    result = CliRunner().invoke(app, ["find", QUICKSTART, *FAST_FIND, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return next(out.iterdir())


def test_plot_on_a_find_directory_draws_the_range_test(runner, find_run):
    assert not (find_run / "plots").exists()  # find draws it only with --plot
    result = runner.invoke(app, ["plot", str(find_run)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(find_run / "plots" / "find.png")]
    assert (find_run / "plots" / "find.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (find_run / "plots").iterdir()) == ["find.png"]  # no empty sweep figures


def test_compare_refuses_a_find_directory_clearly(runner, find_run):
    result = runner.invoke(app, ["compare", str(find_run), str(find_run)])
    assert result.exit_code == 2 and "is a range test (lrsweep find), not a sweep" in result.stderr


def test_show_on_a_preview_prints_it_and_compare_refuses_it(runner, tmp_path):
    made = runner.invoke(
        app,
        ["schedule", "--type", "steplr", "--preview", "--epochs", "4", "--lr", "0.1", "--out", str(tmp_path / "runs")],
    )
    assert made.exit_code == 0, made.output
    folder = next((tmp_path / "runs").iterdir())
    shown = runner.invoke(app, ["show", str(folder)])
    assert shown.exit_code == 0, shown.output
    assert "LR preview: lr=0.1, 4 epochs" in shown.stdout
    assert json.loads(runner.invoke(app, ["show", str(folder), "--json"]).stdout)["epochs"] == 4
    refused = runner.invoke(app, ["compare", str(folder), str(folder)])
    assert refused.exit_code == 2 and "is a schedule preview" in refused.stderr


def test_find_plot_without_matplotlib_is_refused_before_the_test(runner, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    result = runner.invoke(app, ["find", QUICKSTART, *FAST_FIND, "--plot", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "plots need matplotlib, which is not installed: pip install 'lrsweep[plot]'" in result.stderr
    assert not (tmp_path / "runs").exists()
    result = runner.invoke(app, ["find", QUICKSTART, *FAST_FIND, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output  # no plot asked for: matplotlib not needed
    assert "matplotlib" not in result.stderr
