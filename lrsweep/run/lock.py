"""A lock file saying which process writes a run directory: pid, host and start time.

Created atomically (written whole beside it, then hard-linked into place, which fails if it exists),
so of two processes racing for one run exactly one wins. A lock left by a process that died on this
host is stale and is taken over; a live one (or one from another host, whose process cannot be
checked from here) refuses the second writer.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from pathlib import Path

from lrsweep.errors import RunDirError
from lrsweep.run.files import create_text_once

MAX_LOCK_BYTES = 64 * 1024  # a lock file is a few lines of JSON; anything bigger is not one


def holder_of(path: Path) -> dict | None:
    """The lock's ``{pid, host, started}``, or None when there is no lock (an unreadable one reads as stale)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_LOCK_BYTES:
            return {} if path.exists() else None
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_alive(holder: dict) -> bool:
    """True when the holder may still run: its process exists on this host, or it is on another host."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot look at another machine's processes: assume it is running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(holder: dict) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')}" + (
        f" since {holder['started']}" if holder.get("started") else ""
    )


def acquire(path: Path, what: str) -> str | None:
    """Take the lock at ``path`` for this process; returns a notice when a stale lock was taken over.

    Raises:
        RunDirError: a live process holds it (exit code 2).
    """
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now().isoformat(timespec="seconds")}
    notice = None
    for _ in range(3):
        if create_text_once(path, json.dumps(me) + "\n"):
            return notice
        holder = holder_of(path)
        if holder is None:
            continue  # released meanwhile: try again
        if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            return notice  # this process holds it already
        if is_alive(holder):
            raise RunDirError(
                f"{what} is in use by {describe(holder)} ({path}); wait for it to finish, "
                f"or delete {path} if that process is really gone"
            )
        notice = f"took over the stale lock of {describe(holder) if holder else 'an unreadable lock file'} ({path})"
        if holder_of(path) == holder:  # still the stale one (narrows the window in which a racer replaced it)
            path.unlink(missing_ok=True)
    raise RunDirError(f"could not take the lock {path}: another process keeps taking it")


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    holder = holder_of(path)
    if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


def live_holder(path: Path) -> dict | None:
    """Who is writing the run now (None when nobody is: no lock, or a stale one)."""
    holder = holder_of(path)
    return holder if holder and is_alive(holder) else None
