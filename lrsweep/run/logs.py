"""A trial's own output, kept in its variant folder: ``stdout.log`` and ``stderr.log``.

A command's process writes them while it runs (its stderr straight into the file, its stdout through lrsweep,
which reads the reports from it); a trial that ran elsewhere (a Ray task) has its output appended when its
result comes back. Unlike the run's other files they are appended, not replaced: a trial started again (a
resume, a promotion that retrains from epoch 1) keeps the output of every attempt.
"""

from __future__ import annotations

from pathlib import Path

STDOUT_LOG, STDERR_LOG = "stdout.log", "stderr.log"
AGAIN = b"\n---- lrsweep: the trial starts again ----\n"  # between two attempts' output


def trial_paths(store, variant_id: str) -> tuple[Path, Path, Path, Path]:
    """The trial's folder, its stdout and stderr logs (marked where a new attempt starts), and the run directory."""
    folder = store.variant_dir(variant_id)
    folder.mkdir(parents=True, exist_ok=True)
    logs = folder / STDOUT_LOG, folder / STDERR_LOG
    for log in logs:
        if log.exists() and log.stat().st_size:
            with open(log, "ab") as f:
                f.write(AGAIN)
    return folder, *logs, store.path


def append_logs(store, variant_id: str, stdout: str, stderr: str) -> None:
    """Output that came back with a remote trial's result (its folder was made by :func:`trial_paths`)."""
    folder = store.variant_dir(variant_id)
    folder.mkdir(parents=True, exist_ok=True)
    for log, text in ((folder / STDOUT_LOG, stdout), (folder / STDERR_LOG, stderr)):
        with open(log, "ab") as f:
            f.write(text.encode("utf-8", errors="replace"))
