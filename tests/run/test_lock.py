"""The run directory's lock: one writer at a time, stale locks taken over, `show` on a run that trains."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from helpers import finished_run
from typer.testing import CliRunner

from lrsweep.cli import app
from lrsweep.errors import RunDirError
from lrsweep.render.tables import verdict
from lrsweep.run import lock as runlock
from lrsweep.run.store import RunStore


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_run(tmp_path_factory.mktemp("lock"), name="lock", train={"epochs": 2})


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / finished.name
    shutil.copytree(finished, copy)
    return copy


@pytest.fixture
def live_pid():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _lock(run, pid, host=None):
    (run / "lock").write_text(
        json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": "2026-01-01T00:00:00"})
    )


def _mid_run(run):
    """The run as it looks while training: no summary yet, one variant with only its first epoch."""
    (run / "summary.json").unlink()
    (run / "summary.csv").unlink()
    vid = sorted(p.name for p in (run / "variants").iterdir())[0]
    (run / "variants" / vid / "status.json").unlink()
    metrics = (run / "variants" / vid / "metrics.csv").read_text().splitlines()
    (run / "variants" / vid / "metrics.csv").write_text("\n".join(metrics[:2]) + "\n")
    return vid


def test_a_grid_holds_the_lock_while_it_runs_and_releases_it(run):
    store = RunStore(run)
    assert not (run / "lock").exists()  # released at the end of the grid that made it
    assert store.lock() is None
    holder = json.loads((run / "lock").read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname() and holder["started"]
    store.unlock()
    assert not (run / "lock").exists()


def test_a_second_writer_on_a_live_run_is_refused_with_exit_2(run, live_pid):
    _lock(run, live_pid)
    result = CliRunner().invoke(app, ["grid", "--resume", str(run), "--quiet"])
    assert result.exit_code == 2, result.output
    assert f"is in use by pid {live_pid}" in result.stderr and "Traceback" not in result.output
    assert json.loads((run / "lock").read_text())["pid"] == live_pid  # not taken from it
    with pytest.raises(RunDirError, match="in use"):
        RunStore(run).lock()


def test_another_hosts_lock_is_respected(run):
    _lock(run, 1, host="some-other-box")
    with pytest.raises(RunDirError, match="pid 1 on some-other-box"):
        RunStore(run).lock()


def test_a_dead_processs_lock_is_taken_over_with_a_notice(run, dead_pid):
    _mid_run(run)
    _lock(run, dead_pid)
    result = CliRunner().invoke(app, ["grid", "--resume", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert f"took over the stale lock of pid {dead_pid}" in result.stderr
    assert not (run / "lock").exists()
    assert json.loads((run / "summary.json").read_text())["complete"]


def test_show_on_a_live_run_says_it_is_running_with_each_variants_epochs(run, live_pid):
    vid = _mid_run(run)
    _lock(run, live_pid)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["show", str(run)])
    assert result.exit_code == 0, result.output
    assert f"running: written now by pid {live_pid}" in result.stdout
    assert "resume with" not in result.stdout and "Training now" in result.stdout
    line = next(line for line in result.stdout.splitlines() if vid in line and "1/2" in line)
    assert len(line.split()) >= 5  # id, epochs, lr, train_loss, val_loss
    shown = json.loads(CliRunner().invoke(app, ["show", str(run), "--json"]).stdout)
    assert shown["running"][0]["pid"] == live_pid


def test_show_on_a_dead_run_advises_resume(run, dead_pid):
    _mid_run(run)
    _lock(run, dead_pid)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["show", str(run)])
    assert "resume with" in result.stdout and "running:" not in result.stdout


def test_the_lock_race_has_one_winner(tmp_path):
    path = tmp_path / "lock"
    assert runlock.acquire(path, "run") is None
    holder = json.loads(path.read_text())
    holder["pid"] = os.getppid()  # a live process that is not this one
    path.write_text(json.dumps(holder))
    with pytest.raises(RunDirError):
        runlock.acquire(path, "run")


def test_the_verdict_says_every_variant_failed_and_why():
    rows = [
        {"status": "failed", "error": "RuntimeError: size mismatch (3 vs 1)"},
        {"status": "failed", "error": "RuntimeError: size mismatch (3 vs 1)"},
    ]
    text = verdict({"best": None, "variants": rows}).plain
    assert "Every variant (2) failed with an error: RuntimeError: size mismatch (3 vs 1)" in text
    assert "smaller learning rates" not in text
    diverged = verdict({"best": None, "variants": [{"status": "diverged"}]}).plain
    assert "smaller learning rates" in diverged
    assert verdict({"best": None, "variants": [{"status": "pending"}]}).plain == (
        "No variant has finished yet: 1 of 1 still training or waiting."
    )
