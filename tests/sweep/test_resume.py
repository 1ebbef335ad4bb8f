"""Crash safety and resume: a real SIGTERM to a real sweep, then --resume, against an uninterrupted run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from helpers import ROOT

from lrsweep.cli import app

SLOW_SWEEP = {  # a few seconds of training in a subprocess: time to interrupt it mid-way
    "name": "slow",
    "seed": 0,
    "device": "cpu",
    "engine": "sequential",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 800,
        "n_features": 16,
        "n_classes": 3,
        "n_test": 100,
        "val_fraction": 0.2,
        "batch_size": 16,
    },
    "model": {"name": "mlp", "hidden": [32]},
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "train": {"epochs": 2},
    "retrain": False,
}


def _start(config, out):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "lrsweep", "grid", str(config), "--out", str(out), "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_a_variant_mid_way(proc, out, timeout=60.0):
    """The run directory, once one variant has finished and another is training (it has epoch rows, no status):
    a signal then lands inside a variant, never in the instant between two."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        variants = list(out.glob("*/variants/*"))
        done = [v for v in variants if (v / "status.json").exists()]
        running = [v for v in variants if (v / "metrics.csv").exists() and not (v / "status.json").exists()]
        if done and running:
            return done[0].parents[1]
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no variant was mid-way in time")


def _check_every_file_parses(run):
    assert not list(run.rglob("*.tmp")), "a temporary file was left behind"
    for path in run.rglob("*.json"):
        json.loads(path.read_text())
    for path in run.rglob("*.csv"):
        rows = list(csv.reader(path.open()))
        assert rows and all(len(r) == len(rows[0]) for r in rows), path


def _statuses(run):
    return {p.parent.name: json.loads(p.read_text()) for p in run.glob("variants/*/status.json")}


@pytest.fixture
def interrupted_run(tmp_path):
    """A sweep SIGTERMed in a variant after its first finished: (config path, run directory, exit code, stderr)."""
    config = tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump(SLOW_SWEEP))
    out = tmp_path / "runs"
    proc = _start(config, out)
    run = _wait_for_a_variant_mid_way(proc, out)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    return config, run, proc.returncode, stderr


def test_sigterm_leaves_a_consistent_resumable_run_that_resumes_to_the_uninterrupted_result(
    interrupted_run, runner, tmp_path
):
    config, run, code, stderr = interrupted_run
    assert code == 130, stderr
    assert "lrsweep grid --resume" in stderr
    _check_every_file_parses(run)
    statuses = _statuses(run)
    interrupted = [s for s in statuses.values() if s["status"] == "interrupted"]
    assert len(interrupted) == 1
    assert sum(s["status"] == "done" for s in statuses.values()) >= 1
    assert len(statuses) < len(SLOW_SWEEP["lr"])  # stopped mid-way
    metrics = run / "variants" / interrupted[0]["variant"]["id"] / "metrics.csv"
    rows = list(csv.DictReader(metrics.open())) if metrics.exists() else []
    assert len(rows) == interrupted[0]["epochs_run"]  # the finished epochs' rows are kept
    partial = json.loads((run / "summary.json").read_text())
    assert not partial["complete"]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["outcome"] == "interrupted" and meta["command"][1:4] == ["grid", str(config), "--out"]

    resumed = runner.invoke(app, ["grid", "--resume", str(run), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    reference = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "ref"), "--json"])
    assert reference.exit_code == 0, reference.output

    final = json.loads((run / "summary.json").read_text())
    expected = json.loads(reference.stdout)
    assert final["complete"] and final["best"]["lr"] == expected["best"]["lr"]
    got = {r["id"]: r for r in final["variants"]}
    assert set(got) == {r["id"] for r in expected["variants"]}
    for want in expected["variants"]:
        row = got[want["id"]]
        assert row["status"] == want["status"] and row["epochs_run"] == want["epochs_run"]
        for key in ("train_loss", "val_loss", "val_acc"):
            assert row[key] == pytest.approx(want[key], abs=1e-6), (want["id"], key)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["outcome"] == "finished" and len(meta["resumes"]) == 1


def _finished_tiny_run(runner, write_config, tiny_sweep, tmp_path):
    config = write_config({**tiny_sweep, "retrain": False, "train": {"epochs": 1}})
    result = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return config, next((tmp_path / "runs").iterdir())


