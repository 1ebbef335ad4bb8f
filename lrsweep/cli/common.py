"""What every command shares: consoles, options, error handling."""

from __future__ import annotations

import errno
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lrsweep.api.common import DEFAULT_OUT  # noqa: F401  the one default of --out
from lrsweep.cli.console import clean, make_console
from lrsweep.errors import LrsweepError, UsageError

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key: dotted.key=value (value parsed as YAML). Repeatable."),
]
DeviceOption = Annotated[
    str | None, typer.Option("--device", "-d", help="auto | cpu | cuda | cuda:N | mps (overrides the config).")
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Folder in which the run directory is created.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only machine-readable JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display and no tables.")]
JobsOption = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Trials of your own code (command:, function:) at once, one process or thread each "
        "(with --devices: per device entry).",
    ),
]


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
PATH_ERRNOS = {
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENAMETOOLONG,
    errno.ELOOP,
    errno.EINVAL,
}


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

    stderr_console().print(
        f"[bold red]error:[/] {escape(clean(message))}", markup=True, highlight=False, soft_wrap=True
    )


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


def storage_failure(err, json_out: bool) -> typer.Exit:
    """A write failed mid-run (a StorageError: a full disk): say which file and why, show what finished (every
    finished variant's files are whole: the run resumes once there is room), exit 1."""
    from lrsweep.api.runs import summary_of
    from lrsweep.render.tables import summary_table, verdict

    run_dir = getattr(err, "run_dir", None)
    print_error(
        f"{err}; the run stopped. What finished is kept: once the cause is fixed, resume with  "
        f"lrsweep grid --resume {run_dir}"
    )
    if run_dir is None:
        return typer.Exit(1)
    summary = summary_of(run_dir)
    if json_out:
        print_json(summary)
    else:
        console = stdout_console()
        console.print(summary_table(summary))
        console.print(verdict(summary))
        counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["status_counts"].items()))
        console.print(f"When the disk stopped the run: {counts}.", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def print_json(data: Any) -> None:
    from lrsweep.api.common import to_json

    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine", help="auto (train compatible variants together) | vectorized | sequential (overrides the config)."
    ),
]


def check_device_options(device: str | None, devices: str | None) -> None:
    """--device (one device) and --devices (one worker per device) cannot both be given; --devices not empty."""
    if devices is not None and not devices.strip(" ,"):
        raise UsageError("--devices is empty: name the devices (cuda:0,cuda:1 | all | cpu,cpu), or leave it out")
    if devices is not None and device:
        raise UsageError(
            f"--device {device} and --devices {devices} exclude each other: --devices names every "
            "device the workers train on (drop --device)"
        )


def config_overrides(sets: list[str] | None, device: str | None, engine: str | None = None) -> list[str]:
    """--set items, plus the options that are shorthands for a config key."""
    overrides = list(sets or [])
    if device:
        overrides.append(f"device={device}")
    if engine:
        overrides.append(f"engine={engine}")
    return overrides


@contextmanager
def announce_downloads(quiet: bool = False) -> Iterator[None]:
    """Dataset downloads started inside the block are announced on stderr (unless ``quiet``)."""
    import logging

    logger = logging.getLogger("lrsweep.data.download")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if not quiet:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
