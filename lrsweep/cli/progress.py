"""The live progress display of a sweep (a Rich progress bar on a terminal, lines otherwise)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from lrsweep.api.common import RETRAIN_ID
from lrsweep.render.format import fmt, fmt_lr, fmt_seconds


def describe(variant) -> str:
    size = f" b={variant.batch_size}" if getattr(variant, "batch_size", None) is not None else ""
    if variant.optimizer.name in ("command", "function"):  # your own code: lr and seed are all it is given
        return f"lr={fmt_lr(variant.lr)} s{variant.seed}"
    return f"lr={fmt_lr(variant.lr)}{size} {variant.optimizer.label} {variant.scheduler.label} s{variant.seed}"


BAR_WIDTH = 20


def bar_columns(width: int, total: int, label: str = "[bold]{task.description}") -> list:
    """The bar, the count and the elapsed time keep their width; the label and the status share what is
    left of ``width`` (cut with an ellipsis), so an 80-column terminal still shows how far the sweep is."""
    count = 2 * len(str(total)) + 1
    left = max(16, width - BAR_WIDTH - count - len("0:00:00") - 4)  # 4: the padding between the 5 columns
    return [
        TextColumn(label, table_column=Column(max_width=max(8, left // 3), no_wrap=True, overflow="ellipsis")),
        BarColumn(bar_width=BAR_WIDTH),
        MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=count)),
        TimeElapsedColumn(),
        TextColumn(
            "{task.fields[status]}",
            table_column=Column(max_width=max(8, left - left // 3), no_wrap=True, overflow="ellipsis"),
        ),
    ]


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


class ProgressEvents:
    """SweepEvents for people: one bar over all variant-epochs, one line per finished variant."""

    def __init__(self, console: Console, epochs: int, quiet: bool = False):
        self.console, self.epochs, self.quiet = console, epochs, quiet
        self.progress: Progress | None = None  # a bar on a terminal, once the sweep starts
        self.task: TaskID | None = None  # the bar's one task, added with it
        self.current = ""
        self.pack: dict = {}  # the pack training now: variant id -> its last epoch record

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False

    def on_start(self, variants, pending) -> None:
        if self.quiet:
            return
        skipped = len(variants) - len(pending)
        if skipped:
            self.console.print(f"{skipped} of {len(variants)} variants already finished; running {len(pending)}.")
        if self.console.is_terminal:
            total = len(pending) * self.epochs
            self.progress = Progress(*bar_columns(self.console.width, total), console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("sweep", total=len(pending) * self.epochs, status="")

    def on_pack_start(self, variants) -> None:
        self.pack = {v.id: None for v in variants}  # each member's last epoch record
        if len(variants) == 1:
            self.current = describe(variants[0])
        else:
            lrs = sorted(v.lr for v in variants)
            first = variants[0]
            size = f" b={first.batch_size}" if getattr(first, "batch_size", None) is not None else ""
            self.current = (
                f"{len(variants)} variants together: lr {fmt_lr(lrs[0])}…{fmt_lr(lrs[-1])}{size} "
                f"{first.optimizer.label} {_seeds(variants)}"
            )
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=self.current)
        elif not self.quiet and len(variants) > 1:  # plain lines: say what is training before it ends
            self.console.print(f"training {self.current}", markup=False, soft_wrap=True)

    def on_epoch(self, variant_id, record) -> None:
        if self.progress is None or self.task is None:
            return
        if variant_id == RETRAIN_ID and record.epoch == 1:  # the sweep's bar is full: one bar for the retrain
            self.progress.reset(self.task, total=self.epochs, description="retraining the best on train+val")
        if variant_id in self.pack:
            self.pack[variant_id] = record
        self.progress.update(self.task, advance=1, status=self.status(variant_id, record))

    def status(self, variant_id, record) -> str:
        """A variant alone: its own numbers. A pack: its best validation loss and how many are finite, not
        whichever member reported last (a diverged one reads ``loss nan`` while the rest are healthy)."""
        if len(self.pack) <= 1 or variant_id not in self.pack:
            if record.train_loss is None and record.val_loss is None and record.val_acc is None:
                return f"epoch {record.epoch} {_metrics(record)}"  # your own code's metrics
            acc = f" val_acc {fmt(record.val_acc)}" if record.val_acc is not None else ""
            val = f" val_loss {fmt(record.val_loss)}" if record.val_loss is not None else ""
            return f"epoch {record.epoch} loss {fmt(record.train_loss)}{val}{acc}"
        seen = [r for r in self.pack.values() if r is not None]
        finite = [r for r in seen if _finite(r.train_loss) and (r.val_loss is None or _finite(r.val_loss))]
        scores = [r.val_loss for r in finite if r.val_loss is not None] or [r.train_loss for r in finite]
        best = f" best {'val_loss' if finite and finite[0].val_loss is not None else 'loss'} {fmt(min(scores))}"
        return f"epoch {record.epoch} · {len(finite)}/{len(self.pack)} finite{' ·' + best if scores else ''}"

    def on_variant_end(self, variant, result) -> None:
        if self.progress is not None and self.task is not None and len(result.epochs) < self.epochs:
            self.progress.update(self.task, advance=self.epochs - len(result.epochs))
        if self.quiet:
            return
        last = result.epochs[-1] if result.epochs else None
        stopped = f"  (stopped early at epoch {len(result.epochs)})" if getattr(result, "stopped_early", False) else ""
        line = f"{result.status:<8} {describe(variant)}  {_metrics(last)}  {fmt_seconds(result.seconds)}s{stopped}"
        if result.error:
            line += f"  ({result.error})"
        style = {"done": None, "pruned": "dim", "diverged": "yellow"}.get(result.status, "red")
        self.console.print(line, style=style, markup=False, soft_wrap=True)
        trial = (result.computed or {}).get("trial") == "command"
        if trial and result.status == "failed" and result.traceback:  # the end of its stderr, as it wrote it
            tail = "\n".join(f"    {line}" for line in result.traceback.splitlines()[-5:])
            self.console.print(tail, style="dim", markup=False, highlight=False, soft_wrap=True)

    def on_notice(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, style="yellow", markup=False, soft_wrap=True)


def _seeds(variants) -> str:
    """A pack's seeds: ``s0`` for one, ``seeds 0,1,2`` for several (they share a pack)."""
    seeds = sorted({v.seed for v in variants})
    return f"s{seeds[0]}" if len(seeds) == 1 else f"seeds {','.join(map(str, seeds))}"


