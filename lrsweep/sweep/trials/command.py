"""A command trial: your script as one process per trial, in a process group of its own.

The process gets the trial's values as placeholders and environment variables, its stdout is read line by line
(copied into ``stdout.log`` and handed on for parsing), its stderr goes straight to ``stderr.log``. lrsweep
controls the whole group: paused at a rung (SIGSTOP), continued (SIGCONT), stopped (SIGTERM, then SIGKILL after
a grace period). On Linux the process is also killed if lrsweep itself dies (``PR_SET_PDEATHSIG``, set by a tiny
launcher that then becomes the command), so not even a ``kill -9`` of lrsweep leaves it running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from lrsweep.config.trial import render

METRICS_FILE = "reports.jsonl"  # in the trial's folder: the file $LRSWEEP_METRICS_FILE names
TAIL_LINES = 20  # the last lines of stderr a failed trial keeps in its status.json
DRAIN_SECONDS = 2.0  # after the process exits, how long its output may still take to arrive


def visible_device(device: str) -> tuple[str, str | None]:
    """The device as the trial's process sees it, and its ``CUDA_VISIBLE_DEVICES`` (None: left alone).

    ``cuda:2`` becomes ``cuda:0`` with ``CUDA_VISIBLE_DEVICES=2``: an unmodified script that uses the first GPU lands
    on the trial's; ``cuda`` (no index), ``cpu`` and ``mps`` are passed as they are.
    """
    if device.startswith("cuda:"):
        return "cuda:0", device.split(":", 1)[1]
    return device, None


def trial_values(lr: float, seed: int, epochs: int, trial_dir: Path, device: str, trial_id: str, run_dir: Path) -> dict:
    """The placeholders' values (``{lr}``, ``{seed}``, ...) of one trial."""
    return {
        "lr": lr,
        "seed": seed,
        "epochs": epochs,
        "trial_dir": str(trial_dir),
        "device": device,
        "trial_id": trial_id,
        "run_dir": str(run_dir),
    }


def trial_env(values: dict, params: dict, metrics_file: Path, extra: dict, cuda_visible: str | None) -> dict:
    """The trial's environment: this process's, the config's ``trials.env``, and lrsweep's ``LRSWEEP_*``."""
    from lrsweep.config.trial import text_of

    env = {**os.environ, **extra}
    env.update({f"LRSWEEP_{name.upper()}": text_of(value) for name, value in values.items()})
    env["LRSWEEP_PARAMS"] = json.dumps(params)
    env["LRSWEEP_METRICS_FILE"] = str(metrics_file)
    env["PYTHONUNBUFFERED"] = "1"  # a Python script's prints arrive as they happen, not when a pipe buffer fills
    if cuda_visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible
    return env


def command_argv(command: str | list[str] | tuple[str, ...], values: dict, params: dict) -> list[str]:
    return render(command, values, params)


class CommandProcess:
    """One running trial process (its group), its output going to ``on_line`` and the log files."""

    def __init__(self, argv: list[str], env: dict, cwd: str, stdout_log: Path, stderr_log: Path):
        self.argv, self.stderr_log = argv, stderr_log
        stdout_log.parent.mkdir(parents=True, exist_ok=True)
        self.stderr_start = stderr_log.stat().st_size if stderr_log.exists() else 0
        self.lines: list[tuple[float, str]] = []  # (when, line) read from stdout, not yet taken
        self.lock = threading.Lock()
        with open(stderr_log, "ab") as err:
            self.process = subprocess.Popen(
                _launched(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,  # its own process group: pausing and stopping reach its children too
            )
        self.pid = self.process.pid
        self.exited_at: float | None = None
        self.reader = threading.Thread(target=self._read, args=(stdout_log,), name=f"lrsweep-trial-{self.pid}")
        self.reader.daemon = True
        self.reader.start()

    def _read(self, stdout_log: Path) -> None:
        assert self.process.stdout is not None
        with open(stdout_log, "ab") as log:
            for raw in self.process.stdout:
                log.write(raw)
                log.flush()
                with self.lock:
                    self.lines.append((time.monotonic(), raw.decode("utf-8", errors="replace")))
        self.process.stdout.close()

    def take_lines(self) -> list[tuple[float, str]]:
        with self.lock:
            lines, self.lines = self.lines, []
        return lines

    def exit_code(self) -> int | None:
        """The exit code once the process has exited (its group's stragglers are killed then); None while it runs."""
        code = self.process.poll()
        if code is not None and self.exited_at is None:
            self.exited_at = time.monotonic()
            self._signal(signal.SIGKILL)  # whatever it left behind in its group
        return code

    def finished(self) -> bool:
        """Exited, and its output read to the end (or given up on, if something it started holds stdout open)."""
        if self.exit_code() is None:
            return False
        return not self.reader.is_alive() or time.monotonic() - (self.exited_at or 0) > DRAIN_SECONDS

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def terminate(self) -> None:
        """SIGTERM to the group (and SIGCONT, so that a paused process receives it)."""
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone

    def stderr_tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The last ``lines`` lines this process wrote to stderr."""
        try:
            with open(self.stderr_log, "rb") as err:
                err.seek(self.stderr_start)
                text = err.read()[-64 * 1024 :].decode("utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-lines:]


def stop_all(processes: Iterable[CommandProcess], grace: float) -> None:
    """Stop every process group: SIGTERM now, SIGKILL to whatever is left after ``grace`` seconds (also when
    interrupted while waiting)."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    try:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.process.poll() is None for p in processes):
            time.sleep(0.02)
    finally:
        for process in processes:
            process.kill()


# Sets the parent-death signal, then becomes the command (the signal survives exec). A launcher rather than a
# preexec_fn: a preexec_fn makes every spawn fork the whole lrsweep process and run Python's at-fork hooks in
# it, where a Ctrl-C that lands is swallowed ("Exception ignored in ... _releaseLock").
_LAUNCHER = """
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when lrsweep's thread that started it dies
if os.getppid() != int(sys.argv[1]):
    os._exit(1)  # lrsweep died before the call: nobody would ever stop this trial
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"lrsweep: cannot run {sys.argv[2]}: {exc.strerror}\\n")
    os._exit(127)
"""


def _launched(argv: list[str]) -> list[str]:
    """``argv`` behind the launcher on Linux (an isolated Python without site: a few ms), as it is elsewhere."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *argv]
