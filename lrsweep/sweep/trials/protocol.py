"""The reporting protocol of your own training code, and the verdicts lrsweep draws from what a trial reports.

A trial reports once per epoch: a command prints one JSON object per line on its standard output (or appends it
to the file named by ``$LRSWEEP_METRICS_FILE``), a function calls ``trial.report(epoch, **metrics)``. Each report
has an ``epoch`` (1, 2, 3, ... in order) and any metrics by name; a second report of the same epoch adds to it.
Lines that are not JSON objects with an ``epoch`` are kept in the trial's log and ignored, as are values that are
not numbers. :class:`Reports` turns the reports into metrics.csv rows and says when the trial has diverged (the
selection metric or a loss not finite, or the selection metric, when lower is better, past ``blowup`` times its
first value: the engine's rule) or broke the protocol.
"""

from __future__ import annotations

import json
import math
from typing import Any

DONE, DIVERGED, FAILED = "done", "diverged", "failed"  # the statuses a trial can end with (as the engine's)
PROTOCOL = (
    'report each epoch as one JSON object per line on stdout, e.g. {"epoch": 1, "val_loss": 0.42} '
    "(or append such lines to the file $LRSWEEP_METRICS_FILE names); see the README, 'Your own training code'"
)
FUNCTION_PROTOCOL = "call trial.report(epoch, name=value, ...) once per epoch, epochs 1, 2, 3, ... in order"
RESERVED = ("epoch", "seconds")  # lrsweep's columns; a trial may give its own seconds per epoch


class Reports:
    """What one trial has reported so far, checked as it arrives.

    Args:
        epochs: the epochs the trial was asked to train; later reports are ignored.
        metric, direction: the selection metric and ``min`` | ``max``.
        blowup: a finite selection metric (lower is better) past this multiple of its first value is a divergence.
    """

    def __init__(self, epochs: int, metric: str, direction: str, blowup: float):
        self.epochs, self.metric, self.direction, self.blowup = epochs, metric, direction, blowup
        self.rows: list[dict] = []  # one per epoch, in order: {"epoch": e, name: value, ...}
        self.verdict: tuple[str, str] | None = None  # (diverged | failed, why) once the trial must stop
        self.dropped: set[str] = set()  # names of values that were not numbers (ignored)
        self.first: float | None = None  # the selection metric's first finite value

    @property
    def last(self) -> int:
        return self.rows[-1]["epoch"] if self.rows else 0

    def line(self, text: str) -> bool:
        """One line of output: a report (True) or anything else (False, ignored)."""
        text = text.strip()
        if not text.startswith("{"):
            return False
        try:
            data = json.loads(text)
        except ValueError:
            return False
        if not isinstance(data, dict) or "epoch" not in data:
            return False
        epoch = data.pop("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or epoch != int(epoch) or epoch < 1:
            self._fail(f"reported epoch {json.dumps(epoch)[:40]}: the epoch must be a whole number >= 1")
            return True
        self.add(int(epoch), data)
        return True

    def add(self, epoch: int, metrics: dict[str, Any]) -> None:
        """One report: a new epoch (the next one), more metrics of the last one, or (earlier, later) ignored."""
        if self.verdict is not None or epoch > self.epochs or epoch < self.last:
            return
        if epoch > self.last + 1:
            self._fail(f"reported epoch {epoch} after epoch {self.last}: report every epoch, in order (1, 2, 3, ...)")
            return
        if epoch == self.last + 1:
            self._complete()
            if self.verdict is not None:
                return
            self.rows.append({"epoch": epoch})
        row = self.rows[-1]
        for name, value in metrics.items():
            number = _number(value)
            if name == "epoch" or number is _NOT_A_NUMBER:
                self.dropped.add(str(name))
                continue
            row[str(name)] = number
        self._check(row)

    def finish(self, error: str | None = None) -> tuple[str, str | None]:
        """The trial's status and error once it has ended (``error``: why it failed, e.g. its exit code)."""
        if self.verdict is None:
            self._complete()
        if self.verdict is not None:
            return self.verdict
        if error is not None:
            return FAILED, error
        if not self.rows:
            return FAILED, f"reported no epoch: {PROTOCOL}"
        if self.last < self.epochs:
            return FAILED, (
                f"ended after reporting epoch {self.last} of {self.epochs}: report every epoch up to "
                f"{self.epochs} (it is told the epochs: {{epochs}}, $LRSWEEP_EPOCHS, trial.epochs)"
            )
        return DONE, None

    def _complete(self) -> None:
        """The last epoch's report is whole: it must carry the selection metric."""
        if self.rows and self.metric not in self.rows[-1]:
            given = ", ".join(k for k in self.rows[-1] if k not in RESERVED) or "nothing but the epoch"
            self._fail(f"epoch {self.last} reported no {self.metric} (select.metric); it reported: {given}")

    def _check(self, row: dict) -> None:
        for name, value in row.items():
            if (name == self.metric or "loss" in name.lower()) and value is not None and not math.isfinite(value):
                self.verdict = (DIVERGED, f"{name} is {value} at epoch {row['epoch']}")
                return
        value = row.get(self.metric)
        if self.direction != "min" or value is None:
            return
        if self.first is None:
            self.first = value
        elif self.first > 0 and value > self.blowup * self.first:
            self.verdict = (
                DIVERGED,
                f"{self.metric} {value:.4g} at epoch {row['epoch']} is more than {self.blowup:g}x its first value "
                f"{self.first:.4g}",
            )

    def _fail(self, why: str) -> None:
        if self.verdict is None:
            self.verdict = (FAILED, why)


_NOT_A_NUMBER = object()


def _number(value: Any) -> Any:
    """A reported value as a metrics.csv cell: a float, None (no value), or _NOT_A_NUMBER (ignored)."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        return _NOT_A_NUMBER
    if isinstance(value, (int, float)):
        return float(value)
    try:  # numpy and torch scalars (from a function's report)
        return float(value.item())
    except (AttributeError, TypeError, ValueError, RuntimeError):
        return _NOT_A_NUMBER
