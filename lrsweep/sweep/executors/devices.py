"""Several devices on one box: one worker process per device, packs handed out as workers free up.

Each worker (spawned, pinned to its device, ``torch.set_num_threads`` set so workers do not
oversubscribe the cores) loads the data itself from the config, trains the packs it is sent with
:class:`~lrsweep.sweep.executors.local.PackRunner`, and streams epoch records and results back through its
own pipe. The parent alone writes the run directory. A worker that dies (killed, segfault, out of
memory) fails only its pack: the pack is retried as the same pack from its last checkpoint (workers
send each epoch's checkpoint to the parent, which writes it), then, if it dies again, one variant per
task from epoch 1; variants that kill a worker again are ``failed`` with the reason, and the sweep goes on.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from lrsweep.engine.common import STATUS_FAILED, EpochRecord, VariantResult
from lrsweep.errors import LrsweepError, UsageError
from lrsweep.sweep.executors.base import Executor

POLL_SECONDS = 1.0  # how often the parent looks at its workers when nothing arrives
STOP_SECONDS = 5.0  # how long a worker gets to exit after being told to stop
IDLE_RESTARTS = 3  # per device, deaths between tasks (a task's deaths are bounded by its one retry)


@dataclass
class _Task:
    id: int
    kind: str  # train | retrain
    pack: list
    until: int | None = None
    attempt: int = 0  # 0: first try; 1: the same pack again, from its checkpoint; 2: a variant alone
    records: dict = field(default_factory=dict)  # variant id -> epoch records received


class DevicesExecutor(Executor):
    """Packs spread over ``devices`` (e.g. ``["cuda:0", "cuda:1"]`` or ``["cpu", "cpu"]``), one worker each.

    Args:
        devices: one entry per worker process.
        threads: torch threads per worker (default: the machine's cores shared evenly).
    """

    backend = "devices"

    def __init__(self, devices: list[str], threads: int | None = None, jobs: int = 1):
        if not devices:
            raise UsageError("--devices needs at least one device")
        self.devices = list(devices)
        self.threads = threads or max(1, (os.cpu_count() or 1) // len(self.devices))
        self.jobs = jobs  # trials of your own code at once per device entry
        self.current: _Session | None = None

    @property
    def parallelism(self) -> int:
        return len(self.devices) * self.jobs  # one worker per device entry (trials: jobs per entry)

    @contextmanager
    def session(self, job, notice):
        if job.config.kind != "engine":  # your own code: its trials on the devices, from this process
            from lrsweep.sweep.executors.trials import TrialSession, slots_for

            with TrialSession(job, notice, slots_for(self.devices, self.jobs)) as trials:
                yield trials
            return
        session = _Session(self, job, notice)
        self.current = session
        try:
            yield session
        except BaseException:
            session.close(at_once=True)
            raise
        else:
            session.close()
        finally:
            self.current = None

    def pid_of(self, variant_id: str) -> int | None:
        """The process id of the worker training ``variant_id`` right now (None if none is)."""
        for worker in self.current.workers if self.current else []:
            if worker.task and any(v.id == variant_id for v in worker.task.pack):
                return worker.process.pid
        return None


class _Worker:
    def __init__(self, ctx, slot: int, device: str, job, threads: int):
        self.slot, self.device = slot, device
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=worker_main,
            args=(device, job.config, job.spec, threads, child),
            name=f"lrsweep-worker-{slot}-{device}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.task: _Task | None = None
        self.ready = False
        self.fatal: str | None = None
        self.dead = False


class _Session:
    def __init__(self, executor: DevicesExecutor, job, notice):
        import torch.multiprocessing

        self.ctx = torch.multiprocessing.get_context("spawn")
        self.job, self.notice, self.threads, self.devices = job, notice, executor.threads, executor.devices
        self.idle_deaths = {slot: 0 for slot in range(len(self.devices))}
        self.gone: list[str] = []  # why each lost worker went
        self.workers: list[_Worker] = []  # started with the first task: a resumed, finished sweep starts none
        self.ids = 0

    # ---- the Session interface

    def train(self, packs, sink, until=None) -> None:
        self._drive(deque(self._task("train", pack, until) for pack in packs), sink)

    def release(self, variant_ids) -> None:
        pass  # workers keep nothing between tasks

    def retrain(self, variant, callbacks):
        done = {}

        class Retrained:
            on_pack_start = staticmethod(lambda pack, device: None)
            on_epoch = staticmethod(callbacks.on_epoch)
            on_notice = staticmethod(self.notice)

            @staticmethod
            def on_result(_variant, result, device):
                done["result"] = (result, device)

        self._drive(deque([self._task("retrain", [variant], None)]), Retrained())
        return done["result"]

    def close(self, at_once: bool = False) -> None:
        for worker in self.workers:
            if not at_once and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self.workers:
            worker.process.join(0 if at_once else STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()

    # ---- the loop

    def _task(self, kind, pack, until, attempt=0) -> _Task:
        self.ids += 1
        return _Task(self.ids, kind, list(pack), until, attempt)

    def _drive(self, tasks: deque, sink) -> None:
        """Hand ``tasks`` to idle workers and relay what comes back, until every task has a result."""
        if tasks and not self.workers:
            self.workers = [_Worker(self.ctx, slot, d, self.job, self.threads) for slot, d in enumerate(self.devices)]
        while tasks or any(w.task for w in self.workers):
            live = [w for w in self.workers if not w.dead]
            if not live:
                raise LrsweepError("no worker process is left: " + "; ".join(self.gone[-len(self.workers) :]))
            for worker in live:
                if worker.ready and worker.task is None and tasks:  # a starting worker may yet fail to start
                    self._assign(worker, tasks.popleft(), sink)
            ready = set(wait([w.conn for w in live] + [w.process.sentinel for w in live], timeout=POLL_SECONDS))
            for worker in live:
                if worker.conn in ready:
                    self._receive(worker, sink)
                if worker.process.sentinel in ready or worker.dead:
                    self._receive(worker, sink)  # whatever it sent before it died
                    self._lost(worker, tasks, sink)

    def _assign(self, worker: _Worker, task: _Task, sink) -> None:
        worker.task = task
        if task.kind == "train":
            sink.on_pack_start(task.pack, worker.device)
        # the parent keeps the checkpoints: a pack that starts (or starts again) carries on from its last one
        resumable = task.kind == "train" and task.attempt < 2 and hasattr(sink, "resume_point")
        resume = sink.resume_point(task.pack) if resumable else None
        try:
            worker.conn.send((task.id, task.kind, task.pack, task.until, resume))
        except OSError:
            worker.dead = True

    def _receive(self, worker: _Worker, sink) -> None:
        while not worker.dead:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                worker.dead = True
                return
            self._handle(worker, message, sink)

    def _handle(self, worker: _Worker, message: tuple, sink) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "fatal":
            worker.fatal = message[1]
        elif kind == "notice":
            sink.on_notice(message[1])
        elif kind == "checkpoint" and worker.task and worker.task.id == message[1] and hasattr(sink, "on_checkpoint"):
            sink.on_checkpoint(message[2], message[3])
        elif kind == "epoch" and worker.task and worker.task.id == message[1]:
            _, _, variant_id, record = message
            worker.task.records.setdefault(variant_id, []).append(record)
            sink.on_epoch(variant_id, record)
        elif kind == "result" and worker.task and worker.task.id == message[1]:
            task, worker.task = worker.task, None
            for variant, result in zip(task.pack, message[2]):
                sink.on_result(variant, result, worker.device)
        elif kind == "error":
            message_text, exit_code = message[2], message[3]
            error = UsageError(message_text) if exit_code == 2 else LrsweepError(message_text)
            raise error

    def _lost(self, worker: _Worker, tasks: deque, sink) -> None:
        """A worker died: its task is retried once, a variant per task; then its variants are failed."""
        worker.dead = True
        worker.process.join(STOP_SECONDS)
        exited = _exit_reason(worker.process.exitcode)
        why = f"worker {worker.slot} ({worker.device}, pid {worker.process.pid}) {exited}"
        self.gone.append(f"{why} ({worker.fatal})" if worker.fatal else why)
        task, worker.task = worker.task, None
        if not worker.ready:  # it never started (it held no task): the device is unusable
            sink.on_notice(f"{why} before it was ready ({worker.fatal or 'no message'}); not using {worker.device}")
            return
        if task is not None:
            self._retry_or_fail(task, why, tasks, sink, worker.device)
        else:
            self.idle_deaths[worker.slot] += 1
        if task is not None or self.idle_deaths[worker.slot] <= IDLE_RESTARTS:
            self.workers[self.workers.index(worker)] = _Worker(
                self.ctx, worker.slot, worker.device, self.job, self.threads
            )

    def _retry_or_fail(self, task: _Task, why: str, tasks: deque, sink, device: str) -> None:
        """A pack is retried as the same pack, from its last checkpoint (so it computes what it would have);
        if that dies too, each variant alone from epoch 1; then the variants are failed."""
        what = f"{len(task.pack)} variant(s)" if task.kind == "train" else "the retrain"
        if task.attempt == 0:
            again = "the same pack from its last checkpoint" if len(task.pack) > 1 else "once"
            sink.on_notice(f"{why} while training {what}; retrying {again}")
            tasks.appendleft(self._task(task.kind, task.pack, task.until, attempt=1))
            return
        if task.attempt == 1 and len(task.pack) > 1:
            sink.on_notice(f"{why} again while training {what}; retrying each alone from epoch 1")
            for variant in reversed(task.pack):
                tasks.appendleft(self._task(task.kind, [variant], task.until, attempt=2))
            return
        sink.on_notice(f"{why} again while training {what}; marking it failed")
        for variant in task.pack:
            result = VariantResult(variant.id, STATUS_FAILED, error=f"the {why} while training it, twice")
            result.epochs = list(task.records.get(variant.id, []))
            sink.on_result(variant, result, device)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# --------------------------------------------------------------------------- the worker process


class _Forward:
    """Callbacks that send each epoch record to the parent as it happens."""

    def __init__(self, conn, task_id: int):
        self.conn, self.task_id = conn, task_id

    def on_epoch(self, variant_id: str, record: EpochRecord) -> None:
        _send(self.conn, ("epoch", self.task_id, variant_id, record))

    def on_checkpoint(self, variant_ids: list[str], state: dict) -> None:
        _send(self.conn, ("checkpoint", self.task_id, variant_ids, state))  # the parent writes it


def _quiet_when_orphaned(kind, value, traceback) -> None:
    """A worker's lost connection to a parent that is gone is no error worth a traceback: leave quietly."""
    if issubclass(kind, (BrokenPipeError, ConnectionResetError, EOFError)):
        os._exit(0)
    sys.__excepthook__(kind, value, traceback)


def _send(conn, message) -> None:
    """Send to the parent; when the parent is gone (killed), leave at once and quietly: no one is listening."""
    try:
        conn.send(message)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        os._exit(0)


def worker_main(device: str, config, spec, threads: int, conn) -> None:
    """A worker's life: load the data onto ``device``, then train the tasks that arrive until told to stop."""
    # Ctrl-C, or a scheduler's SIGTERM to the whole job, is the parent's to handle: it records what was
    # interrupted, then kills the workers (a worker dying first would look like a crash of its pack)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.excepthook = _quiet_when_orphaned  # multiprocessing's fd-sharing thread reports through it
    try:
        runner, splits = _start_worker(device, config, spec, threads, conn)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops using this device
        _send(conn, ("fatal", f"{type(exc).__name__}: {exc}"))
        return
    _send(conn, ("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None  # the parent is gone
        if message is None:
            conn.close()
            os._exit(0)  # nothing to save here; skip the interpreter's (and torch's) slow teardown
        task_id, kind, pack, until, resume = message
        callbacks = _Forward(conn, task_id)
        try:
            if kind == "retrain":
                test = (splits.test_x, splits.test_y)
                results = [runner.retrain(pack[0], splits.train_plus_val(), test, callbacks)]
            else:
                results = runner.train(pack, callbacks, until, resume)
        except LrsweepError as exc:
            _send(conn, ("error", task_id, str(exc), exc.exit_code))
            continue
        _send(conn, ("result", task_id, results))
        runner.release([v.id for v in pack])  # nothing kept: the next task may be another pack


def _start_worker(device: str, config, spec, threads: int, conn):
    import torch

    from lrsweep.sweep.executors.base import evaluation_split, load_data
    from lrsweep.sweep.executors.local import PackRunner

    torch.set_num_threads(threads)
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    splits = load_data(config, device)
    runner = PackRunner(
        config.engine,
        spec,
        (splits.train_x, splits.train_y),
        evaluation_split(splits),
        notice=lambda message: _send(conn, ("notice", message)),
    )
    return runner, splits
