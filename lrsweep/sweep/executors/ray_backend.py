"""The Ray backend: each pack is one Ray task with the resources it needs; the driver writes the run. Trials of
your own code are one task each (:mod:`lrsweep.sweep.executors.ray_trials`).

``--address`` joins an existing cluster (``auto``, ``HOST:PORT``, ``ray://HOST:10001``); without it a
local Ray instance is started (or the one this process already started is used). A task that fails is
retried by Ray itself (``max_retries`` for a lost worker or node, and with ``retry_exceptions`` for
the errors in :data:`RETRY_EXCEPTIONS` raised in the task); when the retries are spent its variants are
``failed`` with the reason. Every node needs lrsweep installed and the dataset readable (each task
loads the data from the config).
"""

from __future__ import annotations

import functools
import json
import socket
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from lrsweep.engine.common import STATUS_FAILED, VariantResult
from lrsweep.errors import LrsweepError, UsageError
from lrsweep.sweep.executors.base import Executor

MAX_RETRIES = 1  # Ray retries a task once (a lost worker, or an error raised in it), then its variants fail
# What Ray retries when raised in a task (a flaky file system, a device out of memory); an lrsweep error is
# a verdict on the config, not bad luck: it is not retried but stops the sweep, as it does locally.
RETRY_EXCEPTIONS = [OSError, RuntimeError, MemoryError]
INSTALL_HINT = "pip install 'lrsweep[ray]'"


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError(f"--backend ray needs Ray: {INSTALL_HINT}") from None
    return ray


class RayExecutor(Executor):
    """Packs as Ray tasks.

    Args:
        address: the cluster to join; None starts a local instance.
        num_cpus: CPUs of a local instance (None: all of this machine's).
        max_retries: Ray's retries per task.
    """

    backend = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = MAX_RETRIES):
        self.ray = import_ray()
        self.address, self.num_cpus, self.max_retries = address, num_cpus, max_retries
        self.started = False  # whether this executor started Ray (and so shuts it down)

    @property
    def parallelism(self) -> int:
        self._connect()
        resources = self.ray.cluster_resources()
        return max(1, int(resources.get("GPU", 0) or resources.get("CPU", 1)))

    @contextmanager
    def session(self, job, notice):
        self._connect()
        _driver_messages_to_stderr(self.ray)
        if job.config.kind != "engine":  # your own code: one task per trial
            from lrsweep.sweep.executors.ray_trials import RayTrialSession

            resources = task_resources(self.ray, job.config.device)
            with RayTrialSession(self.ray, job, notice, resources, self.max_retries, RETRY_EXCEPTIONS) as trials:
                yield trials
            return
        yield _Session(self, job, notice)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def _connect(self) -> None:
        if self.ray.is_initialized():
            return
        options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if self.address:
            self.ray.init(address=self.address, **options)
        else:
            self.ray.init(num_cpus=self.num_cpus, **options)
        self.started = True


def _driver_messages_to_stderr(ray) -> None:
    """Ray's driver prints raylet and worker messages ("A worker died ...") on stdout, which belongs to
    results (``--json``); send them to stderr. A private Ray function: left alone if it is not there."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(worker, "print_to_stdstream", None)
    if worker is None or original is None or isinstance(original, _ToStderr):
        return
    worker.print_to_stdstream = _ToStderr(original)


class _ToStderr:
    """Ray's message printer with every message marked for stderr (a class: a second session sees it is done)."""

    def __init__(self, original: Callable[..., Any]):
        self.original = original

    def __call__(self, data: dict, *args: Any, **kwargs: Any) -> Any:
        return self.original({**data, "is_err": True}, *args, **kwargs)


def task_resources(ray, device: str) -> dict:
    """One GPU per task when the config's device is CUDA (or auto on a cluster with GPUs), else one CPU."""
    gpu = device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    return {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": 1}


class _Session:
    def __init__(self, executor: RayExecutor, job, notice):
        ray = executor.ray
        self.ray, self.job, self.notice = ray, job, notice
        resources = task_resources(ray, job.config.device)
        self.remote = ray.remote(train_task).options(
            max_retries=executor.max_retries, retry_exceptions=RETRY_EXCEPTIONS, **resources
        )
        self.config = ray.put(job.config)  # shipped once, not once per task

    def train(self, packs, sink, until=None) -> None:
        running = {}
        for pack in packs:
            running[self.remote.remote(self.config, self.job.spec, "train", pack, until)] = pack
            sink.on_pack_start(pack, "ray")
        while running:
            [ref], _ = self.ray.wait(list(running), num_returns=1)
            pack = running.pop(ref)
            for variant, (result, device) in zip(pack, self._outcome(ref, pack)):
                for record in result.epochs:
                    sink.on_epoch(variant.id, record)
                sink.on_result(variant, result, device)

    def release(self, variant_ids) -> None:
        pass  # tasks keep nothing

    def retrain(self, variant, callbacks):
        ref = self.remote.remote(self.config, self.job.spec, "retrain", [variant], None)
        [(result, device)] = self._outcome(ref, [variant])
        for record in result.epochs:
            callbacks.on_epoch(variant.id, record)
        return result, device

    def _outcome(self, ref, pack) -> list[tuple[VariantResult, str]]:
        """The task's (result, device) per variant; a task that failed for good fails its variants."""
        try:
            results, device, notices = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, LrsweepError):  # a usage error (e.g. --engine vectorized): stop, as locally
                raise exc.cause from None
            return self._failed(exc, pack)
        except self.ray.exceptions.RayError as exc:
            return self._failed(exc, pack)
        for message in notices:
            self.notice(message)
        return [(result, device) for result in results]

    def _failed(self, exc: Exception, pack) -> list[tuple[VariantResult, str]]:
        reason = _first_line(exc)
        self.notice(f"a Ray task failed, retries spent ({reason}); marking its {len(pack)} variant(s) failed")
        return [(VariantResult(v.id, STATUS_FAILED, error=f"Ray task failed: {reason}"), "ray") for v in pack]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:300]


# --------------------------------------------------------------------------- inside a Ray worker


def train_task(config, spec, kind: str, pack: list, until: int | None):
    """One pack (or the retrain) in a Ray worker: ``(results, device, notices)``."""
    import ray
    import torch

    from lrsweep.sweep.executors.local import PackRunner

    gpu_ids = ray.get_gpu_ids()
    device = "cuda" if gpu_ids else "cpu"
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    splits = _data(json.dumps(config.to_dict(), sort_keys=True, default=str), device)
    notices: list[str] = []
    evaluation = (splits.val_x, splits.val_y) if len(splits.val_x) else None
    runner = PackRunner(config.engine, spec, (splits.train_x, splits.train_y), evaluation, notices.append)
    if kind == "retrain":
        results = [runner.retrain(pack[0], splits.train_plus_val(), (splits.test_x, splits.test_y), None)]
    else:
        results = runner.train(pack, None, until)
    where = f"cuda:{gpu_ids[0]}" if gpu_ids else "cpu"
    return results, f"{where}@{socket.gethostname()}", notices


@functools.lru_cache(maxsize=2)
def _data(config_json: str, device: str):
    """The splits, loaded once per Ray worker process and config (tasks of one sweep share them)."""
    from lrsweep.config import parse_config
    from lrsweep.sweep.executors.base import load_data

    return load_data(parse_config(json.loads(config_json)), device)
