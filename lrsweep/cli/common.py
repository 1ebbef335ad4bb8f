"""What every command shares: consoles, options, error handling."""

from __future__ import annotations

import json
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console

from lrsweep.api.common import DEFAULT_OUT  # noqa: F401  the one default of --out
from lrsweep.errors import LrsweepError

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


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn lrsweep's typed errors into a red one-line message and their exit code."""
    try:
        yield
    except LrsweepError as err:
        from rich.markup import escape

        # escaped: messages quote user input and commands, whose [brackets] are not markup
        stderr_console().print(f"[bold red]error:[/] {escape(str(err))}", markup=True, highlight=False,
                               soft_wrap=True)
        raise typer.Exit(err.exit_code) from None


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


def print_json(data: Any) -> None:
    from lrsweep.store import to_plain

    sys.stdout.write(json.dumps(to_plain(data), indent=2) + "\n")
    sys.stdout.flush()


EngineOption = Annotated[
    Optional[str],
    typer.Option("--engine", help="auto (train compatible variants together) | vectorized | sequential "
                                   "(overrides the config)."),
]


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
