"""Your own script through the CLI: grid and tune over a command, exit codes, --json, show, validate, find refused,
and Ctrl-C/SIGTERM to lrsweep: exit 130, no trial process left, and --resume finishes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import ROOT

from lrsweep.cli import app

FAKE = str(ROOT / "tests" / "sweep" / "trials" / "fake_train.py")


def command_config(lrs, modes=None, sleep=0.0, epochs=2, **more) -> dict:
    line = f"{sys.executable} {FAKE} --lr {{lr}} --seed {{seed}} --epochs {{epochs}} --sleep {sleep}"
    if modes:
        line += " --modes {params.modes}"
        more["params"] = {"modes": json.dumps({repr(lr): mode for lr, mode in modes.items()})}
    return {"name": "script", "command": line, "lr": list(lrs), "train": {"epochs": epochs}, **more}


def test_grid_over_a_command_exits_1_when_a_trial_fails_showing_the_end_of_its_stderr(runner, write_config, tmp_path):
    path = write_config(command_config([0.01, 0.1, 0.2], {0.2: "exit"}))
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--jobs", "3"])
    assert result.exit_code == 1, result.output
    assert "Best: lr=0.01" in result.stdout and "failed" in result.stdout
    assert "exited with code 3: ValueError: a bad batch" in result.stderr
    assert "    Traceback (most recent call last):" in result.stderr  # the end of its stderr, on the terminal
    run = next((tmp_path / "runs").iterdir())
    shown = runner.invoke(app, ["show", str(run), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["best"]["lr"] == 0.01


def test_grid_over_a_command_json_and_validate(runner, write_config, tmp_path):
    path = write_config(command_config([0.01, 0.1], select={"metric": "val_loss", "mode": "min"}))
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["best"]["lr"] == 0.01 and {r["status"] for r in summary["variants"]} == {"done"}
    assert "inferred from its name" not in result.stderr  # select.mode given
    checked = runner.invoke(app, ["validate", str(path)])
    assert checked.exit_code == 0 and "data of your command" in checked.stdout
    assert f"the first trial runs, in {path.parent}: {sys.executable} {FAKE} --lr 0.01 --seed 0" in checked.stdout


def test_a_typod_placeholder_exits_2_before_anything_runs(runner, write_config, tmp_path):
    config = command_config([0.01])
    config["command"] += " --out {trialdir}"
    result = runner.invoke(app, ["grid", str(write_config(config)), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "command: {trialdir}: unknown placeholder; did you mean {trial_dir}?" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_find_and_jobs_with_lrsweeps_own_loop_are_refused_saying_why(runner, write_config, tiny_sweep, tmp_path):
    found = runner.invoke(app, ["find", str(write_config(command_config([0.01, 0.1]))), "--out", str(tmp_path)])
    assert found.exit_code == 2 and "use  lrsweep tune" in found.stderr.lower()
    jobs = runner.invoke(app, ["grid", str(write_config(tiny_sweep, "t.yaml")), "--jobs", "2", "--out", str(tmp_path)])
    assert jobs.exit_code == 2 and "--jobs runs several trials of your own code" in jobs.stderr


def alive(run_dir: Path) -> list[int]:
    """Trial processes (from each variant's pids file) still running (zombies count as gone)."""
    found = []
    for path in run_dir.glob("variants/*/pids"):
        for line in path.read_text().splitlines():
            pid = int(line.split()[0])
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                continue
            if state not in ("Z", "X"):
                found.append(pid)
    return found


def lrsweep(*args, cwd=ROOT) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "lrsweep", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_tune_over_a_command_killed_mid_way_leaves_nothing_running_and_resumes(runner, write_config, tmp_path):
    config = command_config([1e-4, 1.0], sleep=0.1, epochs=3, seeds=[0, 1], trials={"stop_grace": 2})
    path = write_config(config)
    out = tmp_path / "runs"
    proc = lrsweep("tune", str(path), "--out", str(out), "--jobs", "8", "--budget", "8", "--quiet")
    wait_for(lambda: out.exists() and any(out.glob("*/variants/*/pids")))  # trials are running
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    run = next(out.iterdir())
    assert alive(run) == [] and f"lrsweep tune --resume {run}" in stderr
    resumed = runner.invoke(app, ["tune", "--resume", str(run), "--json", "--jobs", "8"])
    assert resumed.exit_code == 0, resumed.output
    found = json.loads(resumed.stdout)
    assert found["status"] == "finished" and 0.003 < found["best"]["lr"] < 0.03 and found["cost"]["trainings"] <= 8
    assert alive(run) == []


def test_ctrl_c_to_a_grid_over_a_command_exits_130_with_every_trial_stopped(write_config, tmp_path):
    path = write_config(
        command_config([0.01, 0.1, 1.0], {1.0: "ignore-term"}, sleep=0.5, epochs=20, trials={"stop_grace": 1})
    )
    out = tmp_path / "runs"
    proc = lrsweep("grid", str(path), "--out", str(out), "--jobs", "3", "--quiet")
    wait_for(lambda: len(list(out.glob("*/variants/*/pids"))) == 3 and len(list(out.glob("*/variants/*/metrics.csv"))))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    run = next(out.iterdir())
    assert alive(run) == []  # the one ignoring SIGTERM too: SIGKILL after the grace period
    statuses = {json.loads(p.read_text())["status"] for p in run.glob("variants/*/status.json")}
    assert statuses == {"interrupted"}


def test_a_missing_program_fails_its_trial_and_a_missing_folder_is_a_config_error(runner, write_config, tmp_path):
    config = {"name": "typo", "command": ["pyhton3", "train.py", "--lr", "{lr}"], "lr": [0.1], "train": {"epochs": 1}}
    result = runner.invoke(app, ["grid", str(write_config(config)), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)["variants"]
    assert row["status"] == "failed" and "cannot run pyhton3: No such file or directory" in row["error"]
    moved = runner.invoke(app, ["grid", str(write_config(config)), "--set", "trials.cwd=gone", "--out", str(tmp_path)])
    assert moved.exit_code == 2 and "trials.cwd: the command's working directory is not a folder" in moved.stderr
