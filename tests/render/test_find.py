"""``lrsweep find``'s report: the terminal chart of the curve."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lrsweep.render.find import render_curve
from lrsweep.select.finder import FinderResult, FinderSettings


def curve_result(**overrides) -> FinderResult:
    lrs = [10 ** (-5 + 5 * i / 59) for i in range(60)]
    smoothed = [3.0 - 2.0 * i / 45 if i < 45 else 1.0 + (i - 45) ** 2 for i in range(60)]
    base = dict(
        lrs=lrs,
        losses=smoothed,
        smoothed=smoothed,
        default="valley",
        stopped="diverged",
        steps_run=60,
        suggestions={"steep": lrs[20], "valley": lrs[30], "min10": lrs[44] / 10},
        divergence_lr=lrs[50],
        stop_lr=lrs[-1],
        settings=FinderSettings(steps=60),
    )
    return FinderResult(**{**base, **overrides})


def test_render_curve_marks_every_suggestion_and_the_divergence_at_its_column():
    text = render_curve(curve_result(), "valley", width=60, height=3)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(text)
    lines = console.file.getvalue().splitlines()
    chart, marks, axis = lines[:3], lines[3], lines[4]
    assert all(len(line.rstrip()) <= 60 for line in chart) and chart[-1].startswith("█")  # the loss starts high
    assert marks[20] == "s" and marks[30] == "v" and marks[50] == "x"
    assert marks[32] == "m"  # lrs[44] / 10: one decade (11.8 steps) left of the minimum
    assert axis.startswith("1e-05") and "loss 1…3" in axis


def test_the_figure_draws_the_stability_edge_find_reports():
    pytest.importorskip("matplotlib")
    from lrsweep.render.find import find_figure

    def edges(result):
        return [line for line in find_figure(result).axes[0].get_lines() if "stability edge" in line.get_label()]

    marked = edges(curve_result(edge_lr=0.5, sharpness=4.0))
    assert len(marked) == 1 and list(marked[0].get_xdata()) == [0.5, 0.5]
    assert marked[0].get_label() == "stability edge 0.5"
    assert edges(curve_result()) == []  # none measured (an adaptive optimizer): none drawn
