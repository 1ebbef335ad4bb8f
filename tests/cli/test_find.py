"""`lrsweep find` through the CLI: the report, the run directory, --json, and --write-grid into `lrsweep grid`."""

import csv
import json

import pytest
import yaml
from helpers import ROOT

from lrsweep.api.rangetest import MODES, SUGGESTERS, replace_lr
from lrsweep.cli import app
from lrsweep.cli.find import Mode, Suggester

QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
FAST = ["--steps", "40", "--start", "1e-4", "--device", "cpu"]  # about a second on the bundled sample


def only_run_dir(out):
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert len(dirs) == 1
    return dirs[0]


def test_find_prints_the_suggestions_and_writes_the_run_directory(runner, tmp_path):
    result = runner.invoke(app, ["find", QUICKSTART, *FAST, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    for word in ("steep (s)", "valley (v) ★", "min10 (m)", "divergence (x)", "LR range test"):
        assert word in result.stdout
    run = only_run_dir(tmp_path / "runs")
    assert run.name.startswith("quickstart-find-")
    rows = list(csv.DictReader((run / "find.csv").open()))
    assert list(rows[0]) == ["step", "lr", "loss", "smoothed"]
    saved = json.loads((run / "find.json").read_text())
    assert len(rows) == saved["steps_run"] == len(saved["points"]) and 5 < len(rows) <= 40
    assert [float(r["lr"]) for r in rows] == sorted(float(r["lr"]) for r in rows)
    assert not (run / "plots").exists()  # drawn only with --plot (or later by lrsweep plot)
    assert yaml.safe_load((run / "config.yaml").read_text())["name"] == "quickstart"
    assert json.loads((run / "meta.json").read_text())["versions"]["torch"]


def test_find_json_prints_only_json_and_plot_draws_the_curve(runner, tmp_path):
    result = runner.invoke(
        app,
        ["find", QUICKSTART, *FAST, "--val", "--suggest", "steep", "--json", "--plot", "--out", str(tmp_path / "runs")],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    png = only_run_dir(tmp_path / "runs") / "plots" / "find.png"
    assert report["plot_file"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Plot: {png}" in result.stderr  # stdout holds only the JSON
    assert set(report["suggestions"]) == {"steep", "valley", "min10"}
    assert report["chosen"] == "steep" and report["suggested_lr"] == report["suggestions"]["steep"]
    assert report["settings"]["use_val"] is True and report["settings"]["steps"] == 40
    assert report["stopped"] in ("completed", "diverged", "nonfinite")
    assert report["run_dir"] == str(only_run_dir(tmp_path / "runs"))


def test_write_grid_output_validates_and_runs(runner, tmp_path):
    tuned = tmp_path / "tuned.yaml"
    found = runner.invoke(
        app, ["find", QUICKSTART, *FAST, "--write-grid", str(tuned), "--json", "--out", str(tmp_path / "runs")]
    )
    assert found.exit_code == 0, found.output
    report = json.loads(found.stdout)
    grid = report["grid"]
    assert len(grid) == 7 and grid == sorted(grid) and grid[0] < report["suggested_lr"] < grid[-1]
    if report["divergence_lr"] is not None:
        assert grid[-1] < report["divergence_lr"]
    text = tuned.read_text()
    assert text.startswith("# The quick start") and "bundled with lrsweep" in text  # the user's comments stay
    assert yaml.safe_load(text)["lr"] == grid
    validated = runner.invoke(app, ["validate", str(tuned), "--device", "cpu"])
    assert validated.exit_code == 0, validated.output
    swept = runner.invoke(
        app,
        [
            "grid",
            str(tuned),
            "--device",
            "cpu",
            "--set",
            "train.epochs=1",
            "--set",
            "retrain=false",
            "--set",
            "data.batch_size=512",
            "--json",
            "--out",
            str(tmp_path / "grid"),
        ],
    )  # fast
    assert swept.exit_code == 0, swept.output
    assert sorted(r["lr"] for r in json.loads(swept.stdout)["variants"]) == grid


def test_write_grid_with_overrides_writes_the_overridden_config(runner, write_config, tiny_sweep, tmp_path):
    path = write_config(tiny_sweep)
    tuned = tmp_path / "tuned.yaml"
    result = runner.invoke(
        app,
        [
            "find",
            str(path),
            "--steps",
            "60",
            "--start",
            "1e-4",
            "--set",
            "data.batch_size=16",
            "--write-grid",
            str(tuned),
            "--quiet",
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    written = yaml.safe_load(tuned.read_text())
    assert written["data"]["batch_size"] == 16 and len(written["lr"]) == 7
    assert "data.batch_size=16" in tuned.read_text().splitlines()[0]


def test_a_config_that_sweeps_more_than_the_lr_gets_notes(runner, write_config, tiny_sweep, tmp_path):
    sweep = {k: v for k, v in tiny_sweep.items() if k != "seed"}
    path = write_config({**sweep, "seeds": [3, 4], "optimizer": [{"name": "sgd"}, {"name": "adam"}]})
    result = runner.invoke(
        app, ["find", str(path), "--steps", "30", "--start", "1e-4", "--json", "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any("first of 2 optimizers: sgd" in n for n in notes) and any("first of 2 seeds: 3" in n for n in notes)


def test_the_scheduler_note_only_for_configs_with_a_scheduler(tiny_sweep):
    from lrsweep.api.rangetest import scope_notes
    from lrsweep.config import parse_config

    assert not any("scheduler" in n for n in scope_notes(parse_config(tiny_sweep)))
    assert not any("scheduler" in n for n in scope_notes(parse_config({**tiny_sweep, "scheduler": "none"})))
    noted = scope_notes(parse_config({**tiny_sweep, "scheduler": {"type": "cosine"}}))
    assert any("scheduler does not apply" in n for n in noted)


def test_interrupt_exits_130_and_writes_nothing(runner, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lrsweep.select.range_test.range_test", interrupted)
    result = runner.invoke(app, ["find", QUICKSTART, *FAST, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--start", "0"], "start_lr must be"),
        (["--start", "1", "--end", "0.1"], "end_lr must be"),
        (["--start", "1", "--end", "1e6", "--steps", "20"], "lower the start LR (--start)"),
        (["--set", "optimizer.nme=sgd"], "optimizer.nme"),
    ],
)
def test_bad_usage_exits_2_with_a_message(runner, tmp_path, args, fragment):
    result = runner.invoke(app, ["find", QUICKSTART, "--device", "cpu", *args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing written for a test that could not run


def test_replace_lr_keeps_comments_and_replaces_block_values():
    text = "name: a  # the name\nlr:\n  logspace: {start: 0.1, stop: 1, num: 3}\n# train it\ntrain: {epochs: 1}\n"
    edited = replace_lr(text, [0.01, 0.1], "grid note")
    assert edited == "name: a  # the name\nlr: [0.01, 0.1]   # grid note\n# train it\ntrain: {epochs: 1}\n"
    flow = replace_lr("lr: [1, 2]  # old list\nseed: 0\n", [0.5], "new")
    assert flow == "lr: [0.5]   # new\nseed: 0\n"
    assert replace_lr("seed: 0", [0.5], "added") == "seed: 0\nlr: [0.5]   # added\n"


def test_show_reads_a_range_test_directory_back(runner, tmp_path):
    found = runner.invoke(app, ["find", QUICKSTART, *FAST, "--json", "--out", str(tmp_path / "runs")])
    assert found.exit_code == 0, found.output
    report = json.loads(found.stdout)
    shown = runner.invoke(app, ["show", report["run_dir"], "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["suggestions"] == report["suggestions"]
    text = runner.invoke(app, ["show", report["run_dir"]])
    assert text.exit_code == 0 and "valley" in text.stdout and "LR range test" in text.stdout


def test_the_mode_and_suggest_choices_are_the_finders():
    assert [m.value for m in Mode] == list(MODES)
    assert [s.value for s in Suggester] == list(SUGGESTERS)  # in display order
