"""A function trial: your Python function, called with a :class:`Trial`, in a thread of its own.

``trial.report(epoch, **metrics)`` hands the epoch to lrsweep and waits for its answer: carry on, wait (paused
at a rung until the trial is promoted), or stop (:class:`TrialStopped` is raised inside your function: pruned,
diverged, timed out, interrupted). A function cannot be killed from outside; lrsweep stops it at its next report.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

GO, STOP = "go", "stop"


class TrialStopped(BaseException):
    """Raised inside ``trial.report`` when lrsweep stops the trial (pruned at a rung, diverged, timed out,
    interrupted). A BaseException, like KeyboardInterrupt, so that ``except Exception`` in your code lets it pass;
    use ``finally`` to clean up."""


class Trial:
    """What your function is called with: one variant's values, and ``report``.

    Attributes:
        lr, seed, epochs: what to train (train ``epochs`` epochs and report each).
        device: where (``cpu``, ``cuda:1``, ...): from ``device:`` or ``--devices``.
        dir: the trial's own folder in the run directory (``variants/<id>/``), for anything you want to keep.
        params: the config's ``params:``.
        id: the variant's id.
    """

    def __init__(self, values: dict, params: dict, reply: Callable[[int, dict], str]):
        self.lr: float = values["lr"]
        self.seed: int = values["seed"]
        self.epochs: int = values["epochs"]
        self.device: str = values["device"]
        self.dir = Path(values["trial_dir"])
        self.id: str = values["trial_id"]
        self.params: dict = dict(params)
        self._reply = reply

    def report(self, epoch: int, **metrics: Any) -> None:
        """Report one epoch's metrics (numbers, or 0-d tensors); raises :class:`TrialStopped` when the trial must
        stop, and may wait first (paused at a rung until promoted)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ValueError(f"trial.report: epoch must be a whole number >= 1, got {epoch!r}")
        if self._reply(epoch, metrics) == STOP:
            raise TrialStopped(f"lrsweep stopped trial {self.id} at epoch {epoch}")

    def __repr__(self) -> str:
        return f"Trial(id={self.id!r}, lr={self.lr!r}, seed={self.seed}, epochs={self.epochs}, device={self.device!r})"


class FunctionThread:
    """``fn(trial)`` in a daemon thread; each report goes to ``post`` and waits for :meth:`answer`."""

    def __init__(self, fn: Callable, values: dict, params: dict, post: Callable[[tuple], None]):
        self.post = post
        self.answers: queue.Queue[str] = queue.Queue()
        self.stopping = False  # once set, every report is answered STOP at once
        self.trial = Trial(values, params, self._ask)
        self.thread = threading.Thread(target=self._run, args=(fn,), name=f"lrsweep-trial-{self.trial.id}")
        self.thread.daemon = True  # a function that never reports again cannot keep the interpreter alive
        self.thread.start()

    def _ask(self, epoch: int, metrics: dict) -> str:
        if self.stopping:
            return STOP
        self.post(("report", self, epoch, dict(metrics)))
        answer = self.answers.get()
        if answer == STOP:
            self.stopping = True
        return answer

    def _run(self, fn: Callable) -> None:
        error = trace = None
        try:
            fn(self.trial)
        except TrialStopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - your function's failure is the trial's, recorded with its traceback
            error, trace = f"{type(exc).__name__}: {exc}"[:500], traceback.format_exc(limit=-12)
        self.post(("exit", self, error, trace))

    def answer(self, reply: str) -> None:
        self.answers.put(reply)

    def stop(self) -> None:
        """Every report from now on raises TrialStopped (one waiting now too)."""
        self.stopping = True
        self.answers.put(STOP)

    def alive(self) -> bool:
        return self.thread.is_alive()
