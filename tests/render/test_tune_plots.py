"""plots/tune.png: every stage's points in sight, the finals outlined around them."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from helpers import tune_summary  # noqa: E402

from lrsweep.render.figures import pyplot  # noqa: E402
from lrsweep.render.tune_plots import tune_figure  # noqa: E402


def _points(ax, fragment: str) -> list[float]:
    lines = [line for line in ax.get_lines() if fragment in str(line.get_label())]
    return sorted(x for line in lines for x in line.get_xdata())


def test_the_scouts_are_drawn_over_the_finals_which_are_outlined():
    plt = pyplot()
    summary = tune_summary()
    figure = tune_figure(plt, {"best": summary["best"], "cost": {"trainings": 3.2}}, summary)
    ax = figure.axes[0]
    lines = {str(line.get_label()): line for line in ax.get_lines()}
    final, scout = lines["final (mean of every seed)"], lines["scout, full length"]
    assert list(final.get_xdata()) == [0.01, 0.02] and list(scout.get_xdata()) == [0.01]  # the same LR
    assert final.get_fillstyle() == "none" and final.get_markersize() > scout.get_markersize()
    assert scout.get_zorder() > final.get_zorder() > lines["pick lr=0.02"].get_zorder()  # nothing hides a scout
    assert _points(ax, "scout, cut at epoch 1 of 3") == [0.1, 0.3, 1.0]
    plt.close(figure)
