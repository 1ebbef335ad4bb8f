"""trials/command.py: a trial's values, environment and argv, and its process group paused, continued and stopped."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lrsweep.config.trial import render
from lrsweep.sweep.trials.command import CommandProcess, stop_all, trial_env, trial_values, visible_device

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]


def gone(pid: int, within: float = 3.0) -> bool:
    """Whether ``pid`` is no longer running (a zombie waiting to be reaped counts as gone)."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_cuda_device_is_the_processs_first_gpu_through_cuda_visible_devices():
    assert visible_device("cuda:2") == ("cuda:0", "2")
    assert visible_device("cuda") == ("cuda", None)
    assert visible_device("cpu") == ("cpu", None)


def test_the_environment_carries_every_value_params_as_json_and_the_metrics_file(tmp_path):
    values = trial_values(1e-05, 2, 7, tmp_path / "t", "cuda:0", "lr1e-05-s2-abc", tmp_path)
    env = trial_env(values, {"width": 64}, tmp_path / "t" / "reports.jsonl", {"OMP_NUM_THREADS": "1"}, "3")
    assert env["LRSWEEP_LR"] == "1e-05" and float(env["LRSWEEP_LR"]) == 1e-05
    assert (env["LRSWEEP_SEED"], env["LRSWEEP_EPOCHS"], env["LRSWEEP_DEVICE"]) == ("2", "7", "cuda:0")
    assert env["LRSWEEP_TRIAL_DIR"] == str(tmp_path / "t") and env["LRSWEEP_RUN_DIR"] == str(tmp_path)
    assert env["LRSWEEP_TRIAL_ID"] == "lr1e-05-s2-abc" and json.loads(env["LRSWEEP_PARAMS"]) == {"width": 64}
    assert env["LRSWEEP_METRICS_FILE"].endswith("reports.jsonl") and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert env["OMP_NUM_THREADS"] == "1" and env["PYTHONUNBUFFERED"] == "1" and env["PATH"] == os.environ["PATH"]


def test_a_shell_line_gets_quoted_values_and_an_argv_gets_them_verbatim(tmp_path):
    values = {"lr": 0.001, "seed": 0, "epochs": 3, "trial_dir": "/runs/a b", "device": "cpu"}
    params = {"name": "it's", "layers": [64, 32], "fast": True}
    template = "train --lr {lr} --out {trial_dir} --n {params.name} --l {params.layers} {params.fast}"
    line = render(template, values, params)
    assert line[:2] == ["/bin/sh", "-c"]
    assert line[2] == "train --lr 0.001 --out '/runs/a b' --n 'it'\"'\"'s' --l '[64, 32]' true"
    argv = render(["train", "--lr={lr:.1e}", "--out", "{trial_dir}", "{{literal}}"], values, params)
    assert argv == ["train", "--lr=1.0e-03", "--out", "/runs/a b", "{literal}"]
    echoed = subprocess.run(render("printf '%s|' {trial_dir} {params.name}", values, params), capture_output=True)
    assert echoed.stdout.decode() == "/runs/a b|it's|"  # the shell sees each value as one word, unchanged


def start(tmp_path, argv=SLEEPER) -> CommandProcess:
    return CommandProcess(argv, dict(os.environ), str(tmp_path), tmp_path / "out.log", tmp_path / "err.log")


def wait_for_line(process: CommandProcess, within: float = 10.0) -> list:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lines = process.take_lines()
        if lines:
            return lines
        time.sleep(0.02)
    raise AssertionError("no output")


def test_a_process_group_is_paused_continued_and_stopped_grandchildren_included(tmp_path):
    script = "import subprocess, sys, time; "
    script += "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    script += "print(c.pid, flush=True); time.sleep(600)"
    process = start(tmp_path, [sys.executable, "-c", script])
    (_at, line), *_ = wait_for_line(process)
    grandchild = int(line)
    process.pause()
    time.sleep(0.2)
    assert state_of(process.pid) == "T" and state_of(grandchild) == "T"  # stopped, the whole group
    process.resume()
    time.sleep(0.2)
    assert state_of(process.pid) in ("S", "R")
    process.pause()  # a paused group still stops: SIGTERM is followed by SIGCONT
    stop_all([process], grace=5.0)
    assert gone(process.pid) and gone(grandchild) and process.exit_code() == -signal.SIGTERM


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    script += "print('up', flush=True); time.sleep(600)"
    process = start(tmp_path, [sys.executable, "-c", script])
    wait_for_line(process)
    began = time.monotonic()
    stop_all([process], grace=0.3)
    assert 0.25 < time.monotonic() - began < 5 and gone(process.pid) and process.exit_code() == -signal.SIGKILL


def test_output_goes_to_the_logs_and_the_end_of_stderr_is_kept(tmp_path):
    script = "import sys; print('a'); print('b'); [print(f'e{i}', file=sys.stderr) for i in range(30)]; sys.exit(4)"
    process = start(tmp_path, [sys.executable, "-c", script])
    deadline = time.monotonic() + 10
    while not process.finished() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.exit_code() == 4 and [line for _at, line in process.take_lines()] == ["a\n", "b\n"]
    assert (tmp_path / "out.log").read_text() == "a\nb\n"
    assert process.stderr_tail() == [f"e{i}" for i in range(10, 30)] and process.stderr_tail(2) == ["e28", "e29"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_trial_dies_with_lrsweep_even_when_lrsweep_is_killed(tmp_path):
    parent_code = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from lrsweep.sweep.trials.command import CommandProcess
        folder = Path({str(tmp_path)!r})
        p = CommandProcess({SLEEPER!r}, dict(os.environ), str(folder), folder / "o", folder / "e")
        print(p.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert not gone(child, within=0.2)
    parent.send_signal(signal.SIGKILL)  # kill -9: no cleanup of lrsweep's runs
    parent.wait()
    assert gone(child)
