"""`lrsweep show`, `compare` and `plot`: tables and JSON rebuilt from run directories alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT
from typer.testing import CliRunner

from lrsweep.cli import app

TINY = {  # conftest's tiny_sweep, at module scope so one sweep serves several tests
    "name": "tiny",
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
    "train": {"epochs": 1},
    "select": {"metric": "val_loss"},
    "retrain": False,
}


@pytest.fixture(scope="module")
def cli():
    return CliRunner(env={"COLUMNS": "200"})


def _sweep(cli, tmp_path_factory, name, **changes) -> Path:
    folder = tmp_path_factory.mktemp(name)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({**TINY, "name": name, **changes}))
    result = cli.invoke(app, ["grid", str(config), "--out", str(folder / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return next((folder / "runs").iterdir())


@pytest.fixture(scope="module")
def seed_run(cli, tmp_path_factory) -> Path:
    """3 seeds; lr 0.1 and 0.10001 give the same result up to seed noise, so the best is tied."""
    return _sweep(cli, tmp_path_factory, "seeds", seeds=[0, 1, 2], lr=[0.01, 0.1, 0.10001])


@pytest.fixture(scope="module")
def single_run(cli, tmp_path_factory) -> Path:
    return _sweep(cli, tmp_path_factory, "single", seed=0, lr=[0.1, 1.0])


def test_show_prints_the_seed_table_with_mean_std_and_the_tie(cli, seed_run):
    result = cli.invoke(app, ["show", str(seed_run)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert str(seed_run) in out
    assert "val_loss (min wins), mean ± std over seeds" in out and "0,1,2" in out and "★" in out
    assert "tied within seed noise" in out
    assert "Best: lr=0.1" in out  # 0.1 or 0.10001, both print as 0.1 at 3 significant digits


def test_show_json_is_the_written_summary_with_best_lr(cli, seed_run):
    result = cli.invoke(app, ["show", str(seed_run), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    written = json.loads((seed_run / "summary.json").read_text())
    assert shown["best"] == written["best"] and shown["variants"] == written["variants"]
    assert shown["best"]["lr"] in (0.1, 0.10001) and shown["best"]["n"] == 3
    assert shown["best"]["tied_with_runner_up"] is True
    assert shown["meta"]["fingerprint"] == json.loads((seed_run / "meta.json").read_text())["fingerprint"]
    assert shown["run_dir"] == str(seed_run)
    group = next(g for g in shown["groups"] if g["lr"] == shown["best"]["lr"])
    assert group["seeds"] == [0, 1, 2] and group["std"] > 0


def test_show_rebuilds_from_status_and_metrics_files(cli, seed_run, tmp_path):
    import shutil

    copy = tmp_path / seed_run.name
    shutil.copytree(seed_run, copy)
    expected = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").unlink()
    rebuilt = json.loads(cli.invoke(app, ["show", str(copy), "--json"]).stdout)
    assert rebuilt["best"] == expected["best"]
    assert sorted(rebuilt["variants"], key=lambda r: r["id"]) == sorted(expected["variants"], key=lambda r: r["id"])


def test_show_of_a_run_in_progress_counts_what_is_missing(cli, seed_run, tmp_path):
    import shutil

    copy = tmp_path / seed_run.name
    shutil.copytree(seed_run, copy)
    (copy / "summary.json").unlink()
    for variant in sorted((copy / "variants").iterdir())[:2]:  # not started yet
        shutil.rmtree(variant)
    result = cli.invoke(app, ["show", str(copy)])
    assert result.exit_code == 0, result.output
    assert "2 variant(s) unfinished" in result.stdout and f"lrsweep grid --resume {copy}" in result.stdout
    shown = json.loads(cli.invoke(app, ["show", str(copy), "--json"]).stdout)
    assert not shown["complete"] and shown["status_counts"]["pending"] == 2


def test_show_of_a_live_run_with_a_diverged_variant_does_not_blame_the_learning_rates(cli, single_run, tmp_path):
    import shutil

    copy = tmp_path / single_run.name
    shutil.copytree(single_run, copy)
    (copy / "summary.json").unlink()
    first, second = sorted((copy / "variants").iterdir())
    status = json.loads((first / "status.json").read_text())
    (first / "status.json").write_text(json.dumps({**status, "status": "diverged"}))
    (second / "status.json").unlink()  # still training: its metrics so far, no status yet
    result = cli.invoke(app, ["show", str(copy)])
    assert result.exit_code == 0, result.output
    assert "try smaller learning rates" not in result.stdout and "finite score" not in result.stdout
    assert "No variant has finished yet: 1 of 2 still training or waiting" in result.stdout


def test_show_prefers_status_files_newer_than_the_summary(cli, single_run, tmp_path):
    import shutil

    copy = tmp_path / single_run.name
    shutil.copytree(single_run, copy)
    status_path = next((copy / "variants").iterdir()) / "status.json"
    status = json.loads(status_path.read_text())
    status["status"] = "interrupted"  # e.g. a resume that is running right now
    status_path.write_text(json.dumps(status))
    shown = json.loads(cli.invoke(app, ["show", str(copy), "--json"]).stdout)
    assert shown["status_counts"].get("interrupted") == 1 and not shown["complete"]


def test_show_refuses_what_is_not_a_run_directory(cli, tmp_path):
    result = cli.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.stderr
    result = cli.invoke(app, ["show", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "not found" in result.stderr


def test_show_does_not_import_torch(seed_run):
    code = (  # the real entry ends with os._exit (lrsweep.cli.exit): the check runs just before it
        "import os, sys, runpy; sys.argv = ['lrsweep', 'show', sys.argv[1]]\n"
        "def check(): print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', flush=True)\n"
        "exit_now = os._exit\n"
        "os._exit = lambda code: (check(), exit_now(code))\n"
        "try:\n    runpy.run_module('lrsweep', run_name='__main__')\nexcept SystemExit:\n    check()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(seed_run)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH", out.stderr
    assert "Best: lr=" in out.stdout


def test_compare_puts_runs_side_by_side(cli, seed_run, single_run):
    result = cli.invoke(app, ["compare", str(seed_run), str(single_run)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Best of each run" in out and seed_run.name in out and single_run.name in out
    assert "Score at each learning rate" in out
    data = json.loads(cli.invoke(app, ["compare", str(seed_run), str(single_run), "--json"]).stdout)
    assert [r["label"] for r in data["runs"]] == [seed_run.name, single_run.name]
    assert data["runs"][0]["best"]["n"] == 3
    assert [line["lr"] for line in data["by_lr"]] == [0.01, 0.1, 0.10001, 1.0]
    at = {line["lr"]: line["runs"] for line in data["by_lr"]}
    assert at[0.01][single_run.name] is None  # that run has no lr=0.01
    assert at[1.0][seed_run.name] is None
    assert at[0.1][single_run.name]["mean"] == pytest.approx(
        next(r["val_loss"] for r in json.loads((single_run / "summary.json").read_text())["variants"] if r["lr"] == 0.1)
    )


def test_compare_needs_two_runs(cli, single_run):
    result = cli.invoke(app, ["compare", str(single_run)])
    assert result.exit_code == 2 and "two or more" in result.stderr


def test_plot_writes_pngs_and_prints_their_names(cli, seed_run):
    result = cli.invoke(app, ["plot", str(seed_run)])
    assert result.exit_code == 0, result.output
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name for p in paths] == ["metric_vs_lr.png", "loss_curves.png", "lr_schedule.png"]
    for path in paths:
        assert path.parent == seed_run / "plots"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_grid_plot_makes_the_plots_at_the_end(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "lr": [0.1, 1.0]}))
    result = cli.invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs"), "--plot"])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    assert "Plots:" in result.stdout and str(run / "plots" / "metric_vs_lr.png") in result.stdout
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        "loss_curves.png",
        "lr_schedule.png",
        "metric_vs_lr.png",
    ]


def test_grid_plot_without_matplotlib_is_refused_before_training(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = cli.invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs"), "--plot"])
    assert result.exit_code == 2 and "pip install 'lrsweep[plot]'" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_meta_records_when_where_and_on_what_it_ran(seed_run):
    meta = json.loads((seed_run / "meta.json").read_text())
    for key in ("started", "finished", "host", "device", "command", "fingerprint"):
        assert meta[key], key
    assert meta["outcome"] == "finished" and meta["finished"] >= meta["started"]
    assert meta["versions"]["torch"] and "cuda" in meta["versions"]
    assert isinstance(meta["command"], list)  # sys.argv: checked in a real process by test_resume
    if "git_sha" in meta:  # run inside a git checkout
        assert len(meta["git_sha"]) == 40 and isinstance(meta["git_dirty"], bool)


def test_seeds_can_replace_a_configs_single_seed_from_the_command_line(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "seed": 0, "lr": [0.1]}))
    result = cli.invoke(app, ["validate", str(config), "--json", "--set", "seeds=[0,1,2]", "--set", "seed=null"])
    assert result.exit_code == 0, result.output
    assert [v["seed"] for v in json.loads(result.stdout)["variants"]] == [0, 1, 2]
    alone = cli.invoke(app, ["validate", str(config), "--json", "--set", "seeds=[0,1,2]"])  # replaces `seed`
    assert [v["seed"] for v in json.loads(alone.stdout)["variants"]] == [0, 1, 2]


def test_show_after_a_forced_smaller_grid_ignores_leftover_variants(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "lr": [0.1, 1.0]}))
    assert cli.invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs"), "--quiet"]).exit_code == 0
    run = next((tmp_path / "runs").iterdir())
    config.write_text(yaml.safe_dump({**TINY, "lr": [0.1]}))
    assert cli.invoke(app, ["grid", str(config), "--resume", str(run), "--force", "--quiet"]).exit_code == 0
    shown = json.loads(cli.invoke(app, ["show", str(run), "--json"]).stdout)
    assert [r["lr"] for r in shown["variants"]] == [0.1] and shown["complete"]
    (run / "summary.json").unlink()
    rebuilt = json.loads(cli.invoke(app, ["show", str(run), "--json"]).stdout)
    assert [r["lr"] for r in rebuilt["variants"]] == [0.1] and rebuilt["complete"]


# ---- the bundled tabular config: ranked by val_f1 at the best epoch, early stopping, three batch sizes (sqrt rule)

F1_COLUMNS = ("batch_size", "base_lr", "best_epoch", "val_f1", "val_auroc")


@pytest.fixture(scope="module")
def f1_run(cli, tmp_path_factory):
    """configs/tabular-f1.yaml as shipped, shortened (5 epochs, 3 LRs): the grid's --json and its run directory."""
    out = tmp_path_factory.mktemp("f1") / "runs"
    lrs = "lr={logspace: {start: 0.01, stop: 1.0, num: 3}}"
    config = str(ROOT / "configs" / "tabular-f1.yaml")
    result = cli.invoke(app, ["grid", config, "--out", str(out), "--set", "train.epochs=5", "--set", lrs, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), next(out.iterdir())


def test_the_tabular_f1_config_runs_end_to_end_and_its_json_carries_the_new_columns(f1_run):
    summary, run = f1_run
    assert (summary["metric"], summary["direction"], summary["at"]) == ("val_f1", "max", "best")
    assert {r["batch_size"] for r in summary["variants"]} == {16, 64, 256} and len(summary["variants"]) == 9
    for row in summary["variants"]:
        assert all(key in row for key in F1_COLUMNS) and 1 <= row["best_epoch"] <= row["epochs_run"] <= 5
        status = json.loads((run / "variants" / row["id"] / "status.json").read_text())
        assert status["status"] == "done" and "stuck" in status and "stopped_early" in status
        header = (run / "variants" / row["id"] / "metrics.csv").read_text().splitlines()[0]
        assert header.endswith("seconds,val_f1,val_auroc")
    header = (run / "summary.csv").read_text().splitlines()[0].split(",")
    assert all(column in header for column in F1_COLUMNS)
    best, retrain = summary["best"], summary["retrain"]
    assert retrain["status"] == "done" and retrain["epochs_run"] == best["stop_epoch"]
    assert 0 <= retrain["test_f1"] <= 1 and 0 <= retrain["test_auroc"] <= 1
    retrained = json.loads((run / "retrain" / "status.json").read_text())
    assert retrained["stop_epoch"] == best["stop_epoch"] and retrained["test_f1"] == retrain["test_f1"]
    scaling = summary["batch_sizes"]
    assert scaling["rule"] == "sqrt" and scaling["expected_exponent"] == 0.5 and len(scaling["best"]) == 3


def test_show_and_compare_and_plot_carry_the_new_columns(cli, f1_run, single_run, tmp_path):
    summary, run = f1_run
    shown = cli.invoke(app, ["show", str(run)])
    assert shown.exit_code == 0, shown.output
    for text in ("ranked by val_f1 (maximum wins) at each variant's best epoch", "batch_size", "best_ep", "val_f1"):
        assert text in shown.stdout, text
    assert "Best lr per batch size: 16:" in shown.stdout and "Retrained on train+val for" in shown.stdout
    as_json = json.loads(cli.invoke(app, ["show", str(run), "--json"]).stdout)
    assert as_json["variants"] == summary["variants"] and as_json["batch_sizes"] == summary["batch_sizes"]
    compared = cli.invoke(app, ["compare", str(run), str(single_run)])
    assert compared.exit_code == 0, compared.output
    assert "batch size" in compared.stdout and "test_f1" in compared.stdout and "val_f1 (best epoch)" in compared.stdout
    data = json.loads(cli.invoke(app, ["compare", str(run), str(single_run), "--json"]).stdout)
    assert {line["batch_size"] for line in data["by_lr"]} == {16, 64, 256, None}
    if pytest.importorskip("matplotlib"):
        plotted = cli.invoke(app, ["plot", str(run)])
        assert plotted.exit_code == 0, plotted.output
        assert "metric_curves.png" in plotted.stdout and (run / "plots" / "metric_curves.png").exists()
