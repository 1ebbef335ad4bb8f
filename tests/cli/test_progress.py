"""The live progress display: what a person sees of a sweep while it trains."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

from lrsweep.cli.progress import ProgressEvents
from lrsweep.engine.common import EpochRecord


def _variant(i: int, lr: float):
    label = SimpleNamespace(name="sgd", label="sgd(momentum=0.9)")
    return SimpleNamespace(id=f"v{i}", lr=lr, optimizer=label, scheduler=SimpleNamespace(label="none"), seed=0)


def _rendered(events: ProgressEvents, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(events.progress.make_tasks_table(events.progress.tasks))
    return console.file.getvalue()


def test_at_80_columns_the_bar_count_and_time_stay_and_the_pack_is_summed_up():
    terminal = Console(file=io.StringIO(), width=80, force_terminal=True)
    variants = [_variant(i, lr) for i, lr in enumerate([0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1.0])]
    nan = float("nan")
    with ProgressEvents(terminal, epochs=3) as events:
        events.on_start(variants, variants)
        events.on_pack_start(variants)
        for v in variants:  # the last members to report diverged: their loss is nan
            loss = nan if v.lr > 0.2 else 0.3 + v.lr
            events.on_epoch(v.id, EpochRecord(1, v.lr, loss, 0.9, loss, 0.9 - v.lr, 1.0))
        line = _rendered(events, 80)
    assert len(line.splitlines()) == 1, line
    assert "7/21" in line and re.search(r"\d:\d\d:\d\d", line) and "━" in line, line
    assert "loss nan" not in line and "5/7 finite" in line, line  # the pack, not its last member
    assert "best val_loss 0.301" in _rendered_wide(variants)


def _rendered_wide(variants) -> str:
    terminal = Console(file=io.StringIO(), width=200, force_terminal=True)
    with ProgressEvents(terminal, epochs=3) as events:
        events.on_start(variants, variants)
        events.on_pack_start(variants)
        for v in variants:
            loss = float("nan") if v.lr > 0.2 else 0.3 + v.lr
            events.on_epoch(v.id, EpochRecord(1, v.lr, loss, 0.9, loss, 0.9 - v.lr, 1.0))
        return _rendered(events, 200)


def test_a_variant_alone_shows_its_own_metrics():
    terminal = Console(file=io.StringIO(), width=120, force_terminal=True)
    variant = _variant(0, 0.01)
    with ProgressEvents(terminal, epochs=2) as events:
        events.on_start([variant], [variant])
        events.on_pack_start([variant])
        events.on_epoch(variant.id, EpochRecord(1, 0.01, 0.5, 0.8, 0.4, 0.85, 1.0))
        line = _rendered(events, 120)
    assert "1/2" in line and "epoch 1 loss 0.5 val_loss 0.4 val_acc 0.85" in line, line
