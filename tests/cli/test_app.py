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


def test_completion_takes_the_shell_as_given_when_no_interactive_shell_runs_it(runner, monkeypatch):
    import shellingham

    def undetectable(*args, **kwargs):  # as under setsid, CI, or a parent that is no shell
        raise shellingham.ShellDetectionFailure()

    monkeypatch.setattr(shellingham, "detect_shell", undetectable)
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="lrsweep")
    assert shown.exit_code == 0, shown.output
    assert "complete -o default -F _lrsweep_completion lrsweep" in shown.output
    guess = runner.invoke(app, ["--show-completion"], prog_name="lrsweep")
    assert guess.exit_code == 2 and "--show-completion bash" in guess.output and "Shell  not" not in guess.output
    other = runner.invoke(app, ["--show-completion", "tcsh"], prog_name="lrsweep")
    assert other.exit_code == 2 and "bash, zsh, fish, powershell" in other.output


COMMANDS = ("grid", "find", "tune", "schedule", "validate", "show", "compare", "plot", "merge", "datasets", "schema")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_conventional_metavars(runner, command):
    import re

    out = runner.invoke(app, [command, "--help"], prog_name="lrsweep").output
    assert not re.search(r"<(bool|str|int|float|path|int range|float range|list\[\w+\])>", out), out
    assert "{" not in out.splitlines()[1], out  # the usage line names its arguments in capitals: RUN_DIR


def test_help_metavars_say_what_to_type_and_descriptions_rewrap(runner):
    import re

    grid = runner.invoke(app, ["grid", "--help"], prog_name="lrsweep").output
    assert "KEY=VALUE" in grid and "[local|ray]" in grid and "INTEGER" in grid and "CONFIG_PATH" in grid
    assert re.search(r"--force\s+With --resume", grid), grid  # a flag takes no value: none shown
    validate = runner.invoke(app, ["validate", "--help"], prog_name="lrsweep").output  # 200 columns
    assert "model.name like package.module:function is imported and called, here as in a run" in validate


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
    result = runner.invoke(app, ["grid", "--resume", str(run), "--set", "train.epochs=4"])  # no config: --set alone
    assert result.exit_code == 2
    assert "changed: train.epochs: 1 -> 4)" in result.stderr and "its grid" not in result.stderr


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