def test_resume_refuses_an_edited_config_unless_forced(runner, write_config, tiny_sweep, tmp_path):
    config, run = _finished_tiny_run(runner, write_config, tiny_sweep, tmp_path)
    edited = write_config(
        {**tiny_sweep, "retrain": False, "train": {"epochs": 1}, "lr": [0.01, 0.1, 1.0, 3.0]}, name="edited.yaml"
    )
    refused = runner.invoke(app, ["grid", str(edited), "--resume", str(run)])
    assert refused.exit_code == 2
    assert "differs from the one" in refused.stderr and "--force" in refused.stderr

    forced = runner.invoke(app, ["grid", str(edited), "--resume", str(run), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    summary = json.loads(forced.stdout)
    assert sorted(r["lr"] for r in summary["variants"]) == [0.01, 0.1, 1.0, 3.0]
    # the run directory now holds the config that ran, so a plain --resume and show agree with it
    assert yaml.safe_load((run / "config.yaml").read_text())["lr"] == [0.01, 0.1, 1.0, 3.0]
    again = runner.invoke(app, ["grid", "--resume", str(run), "--json"])
    assert again.exit_code == 0, again.output


def test_resume_refuses_a_run_directory_whose_config_was_edited(runner, write_config, tiny_sweep, tmp_path):
    _, run = _finished_tiny_run(runner, write_config, tiny_sweep, tmp_path)
    stored = yaml.safe_load((run / "config.yaml").read_text())
    stored["train"]["epochs"] = 5
    (run / "config.yaml").write_text(yaml.safe_dump(stored))
    refused = runner.invoke(app, ["grid", "--resume", str(run)])
    assert refused.exit_code == 2 and "differs" in refused.stderr


def test_resume_of_a_finished_run_trains_nothing_and_keeps_the_summary(runner, write_config, tiny_sweep, tmp_path):
    _, run = _finished_tiny_run(runner, write_config, tiny_sweep, tmp_path)
    before = json.loads((run / "summary.json").read_text())
    mtimes = {p: p.stat().st_mtime_ns for p in run.glob("variants/*/metrics.csv")}
    result = runner.invoke(app, ["grid", "--resume", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in run.glob("variants/*/metrics.csv")} == mtimes
    after = json.loads((run / "summary.json").read_text())
    assert after["best"] == before["best"] and after["variants"] == before["variants"]


FIVE_EPOCHS = {  # ~0.3 s an epoch in a subprocess: a SIGTERM can land in the middle of epoch 3
    **SLOW_SWEEP,
    "name": "five",
    "data": {**SLOW_SWEEP["data"], "n_samples": 1500},
    "model": {"name": "mlp", "hidden": [64], "dropout": 0.1},
    "lr": [0.01, 0.1],
    "train": {"epochs": 5},
}


def _kill_in_epoch_3(config, out):
    """Start the sweep, SIGTERM it once some variant's metrics.csv holds 2 epochs; the run directory."""
    proc = _start(config, out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [p for p in out.glob("*/variants/*/metrics.csv") if len(p.read_text().splitlines()) == 3]
        if found:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 130, stderr
            return found[0].parents[2]
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no variant reached epoch 2 in time")


@pytest.mark.parametrize("engine", ["sequential", "vectorized"])
def test_sigterm_in_epoch_3_of_5_then_resume_continues_from_the_checkpoint(engine, runner, tmp_path):
    config = tmp_path / "five.yaml"
    config.write_text(yaml.safe_dump({**FIVE_EPOCHS, "engine": engine}))
    run = _kill_in_epoch_3(config, tmp_path / "runs")
    _check_every_file_parses(run)
    assert list(run.rglob("checkpoint.pt"))
    resumed = runner.invoke(app, ["grid", "--resume", str(run), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    reference = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "ref"), "--quiet"])
    assert reference.exit_code == 0, reference.output
    ref = next((tmp_path / "ref").iterdir())
    statuses = _statuses(run)
    assert max(s["computed"]["resumed_from_epoch"] for s in statuses.values()) >= 1
    for vid in statuses:
        got = list(csv.DictReader((run / "variants" / vid / "metrics.csv").open()))
        want = list(csv.DictReader((ref / "variants" / vid / "metrics.csv").open()))
        assert [r["epoch"] for r in got] == [r["epoch"] for r in want] == [str(e) for e in range(1, 6)]
        for g, w in zip(got, want):
            for key in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
                if engine == "sequential":
                    assert g[key] == w[key], (vid, g["epoch"], key)  # bit for bit
                else:
                    assert float(g[key]) == pytest.approx(float(w[key]), rel=1e-5, abs=1e-7), (vid, key)
    assert not list(run.rglob("checkpoint.pt")), "checkpoints outlived their variants"


def test_keep_checkpoints_keeps_each_variants_last_checkpoint(runner, write_config, tiny_sweep, tmp_path):
    config = write_config({**tiny_sweep, "retrain": False, "engine": "sequential"})
    kept = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "a"), "--quiet", "--keep-checkpoints"])
    assert kept.exit_code == 0, kept.output
    assert len(list((tmp_path / "a").rglob("variants/*/checkpoint.pt"))) == len(tiny_sweep["lr"])
    plain = runner.invoke(app, ["grid", str(config), "--out", str(tmp_path / "b"), "--quiet"])
    assert plain.exit_code == 0, plain.output
    assert not list((tmp_path / "b").rglob("checkpoint.pt"))