def _metrics(record) -> str:
    """The validation metrics of an epoch record: lrsweep's own, or the first few your own code reported."""
    if record is None:
        return ""
    if record.val_loss is not None or record.val_acc is not None or not record.metrics:
        return f"val_loss {fmt(record.val_loss)} val_acc {fmt(record.val_acc)}"
    return " ".join(f"{name} {fmt(value)}" for name, value in list(record.metrics.items())[:3])


class RangeTestProgress:
    """``find``'s progress on stderr: a transient bar on a terminal, a plain line per tenth of the test
    otherwise (a log shows it is moving); nothing with --quiet. Entering gives the ``on_step`` callback."""

    LINES = 10  # plain lines over the whole test

    def __init__(self, console: Console, total: int, quiet: bool):
        self.console, self.total, self.quiet = console, total, quiet
        self.bar: Progress | None = None

    def __enter__(self):
        if self.quiet:
            return None
        if not self.console.is_terminal:
            every = max(1, self.total // self.LINES)

            def line(step, lr, loss, smoothed):  # step counts from 0
                if (step + 1) % every == 0:
                    self.console.print(
                        f"range test: step {step + 1}/{self.total} lr {lr:.3g} loss {smoothed:.4g}",
                        markup=False,
                        soft_wrap=True,
                    )

            return line
        task: TaskID | None = None

        def on_step(step, lr, loss, smoothed):
            nonlocal task
            if self.bar is None:  # started with the first step: a download before it keeps its own lines
                columns = bar_columns(self.console.width, self.total, "[bold]range test")
                self.bar = Progress(*columns, console=self.console, transient=True)
                self.bar.start()
                task = self.bar.add_task("find", total=self.total, status="")
            assert task is not None, "added with the bar, on the first step"
            self.bar.update(task, advance=1, status=f"lr {lr:.3g} loss {smoothed:.4g}")

        return on_step

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
