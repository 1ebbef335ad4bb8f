"""Typed errors: library code raises these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

MAX_MESSAGE_CHARS = 1000  # an error message is cut here: it may quote what the user gave


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, bounded: nested and long values are elided, never expanded in full."""
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlong = 3, max(limit - 10, 10), limit, 40
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 6
    try:
        text = short.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still named
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 3] + "..."


class LrsweepError(Exception):
    """Base of every error lrsweep raises on purpose."""

    exit_code = 1


class UsageError(LrsweepError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config value is missing, misspelt, of the wrong type or out of range.

    Args:
        message: what is wrong, including what was given and what is allowed.
        key: dotted path of the offending key (``model.hidden``), if any.
        file: the config file it came from, if any.
    """

    def __init__(self, message: str, key: str | None = None, file: str | None = None):
        self.message = _bounded(str(message))
        self.key = key
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def located(self, file: str | None = None, prefix: str | None = None) -> ConfigError:
        """A copy that names the file and sits under ``prefix`` in the key path."""
        key = ".".join(p for p in (prefix, self.key) if p) or None
        return ConfigError(self.message, key=key, file=file or self.file)


class DataError(UsageError):
    """A dataset cannot be found, read or verified."""


class NetworkError(LrsweepError):
    """The network failed (a mirror unreachable, a download cut off): not the config's fault (exit code 3)."""

    exit_code = 3


class DownloadError(NetworkError, DataError):
    """Every mirror failed, or what came back did not match its checksum (exit code 3)."""

    exit_code = 3


class RunDirError(UsageError):
    """A run directory is missing, unreadable, or does not match the config."""


class VectorizeError(LrsweepError):
    """A pack cannot be trained as one computation; the runner falls back to the sequential loop."""


class Interrupted(LrsweepError):
    """Ctrl-C or SIGTERM: the run directory is consistent and resumable.

    Carries the summary of what had finished (None when nothing was recorded yet), and (set by the API)
    the run directory to resume.
    """

    exit_code = 130

    def __init__(self, summary: dict | None, run_dir: Path | None = None):
        self.summary = summary
        self.run_dir = run_dir
        super().__init__("interrupted; resume with --resume")


class StorageError(LrsweepError, OSError):
    """A file of the run cannot be written (a full disk, a read-only file system): an OSError that names
    the file and that the executors let through (the sweep stops; what finished stays whole, resumable)."""

    exit_code = 1
    run_dir: Path | None = None  # set by the API: the run directory to resume once there is room

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"
