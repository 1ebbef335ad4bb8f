"""What every command shares: consoles, error handling, data loading and run-directory set-up."""

from __future__ import annotations

import errno
import json
import os
import platform
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console

from lrsweep.cli.console import clean, make_console
from lrsweep.errors import LrsweepError, UsageError

SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="Override a config key: dotted.key=value (value parsed as YAML). Repeatable."),
]
DeviceOption = Annotated[
    Optional[str], typer.Option("--device", "-d", help="auto | cpu | cuda | cuda:N | mps (overrides the config).")
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Folder in which the run directory is created.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only machine-readable JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display and no tables.")]
DEFAULT_OUT = Path("runs")


def stdout_console() -> Console:
    """Tables and verdicts (no line length off a terminal; see :mod:`lrsweep.cli.console`)."""
    return make_console(soft_wrap=False)


def stderr_console() -> Console:
    """Progress, notices and errors."""
    return make_console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn lrsweep's typed errors into a red one-line message and their exit code."""
    try:
        yield
    except LrsweepError as err:
        print_error(str(err))
        raise typer.Exit(err.exit_code) from None
    except OSError as err:
        if err.errno == errno.EPIPE:
            raise  # a closed pipe (| head): Typer leaves quietly
        print_error(os_error_message(err))
        raise typer.Exit(2 if err.errno in PATH_ERRNOS else 1) from None


# a path that cannot be used as given (exit 2, like any bad usage); other OSErrors (a full disk) exit 1
PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
               errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL}


def os_error_message(err: OSError) -> str:
    """One line naming the path and the cause: ``cannot write runs/x/meta.json: No space left on device``."""
    path = err.filename if err.filename is not None else None
    cause = err.strerror or str(err)
    if path is None:
        return f"{cause} ({type(err).__name__})"
    second = f" -> {err.filename2}" if err.filename2 else ""
    return f"cannot use {path}{second}: {cause}"


def print_error(message: str) -> None:
    """The red one-line ``error:`` on stderr (control characters stripped, [brackets] not markup)."""
    from rich.markup import escape

    stderr_console().print(f"[bold red]error:[/] {escape(clean(message))}", markup=True, highlight=False,
                           soft_wrap=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def sigterm_raises_interrupt() -> None:
    """From now on SIGTERM is Ctrl-C: ``finally`` blocks run (no ``.part`` file stays) and Typer exits 130.

    ``main`` calls it before any command starts; a command may narrow it (sigterm_as_interrupt)."""
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        pass


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a preempted box, a scheduler's kill) is handled like Ctrl-C: consistent and resumable."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. under some test runners)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def storage_failure(err: OSError, store, config, json_out: bool) -> typer.Exit:
    """A write failed mid-run (a full disk): say which file and why, show what finished (every finished
    variant's files are whole: the run resumes once there is room), exit 1."""
    if err.errno == errno.EPIPE:
        raise err
    from lrsweep.plan import expand
    from lrsweep.report import summary_table, verdict
    from lrsweep.runner import collect_summary

    print_error(f"{err if isinstance(err, LrsweepError) else os_error_message(err)}; the run stopped. What finished is kept: once the cause is fixed, "
                f"resume with  lrsweep grid --resume {store.path}")
    try:
        finish_meta(store, "interrupted")
    except OSError:
        pass  # the disk is still full: meta.json keeps its last whole version
    summary = collect_summary(config, store, expand(config))
    summary["run_dir"] = str(store.path)
    if json_out:
        print_json(summary)
    else:
        console = stdout_console()
        console.print(summary_table(summary))
        console.print(verdict(summary))
    return typer.Exit(1)


def hold_lock(stack, store, shard: str | None = None) -> None:
    """Lock the run directory until ``stack`` closes; a stale lock taken over is said on stderr."""
    notice = store.lock(shard)
    stack.callback(store.unlock, shard)
    if notice:
        stderr_console().print(notice, style="yellow", markup=False, soft_wrap=True)


def print_json(data: Any) -> None:
    from lrsweep.store import to_plain

    sys.stdout.write(json.dumps(to_plain(data), indent=2) + "\n")
    sys.stdout.flush()


EngineOption = Annotated[
    Optional[str],
    typer.Option("--engine", help="auto (train compatible variants together) | vectorized | sequential "
                                   "(overrides the config)."),
]


def check_device_options(device: str | None, devices: str | None) -> None:
    """--device (one device) and --devices (one worker per device) cannot both be given; --devices not empty."""
    if devices is not None and not devices.strip(" ,"):
        raise UsageError("--devices is empty: name the devices (cuda:0,cuda:1 | all | cpu,cpu), or leave it out")
    if devices is not None and device:
        raise UsageError(f"--device {device} and --devices {devices} exclude each other: --devices names every "
                         "device the workers train on (drop --device)")


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config dicts, each with its old and new value."""
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}{key}"
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += config_diff(a, b, prefix=f"{path}.")
        elif a != b:
            lines.append(f"{path}: {_short(a)} -> {_short(b)}")
    return lines


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def config_overrides(sets: list[str] | None, device: str | None, engine: str | None = None) -> list[str]:
    """--set items, plus the options that are shorthands for a config key."""
    overrides = list(sets or [])
    if device:
        overrides.append(f"device={device}")
    if engine:
        overrides.append(f"engine={engine}")
    return overrides


def load_splits(config, quiet: bool = False):
    """The dataset of ``config``, split with its first seed (the same split for every seed).

    Downloads, if any, are announced on stderr.
    """
    import logging

    logger = logging.getLogger("lrsweep.data.download")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if not quiet:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        from lrsweep.executors.base import load_data  # the loader worker processes and Ray tasks use too

        return load_data(config)
    finally:
        logger.removeHandler(handler)


def git_state() -> dict:
    """The commit of the working directory's repository, and whether its tree was dirty."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5)
        return {"git_sha": sha.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {}


def finish_meta(store, outcome: str) -> None:
    """meta.json gets the end time and how the run ended (finished | interrupted)."""
    meta = store.read_meta()
    meta["finished"] = datetime.now().isoformat(timespec="seconds")
    meta["outcome"] = outcome
    store.write_meta(meta)


def run_meta(config, device) -> dict:
    """meta.json: what ran, where, on which versions."""
    import torch

    from lrsweep import __version__
    from lrsweep.device import describe_device

    return {
        "command": sys.argv,
        "cwd": os.getcwd(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "fingerprint": config.fingerprint(),
        "device": describe_device(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "lrsweep": __version__,
        },
        **git_state(),
    }
