"""Executors: where the runner's packs train. The runner hands packs over and gets epoch records
and results back through a :class:`Sink`; only the runner's side writes the run directory.

- ``local``: in this process, on the config's device (the default).
- ``devices``: one worker process per listed device (``--devices cuda:0,cuda:1`` / ``all`` / ``cpu,cpu``).
- ``ray``: one Ray task per pack, on an existing cluster (``--address``) or a local one.

Trials of your own code (``command:``, ``function:``) train one per trial, not in packs: ``trials`` runs them on
this machine for ``local`` (``--jobs`` at once) and ``devices`` (one per device entry); ``ray_trials`` makes each
one Ray task.
"""

from __future__ import annotations

from lrsweep.errors import UsageError
from lrsweep.sweep.executors.base import Executor, Job, Session, Sink, load_data
from lrsweep.sweep.executors.local import LocalExecutor, PackRunner

BACKENDS = ("local", "ray")

__all__ = [
    "BACKENDS",
    "Executor",
    "Job",
    "Session",
    "Sink",
    "LocalExecutor",
    "PackRunner",
    "load_data",
    "make_executor",
    "parse_devices",
]


def parse_devices(text: str) -> list[str]:
    """``cuda:0,cuda:1`` / ``all`` (every CUDA device) / ``cpu,cpu`` -> checked device names."""
    import torch

    from lrsweep.engine.device import resolve_device

    if text.strip() == "all":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise UsageError(
                "--devices all: this machine has no CUDA device (list devices instead, e.g. --devices cpu,cpu)"
            )
        return [f"cuda:{i}" for i in range(count)]
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(f"--devices expects a comma-separated list (cuda:0,cuda:1 or cpu,cpu) or all, got {text!r}")
    devices = []
    for name in names:
        device = resolve_device(name, key="--devices")
        devices.append(f"cuda:{device.index or 0}" if device.type == "cuda" else str(device))
    return devices


def make_executor(
    backend: str = "local", devices: str | None = None, address: str | None = None, jobs: int = 1
) -> Executor:
    """The executor the command line asked for; impossible combinations are usage errors.

    ``jobs``: trials of your own code (command:, function:) at once, per device entry with ``devices``.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    if backend not in BACKENDS:
        raise UsageError(f"--backend: got {backend!r} (valid: {', '.join(BACKENDS)})")
    if address and backend != "ray":
        raise UsageError("--address needs --backend ray")
    if backend == "ray":
        if devices:
            raise UsageError("--devices and --backend ray exclude each other: Ray places each pack on a GPU itself")
        if jobs != 1:
            raise UsageError("--jobs and --backend ray exclude each other: Ray runs as many tasks as it has resources")
        from lrsweep.sweep.executors.ray_backend import RayExecutor

        return RayExecutor(address=address)
    if devices:
        from lrsweep.sweep.executors.devices import DevicesExecutor

        return DevicesExecutor(parse_devices(devices), jobs=jobs)
    return LocalExecutor(jobs)
