"""Leaving the process fast: the console script's last step, once every file is written and closed.

The interpreter's own teardown after a command (garbage-collecting torch's modules and tensors, module by
module) takes about half a second and writes nothing. ``lrsweep``'s run files are whole before a command
returns (each written to a temporary name, flushed to disk and renamed) and its lock is released by then,
so after flushing stdout, stderr and logging the process may end with ``os._exit``. It does not when
something may still need the interpreter's exit work: a Ray session, a TensorBoard writer, child processes,
threads still running, coverage or a profiler. Only :func:`lrsweep.cli.main` (the console script and
``python -m lrsweep``) calls it; Typer's CliRunner and the Python API never do.
"""

from __future__ import annotations

import os
import sys
import threading

# Loaded modules whose exit work must run (atexit hooks, writers, a cluster connection, coverage data).
# (An active profiler is seen by sys.getprofile(); cProfile itself is imported by torch.)
NEEDS_TEARDOWN = ("ray", "tensorboard", "torch.utils.tensorboard", "coverage")


def exit_code(code: object) -> int:
    """The status ``SystemExit(code)`` ends a process with (None: 0; a message: 1, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def teardown_needed() -> str | None:
    """Why the interpreter's own exit must run, or None when ``os._exit`` loses nothing."""
    loaded = next((name for name in NEEDS_TEARDOWN if name in sys.modules), None)
    if loaded:
        return f"{loaded} is loaded"
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return "a thread is still running"
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.active_children():
        return "a child process is still running"
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return "a tracer or profiler is active"
    return None


def fast_exit(code: int) -> None:
    """Flush what was printed and logged, then end the process with ``code``; returns if it cannot."""
    if teardown_needed() is not None:
        return
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()  # flush and close every handler (what atexit would do)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # | head closed the pipe: what was printed is gone either way
            pass
        except (OSError, ValueError):  # a full disk under a redirect: exit as Python would, saying nothing more
            code = code or 120
    os._exit(code)
