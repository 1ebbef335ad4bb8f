"""Trials of your own code (``command:`` or ``function:``) on this machine, up to one per slot at once.

A slot is a device: ``--jobs N`` gives N slots on the config's device, ``--devices cuda:0,cuda:1`` one per entry
(times ``--jobs``). :class:`TrialSession` is the executors' :class:`~lrsweep.sweep.executors.base.Session` for
trials: ``train(packs, sink, until)`` starts (or continues) every trial of ``packs`` and returns once each has
reported epoch ``until`` or ended; at a rung a trial is paused (a command's process group gets SIGSTOP, a function
waits in ``trial.report``), its slot goes to the next trial, and ``train`` continues it when it is promoted or
``release`` stops it when it is pruned. With ``trials.pause: false`` (and on Ray) a trial is stopped at the rung
instead and a promoted one trains again from epoch 1. Closing the session stops every trial's process group
(SIGTERM, SIGKILL after ``trials.stop_grace``), also on Ctrl-C.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from pathlib import Path

from lrsweep.engine.common import BLOWUP_FACTOR, EpochRecord, VariantResult
from lrsweep.errors import UsageError
from lrsweep.sweep.trials.command import (
    METRICS_FILE,
    CommandProcess,
    command_argv,
    stop_all,
    trial_env,
    trial_values,
    visible_device,
)
from lrsweep.sweep.trials.function import GO, FunctionThread
from lrsweep.sweep.trials.protocol import DIVERGED, DONE, FAILED, FUNCTION_PROTOCOL, PROTOCOL, Reports

POLL_SECONDS = 0.05  # how long the loop waits for a function's report before it looks at the processes again
RUNNING, PAUSED, ENDING = "running", "paused", "ending"


class _Handle:
    """One started trial: its process or thread, what it reported, where it is."""

    def __init__(self, variant, device: str, runner, reports: Reports, metrics_file: Path | None, computed: dict):
        self.variant, self.device, self.runner, self.reports = variant, device, runner, reports
        self.metrics_file, self.offset, self.partial = metrics_file, 0, b""
        self.computed = computed
        self.state = RUNNING
        self.stop_reason: tuple[str, str | None] | None = None  # why lrsweep stopped it (status, error)
        self.at_rung = False  # stopped at a rung (trials.pause: false): its epochs so far are a paused result
        self.sent: dict[int, dict] = {}  # epoch -> the row last sent to the sink
        self.seconds: dict[int, float] = {}  # epoch -> wall seconds it took (measured)
        self.mark = self.started = time.monotonic()
        self.active = 0.0  # seconds spent running (paused time not counted)

    @property
    def is_command(self) -> bool:
        return isinstance(self.runner, CommandProcess)

    def training_seconds(self) -> float:
        return self.active + (time.monotonic() - self.started if self.state == RUNNING else 0.0)


class TrialSession:
    """Trials on ``slots`` (one device string per slot) of this machine; see the module docstring."""

    def __init__(self, job, notice, slots: list[str], pause: bool | None = None):
        self.config, self.notice, self.slots = job.config, notice, list(slots)
        self.kind = self.config.kind
        self.function = job.function if self.kind == "function" else None
        self.pause = self.config.trials.pause if pause is None else pause
        self.events: queue.Queue[tuple] = queue.Queue()  # what function threads post
        self.handles: dict[str, _Handle] = {}  # started and not ended: running, paused or ending
        self.busy: list[str | None] = [None] * len(self.slots)  # variant id training in each slot
        self.settled: set[str] = set()  # variants done with in this train() call
        self.dropped: set[str] = set()  # non-numeric names already noticed

    def __enter__(self):
        if self.kind == "function" and self.function is None:
            from lrsweep.errors import ConfigError
            from lrsweep.registry import import_object

            try:
                self.function = import_object(self.config.function, key="function")
            except ConfigError as err:
                raise ConfigError(
                    f"{err.message} (a function given from Python is given again to resume: "
                    "lrsweep.grid(train, resume=RUN_DIR))",
                    key="function",
                ) from None
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- the Session interface

    def train(self, packs, sink, until: int | None = None) -> None:
        """Every trial of ``packs`` up to epoch ``until`` (default: the last), started or continued here."""
        epochs = self.config.train.epochs
        until = min(until or epochs, epochs)
        todo = deque(v for pack in packs for v in pack)
        waiting = {v.id for v in todo}
        self.settled = set()
        while waiting:
            self._fill(todo, sink, until)
            self._step(sink, until)
            waiting -= self.settled

    def release(self, variant_ids) -> None:
        """Stop these trials (pruned): their process groups are gone when this returns; functions stop at their
        next report."""
        handles = [self.handles.pop(vid) for vid in variant_ids if vid in self.handles]
        for handle in handles:
            self._free(handle)
            if not handle.is_command:
                handle.runner.stop()
        stop_all([h.runner for h in handles if h.is_command], self.config.trials.stop_grace)

    def retrain(self, variant, callbacks):
        raise UsageError("your own training code has no train+val step for lrsweep to call: retrain is off")

    def close(self) -> None:
        """Stop every trial still started (SIGTERM, then SIGKILL after the grace period; functions at their next
        report, waited for as long)."""
        handles, self.handles = list(self.handles.values()), {}
        grace = self.config.trials.stop_grace
        for handle in handles:
            if not handle.is_command:
                handle.runner.stop()
        try:
            stop_all([h.runner for h in handles if h.is_command], grace)
        finally:
            deadline = time.monotonic() + grace
            for handle in handles:
                if not handle.is_command:
                    handle.runner.thread.join(max(0.0, deadline - time.monotonic()))

    # ---- starting and continuing

    def _fill(self, todo: deque, sink, until: int) -> None:
        """Start (or continue) what the free slots can take, in order."""
        for variant in list(todo):
            handle = self.handles.get(variant.id)
            if handle is not None and handle.state != PAUSED:
                continue  # still ending (stopped at a rung before): started afresh once it is gone
            slot = self._free_slot(handle.device if handle is not None else None)
            if slot is None:
                if handle is None:
                    return  # no free slot at all
                continue  # its own device is busy: a later trial may fit another slot
            todo.remove(variant)
            if handle is not None:
                self._continue(handle, slot, sink, until)
            else:
                self._start(variant, slot, sink)

    def _free_slot(self, device: str | None) -> int | None:
        for slot, taken in enumerate(self.busy):
            if taken is None and (device is None or self.slots[slot] == device):
                return slot
        return None

    def _start(self, variant, slot: int, sink) -> None:
        device = self.slots[slot]
        trial_dir, stdout_log, stderr_log, run_dir = sink.trial_paths(variant.id)
        config = self.config
        reports = Reports(config.train.epochs, config.select.metric, config.select.direction, BLOWUP_FACTOR)
        seen, cuda_visible = visible_device(device) if self.kind == "command" else (device, None)
        values = trial_values(variant.lr, variant.seed, config.train.epochs, trial_dir, seen, variant.id, run_dir)
        runner: CommandProcess | FunctionThread
        metrics_file: Path | None = None
        if self.kind == "command":
            metrics_file = reports_file = trial_dir / METRICS_FILE
            reports_file.unlink(missing_ok=True)  # a trial started again reports afresh
            argv = command_argv(config.command, values, config.params)
            env = trial_env(values, config.params, reports_file, config.trials.env, cuda_visible)
            cwd = str(Path(config.trials.cwd).expanduser()) if config.trials.cwd else str(Path.cwd())
            try:
                process = CommandProcess(argv, env, cwd, stdout_log, stderr_log)
            except OSError as exc:  # a program or folder that is not there (where no launcher reports it)
                sink.on_pack_start([variant], device)
                failed = VariantResult(variant.id, FAILED, error=f"cannot start {argv[0]} in {cwd}: {exc.strerror}")
                sink.on_result(variant, failed, device)
                self.settled.add(variant.id)
                return
            runner, computed = process, {"trial": "command", "argv": argv, "cwd": cwd, "pid": process.pid}
            if cuda_visible is not None:
                computed["cuda_visible_devices"] = cuda_visible
        else:
            assert self.function is not None  # imported on entering the session
            runner = FunctionThread(self.function, values, config.params, self.events.put)
            computed = {"trial": "function", "function": config.function}
        handle = _Handle(variant, device, runner, reports, metrics_file, {**computed, "device": device})
        self.handles[variant.id] = handle
        self.busy[slot] = variant.id
        sink.on_pack_start([variant], device)

    def _continue(self, handle: _Handle, slot: int, sink, until: int) -> None:
        """A trial paused at a rung, promoted: it trains on from where it stopped."""
        self.busy[slot] = handle.variant.id
        handle.state, handle.started = RUNNING, time.monotonic()
        handle.mark = handle.started
        self._progress(handle, sink, until)  # epochs it reported before the pause took hold
        if handle.state == RUNNING:
            handle.runner.resume() if handle.is_command else handle.runner.answer(GO)

    # ---- the loop

    def _step(self, sink, until: int) -> None:
        """Take what the trials reported, end what has ended, stop what overran its time."""
        try:
            event = self.events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            event = None
        while event is not None:
            self._event(event, sink, until)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        for handle in list(self.handles.values()):
            if not handle.is_command:
                continue
            self._read(handle, sink, until)
            if handle.runner.finished():
                self._read(handle, sink, until)
                self._ended(handle, sink, until, exit_code=handle.runner.exit_code())
        self._check_timeouts(sink, until)

    def _event(self, event: tuple, sink, until: int) -> None:
        kind, runner = event[0], event[1]
        handle = next((h for h in self.handles.values() if h.runner is runner), None)
        if handle is None:
            if kind == "report":
                runner.stop()  # a trial lrsweep let go of (timed out, pruned): it stops here
            return
        if kind == "report":
            handle.reports.add(event[2], event[3])
            self._note_time(handle, time.monotonic())
            self._progress(handle, sink, until)
            if handle.state == RUNNING:
                runner.answer(GO)
        elif kind == "exit":
            self._ended(handle, sink, until, error=event[2], trace=event[3])

    def _read(self, handle: _Handle, sink, until: int) -> None:
        """New lines from the process's stdout and its metrics file."""
        got = False
        for at, line in handle.runner.take_lines():
            if handle.reports.line(line):
                self._note_time(handle, at)
                got = True
        for line in self._file_lines(handle):
            if handle.reports.line(line):
                self._note_time(handle, time.monotonic())
                got = True
        if got:
            self._progress(handle, sink, until)

    def _file_lines(self, handle: _Handle) -> list[str]:
        path = handle.metrics_file
        try:
            with open(path, "rb") as f:  # type: ignore[arg-type]
                f.seek(handle.offset)
                data = handle.partial + f.read()
                handle.offset = f.tell()
        except (OSError, TypeError):
            return []
        complete, _, handle.partial = data.rpartition(b"\n")
        return complete.decode("utf-8", errors="replace").splitlines() if complete else []

    def _note_time(self, handle: _Handle, at: float) -> None:
        epoch = handle.reports.last
        if epoch and epoch not in handle.seconds:
            handle.seconds[epoch] = round(max(0.0, at - handle.mark), 3)
            handle.mark = at

    def _progress(self, handle: _Handle, sink, until: int) -> None:
        """Send new rows up to ``until`` to the sink; stop a trial that must stop; pause one at the rung."""
        for row in handle.reports.rows:
            if row["epoch"] > until:
                break
            full = {**row, "seconds": row.get("seconds", handle.seconds.get(row["epoch"], 0.0))}
            if handle.sent.get(row["epoch"]) != full:
                handle.sent[row["epoch"]] = full
                sink.on_epoch(handle.variant.id, EpochRecord.from_row(full))
        if handle.state != RUNNING:
            return
        if handle.reports.verdict is not None:
            self._stop(handle, handle.reports.verdict)
        elif handle.reports.last >= until and until < self.config.train.epochs:
            self._rung(handle, sink, until)

    def _rung(self, handle: _Handle, sink, until: int) -> None:
        """At the rung: paused in place (its slot freed), or stopped to train again from epoch 1 if promoted."""
        if self.pause:
            handle.active += time.monotonic() - handle.started
            handle.state = PAUSED
            if handle.is_command:
                handle.runner.pause()
            self._free(handle)
            self.settled.add(handle.variant.id)
            sink.on_result(handle.variant, self._result(handle, DONE, None, until), handle.device)
        else:
            handle.at_rung = True
            self._stop(handle, (DONE, None))

    def _stop(self, handle: _Handle, reason: tuple[str, str | None]) -> None:
        """lrsweep ends this trial (diverged, failed, timed out, at a rung): its process group is stopped now,
        a function at its next report; the result is recorded once it is gone."""
        handle.stop_reason = reason
        if handle.is_command:
            stop_all([handle.runner], self.config.trials.stop_grace)
        else:
            handle.runner.stop()
        handle.state = ENDING

    def _check_timeouts(self, sink, until: int) -> None:
        limit = self.config.trials.timeout
        if limit is None:
            return
        for handle in list(self.handles.values()):
            if handle.state == RUNNING and handle.training_seconds() > limit:
                why = f"timed out after {limit:g} s of training (trials.timeout)"
                self._stop(handle, (FAILED, why))
                if not handle.is_command:  # a thread cannot be killed: recorded now, let go of
                    self._ended(handle, sink, until, error=why)

    def _ended(self, handle: _Handle, sink, until: int, exit_code=None, error=None, trace=None) -> None:
        """The trial's process has exited (or its function returned): record how it ended."""
        if handle.state == RUNNING:
            handle.active += time.monotonic() - handle.started
            handle.state = ENDING  # its clock has stopped: training_seconds() is `active` from here on
        self.handles.pop(handle.variant.id, None)
        self._free(handle)
        self.settled.add(handle.variant.id)
        if handle.at_rung:
            sink.on_result(handle.variant, self._result(handle, DONE, None, until), handle.device)
            return
        if handle.stop_reason is not None:
            status, why = handle.stop_reason
        else:
            if handle.is_command:
                error, trace = self._exit_error(handle, exit_code)
            status, why = handle.reports.finish(error)
            if why and not handle.is_command and not handle.reports.rows and error is None:
                why = f"reported no epoch: {FUNCTION_PROTOCOL}"
        self._note_dropped(handle)
        result = self._result(handle, status, why, None)
        result.traceback = trace if status == FAILED else None
        if handle.is_command:
            result.computed = {**handle.computed, "exit_code": exit_code}
        sink.on_result(handle.variant, result, handle.device)

    def _exit_error(self, handle: _Handle, code: int | None) -> tuple[str | None, str | None]:
        tail = handle.runner.stderr_tail()
        if code == 0:
            return None, "\n".join(tail) or None
        if code is not None and code < 0:
            import signal

            what = f"was killed by {signal.Signals(-code).name}" if -code in signal.valid_signals() else "was killed"
        else:
            what = f"exited with code {code}"
        last = f": {tail[-1].strip()[:300]}" if tail else " (nothing on stderr)"
        return what + last, "\n".join(tail) or None

    def _result(self, handle: _Handle, status: str, error: str | None, until: int | None) -> VariantResult:
        rows = [r for r in handle.reports.rows if until is None or r["epoch"] <= until]
        records = [EpochRecord.from_row(handle.sent.get(r["epoch"], r)) for r in rows]
        result = VariantResult(handle.variant.id, status, epochs=records, error=error)
        # A variant's seconds are the sum of its epochs' (as for lrsweep's own loop); the first epoch's include
        # the trial's start-up (a process: Python, imports, loading data).
        result.seconds = sum(r.seconds for r in records if r.seconds) if records else handle.training_seconds()
        result.computed = dict(handle.computed)
        return result

    def _free(self, handle: _Handle) -> None:
        self.busy = [None if vid == handle.variant.id else vid for vid in self.busy]

    def _note_dropped(self, handle: _Handle) -> None:
        new = handle.reports.dropped - self.dropped
        if new:
            self.dropped |= new
            names = ", ".join(sorted(new))
            self.notice(f"ignored values that are not numbers: {names} (reported by {handle.variant.id})")


def slots_for(devices: list[str], jobs: int) -> list[str]:
    """One slot per device entry, times ``jobs``."""
    return [device for device in devices for _ in range(jobs)]


def trial_device(name: str) -> str:
    """The config's ``device`` as a trial gets it: ``auto`` resolved (cuda, mps or cpu), others checked."""
    from lrsweep.engine.device import resolve_device

    device = resolve_device(name)
    return name if name != "auto" else device.type


__all__ = ["DIVERGED", "PROTOCOL", "TrialSession", "slots_for", "trial_device"]
