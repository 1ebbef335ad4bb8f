"""The run directory's files, written whole or not at all, and read back checked.

Every write goes to a temporary file beside its target, is flushed to disk and renamed over it (or, for
a file that only one of several racing writers may create, hard-linked into place). Reads parse JSON
and CSV into plain data and refuse what lrsweep did not write (:mod:`lrsweep.run.integrity`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from lrsweep.errors import ConfigError, RunDirError, StorageError
from lrsweep.run import integrity as checks


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over ``path``.

    An OSError (a full disk, a read-only file system) names ``path``, whichever step failed.
    """
    try:
        _atomic_write(path, data)
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; results should read like any other file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def create_text_once(path: Path, text: str) -> bool:
    """Write ``path`` whole, unless it exists; False when another writer got there first (atomic:
    readers see no file or the whole file, and of several racing writers exactly one wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if path exists, unlike rename
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


def to_plain(value: Any) -> Any:
    """Tuples to lists and non-finite floats to None, recursively: YAML/JSON-safe data."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(to_plain(data), indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(checks.read_text(path))
    except FileNotFoundError:
        raise RunDirError(f"missing file: {path}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, integers past 4300 digits, deep nesting
        raise RunDirError(f"unreadable JSON in {path}: {str(exc)[:200]}") from None


def csv_text(rows: Iterable[dict], columns: Iterable[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def read_csv(path: Path, numbers: tuple[str, ...] = ()) -> list[dict]:
    """Rows with numbers parsed back (empty cells -> None); the ``numbers`` columns must hold numbers."""
    try:
        text = checks.read_text(path, checks.MAX_CSV_BYTES)
        rows = [
            {k: _number(v) if isinstance(v, str) else v for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text, newline=""))
        ]
    except FileNotFoundError:
        raise RunDirError(f"missing file: {path}") from None
    except csv.Error as exc:
        raise RunDirError(f"unreadable CSV in {path}: {exc}") from None
    return checks.check_metrics(rows, path, numbers)


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        as_float = float(text)
    except ValueError:
        return {"True": True, "False": False}.get(text, text)
    if text.lstrip("-").isdigit():
        return int(text) if len(text) < 300 else as_float  # int() refuses past 4300 digits
    return as_float


def read_yaml(path: Path) -> Any:
    """A YAML file lrsweep wrote (config.yaml), read as boundedly as a config file: aliases, depth, duplicate keys."""
    from lrsweep.config.safe_yaml import load

    try:
        return load(checks.read_text(path))
    except FileNotFoundError:
        raise RunDirError(f"missing file: {path}") from None
    except ConfigError as err:
        raise RunDirError(f"unreadable YAML in {path}: {err.message}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise RunDirError(f"unreadable YAML in {path}: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: Exception) -> str:
    """A YAML error in one line: what, and on which line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())[:200]
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem
