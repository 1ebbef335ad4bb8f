"""Trials of your own code (``command:``, ``function:``) on Ray: one Ray task per trial, with one GPU on a GPU
cluster (Ray sets the task's ``CUDA_VISIBLE_DEVICES``, which the command inherits).

Inside the task the trial runs as it does locally (:class:`~lrsweep.sweep.executors.trials.TrialSession`, one
slot), its output in a temporary folder that comes back with the result; the driver writes it into
``variants/<id>/stdout.log`` and ``stderr.log``. A task keeps nothing between calls, so with ``prune`` a trial
stops at the rung and a promoted one trains again from epoch 1, as packs do on Ray. ``{trial_dir}`` is the
driver's path, made on the node that runs the task: on a cluster, put the run directory (``--out``) on a file
system every node shares to keep what your script saves there.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from lrsweep.engine.common import STATUS_FAILED, VariantResult
from lrsweep.errors import LrsweepError, UsageError


class RayTrialSession:
    """The Session of a Ray executor for trials of your own code."""

    def __init__(self, ray, job, notice, resources: dict, max_retries: int, retry_exceptions: list):
        self.ray, self.job, self.notice = ray, job, notice
        self.remote = ray.remote(trial_task).options(
            max_retries=max_retries, retry_exceptions=retry_exceptions, **resources
        )
        self.config = ray.put(job.config)
        self.function = ray.put(job.function) if job.function is not None else None
        self.running: dict = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for ref in list(self.running):
            self.ray.cancel(ref)  # a KeyboardInterrupt inside the task: it stops its process group
        self.running.clear()
        return False

    def train(self, packs, sink, until=None) -> None:
        for variant in (v for pack in packs for v in pack):
            trial_dir, _out, _err, run_dir = sink.trial_paths(variant.id)
            ref = self.remote.remote(self.config, self.function, variant, until, str(trial_dir), str(run_dir))
            self.running[ref] = variant
            sink.on_pack_start([variant], "ray")
        while self.running:
            [ref], _ = self.ray.wait(list(self.running), num_returns=1)
            variant = self.running.pop(ref)
            result, device, stdout, stderr = self._outcome(ref, variant)
            sink.on_trial_logs(variant.id, stdout, stderr)
            for record in result.epochs:
                sink.on_epoch(variant.id, record)
            sink.on_result(variant, result, device)

    def release(self, variant_ids) -> None:
        pass  # tasks keep nothing

    def retrain(self, variant, callbacks):
        raise UsageError("your own training code has no train+val step for lrsweep to call: retrain is off")

    def _outcome(self, ref, variant) -> tuple[VariantResult, str, str, str]:
        try:
            result, device, notices, stdout, stderr = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, LrsweepError):  # e.g. a function that cannot be imported: stop, as locally
                raise exc.cause from None
            return self._failed(exc, variant), "ray", "", ""
        except self.ray.exceptions.RayError as exc:
            return self._failed(exc, variant), "ray", "", ""
        for message in notices:
            self.notice(message)
        return result, device, stdout, stderr

    def _failed(self, exc: Exception, variant) -> VariantResult:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[-1] if text else ''}"[:300]
        self.notice(f"the Ray task of trial {variant.id} failed, retries spent ({reason})")
        return VariantResult(variant.id, STATUS_FAILED, error=f"Ray task failed: {reason}")


class _Collect:
    """The sink inside a Ray task: keeps what the trial reports, to send back."""

    def __init__(self, trial_dir: str, logs: str, run_dir: str):
        self.dir, self.logs, self.run_dir = Path(trial_dir), Path(logs), Path(run_dir)
        self.records: dict = {}
        self.result: VariantResult | None = None
        self.notices: list[str] = []

    def trial_paths(self, variant_id: str):
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir, self.logs / "stdout.log", self.logs / "stderr.log", self.run_dir

    def on_pack_start(self, pack, device) -> None:
        pass

    def on_epoch(self, variant_id, record) -> None:
        self.records[record.epoch] = record

    def on_result(self, variant, result, device) -> None:
        self.result = result

    def on_notice(self, message: str) -> None:
        self.notices.append(message)

    def text(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""


def trial_task(config, function, variant, until: int | None, trial_dir: str, run_dir: str):
    """One trial in a Ray worker: ``(result, device, notices, stdout, stderr)``."""
    import ray

    from lrsweep.sweep.executors.base import Job
    from lrsweep.sweep.executors.trials import TrialSession

    device = "cuda" if ray.get_gpu_ids() else "cpu"  # Ray's CUDA_VISIBLE_DEVICES already names the task's GPU
    with tempfile.TemporaryDirectory(prefix="lrsweep-trial-") as logs:
        sink = _Collect(trial_dir, logs, run_dir)
        with TrialSession(Job(config, None, None, function), sink.on_notice, [device], pause=False) as session:
            session.train([[variant]], sink, until)
        assert sink.result is not None
        sink.result.epochs = [sink.records.get(r.epoch, r) for r in sink.result.epochs]
        return (
            sink.result,
            f"{device}@{socket.gethostname()}",
            sink.notices,
            sink.text("stdout.log"),
            sink.text("stderr.log"),
        )
