"""Figures from a summary and per-variant metrics: valid PNGs, pages for big sweeps, per-step LRs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from helpers import tune_summary  # noqa: E402

from lrsweep.render import plots  # noqa: E402
from lrsweep.render.metric_vs_lr import WORST_BAND  # noqa: E402
from lrsweep.select.summary import summarize, variant_row  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


class FakeStore:
    """What plots read from a run directory: metrics, lr_steps and the plots folder."""

    def __init__(self, root: Path, metrics: dict, steps: dict | None = None):
        self.plots_dir = root / "plots"
        self.metrics, self.steps = metrics, steps or {}

    def read_metrics(self, variant_id):
        return self.metrics.get(variant_id, [])

    def read_lr_steps(self, variant_id):
        return self.steps.get(variant_id, [])


def sweep(lrs, seeds=(0,), schedulers=("none",), epochs=3, diverge_above=None):
    rows, metrics = [], {}
    for sched in schedulers:
        for lr in lrs:
            for seed in seeds:
                vid = f"lr{lr}-{sched}-s{seed}"
                bad = diverge_above is not None and lr > diverge_above
                records = [
                    {
                        "epoch": e,
                        "lr": lr / e,
                        "train_loss": float("inf") if bad else 1 / (e * lr + seed),
                        "train_acc": 0.5,
                        "val_loss": float("nan") if bad else 1.1 / (e * lr + seed + 1),
                        "val_acc": 0.5,
                        "seconds": 0.1,
                    }
                    for e in range(1, epochs + 1)
                ]
                metrics[vid] = records
                described = {"id": vid, "lr": lr, "optimizer": "sgd", "scheduler": sched, "seed": seed}
                rows.append(variant_row(described, {"status": "diverged" if bad else "done"}, records))
    return summarize("fake", "val_loss", rows), metrics


def assert_png(path: Path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000, path


def test_every_figure_is_a_valid_png(tmp_path):
    summary, metrics = sweep([0.01, 0.1, 1.0, 10.0], seeds=(0, 1, 2), schedulers=("none", "steplr"), diverge_above=5)
    written = plots.write_plots(FakeStore(tmp_path, metrics), summary)
    assert [p.name for p in written] == ["metric_vs_lr.png", "loss_curves.png", "lr_schedule.png"]
    for path in written:
        assert_png(path)
    assert not list(tmp_path.rglob("*.tmp"))


def test_big_sweeps_continue_on_more_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "PANELS_PER_PAGE", 4)
    lrs = [round(0.001 * 1.2**i, 6) for i in range(5)]
    summary, metrics = sweep(lrs, epochs=2)
    names = [p.name for p in plots.write_plots(FakeStore(tmp_path, metrics), summary)]
    assert "loss_curves.png" in names and "loss_curves-2.png" in names


def test_loss_panels_group_seeds_and_mark_the_best():
    summary, metrics = sweep([0.1, 1.0], seeds=(0, 1))
    panels = plots.loss_panels(summary, metrics)
    assert len(panels) == 2 and sum(p["best"] for p in panels) == 1
    assert len(panels[0]["lines"]) == 4  # train and val for each of two seeds
    assert panels[0]["title"].startswith("lr=0.1\n")  # optimizer/scheduler do not vary: not repeated


def test_schedule_uses_per_step_learning_rates_when_recorded(tmp_path):
    summary, metrics = sweep([0.1], epochs=2)
    vid = summary["variants"][0]["id"]
    steps = {vid: [{"step": s, "lr": 0.1 * (1 - s / 10)} for s in range(1, 11)]}  # 5 steps per epoch
    panel = plots.schedule_panels(summary, metrics, FakeStore(tmp_path, metrics, steps))[0]
    line = panel["lines"][0]
    assert not line["steps"] and len(line["x"]) == 11  # x in epochs trained: 0 .. 2, the last step held to 2
    assert line["x"][0] == 0 and line["x"][5] == pytest.approx(1.0) and line["x"][-1] == 2  # step 6 starts epoch 2
    per_epoch = plots.schedule_panels(summary, metrics, FakeStore(tmp_path, metrics))[0]["lines"][0]
    assert per_epoch["steps"] and per_epoch["x"] == [0, 1, 2] and per_epoch["y"] == [0.1, 0.05, 0.05]


# --------------------------------------------------------------------------- what the figures show


def _axes_fraction(ax, x, y):
    return ax.transAxes.inverted().transform(ax.transData.transform((x, y)))[1]


def test_unscored_lrs_sit_at_the_worst_end_of_a_max_wins_axis_with_a_legend_entry():
    plt = plots.pyplot()
    summary, _ = sweep([0.01, 0.1, 1.0, 10.0], diverge_above=5)
    summary = summarize("fake", "val_acc", summary["variants"])  # maximum wins
    figure = plots.metric_vs_lr(plt, summary)
    ax = figure.axes[0]
    marks = [line for line in ax.get_lines() if "no score" in str(line.get_label())]
    assert len(marks) == 1 and marks[0].get_marker() == "x"
    mark_y = marks[0].get_ydata()[0]  # in axes fraction (an x-axis transform)
    data_y = [_axes_fraction(ax, g["lr"], g["mean"]) for g in summary["groups"] if g["mean"] is not None]
    assert mark_y < WORST_BAND < min(data_y)  # below every scored point, not above the best
    figure.canvas.draw()
    legend, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.y1 <= frame.y0  # the legend is below the axes, not over the data
    plt.close(figure)


def test_a_variant_with_no_finite_loss_says_so_in_its_panel():
    plt = plots.pyplot()
    summary, metrics = sweep([0.1, 10.0], diverge_above=5, epochs=1)
    panels = plots.loss_panels(summary, metrics)
    figure = plots._small_multiples(plt, panels, plots._draw_losses, "t")
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts == ["diverged in epoch 1: no finite loss to draw"]
    plt.close(figure)


def test_sixteen_panel_titles_do_not_overlap():
    plt = plots.pyplot()
    summary, metrics = sweep(
        [0.01, 0.1, 1.0, 10.0],
        schedulers=(
            "steplr(step_size=1,gamma=0.5)",
            "onecyclelr(pct_start=0.3,anneal_strategy=linear)",
            "cosineannealingwarmrestarts(T_0=2,T_mult=2)",
            "none",
        ),
        epochs=2,
    )
    for row in summary["variants"]:
        row["optimizer"] = "adamw(betas=[0.9,0.95],weight_decay=0.01)" if row["lr"] < 1 else "sgd(momentum=0.9)"
    panels = plots.loss_panels(summary, metrics)
    assert len(panels) == 16
    figure = plots._small_multiples(plt, panels, plots._draw_losses, "t")
    figure.canvas.draw()
    boxes = [ax.title.get_window_extent() for ax in figure.axes if ax.get_visible()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    plt.close(figure)


def test_the_schedule_axis_ends_where_training_did(tmp_path):
    plt = plots.pyplot()
    summary, metrics = sweep([0.1], epochs=3)
    panels = plots.schedule_panels(summary, metrics, FakeStore(tmp_path, metrics))
    figure = plots._small_multiples(plt, panels, plots._draw_schedule, "t")
    assert figure.axes[0].get_xlim() == (0, 3)
    plt.close(figure)


def _points(ax, fragment: str) -> list[float]:
    lines = [line for line in ax.get_lines() if fragment in str(line.get_label())]
    return sorted(x for line in lines for x in line.get_xdata())


def test_a_tune_runs_metric_vs_lr_shows_every_lr_it_trained_each_stage_marked():
    plt = plots.pyplot()
    figure = plots.metric_vs_lr(plt, tune_summary())
    ax = figure.axes[0]
    assert _points(ax, "scout, cut at epoch 1 of 3") == [0.1, 0.3, 1.0]  # partial length, and said so
    assert _points(ax, "scout, full length") == [0.01] and _points(ax, "refine") == [0.02]
    cut = next(line for line in ax.get_lines() if "cut at epoch" in str(line.get_label()))
    assert cut.get_fillstyle() == "none"  # hollow: not comparable with the full-length points
    finals = [c for c in ax.containers if str(c.get_label()).startswith("final")]
    assert len(finals) == 1 and list(finals[0].lines[0].get_xdata()) == [0.01, 0.02]
    plt.close(figure)


def test_schedules_at_one_lr_stand_side_by_side_named_on_the_axis():
    plt = plots.pyplot()
    summary, _ = sweep([0.1], schedulers=("none", "steplr", "cosineannealinglr"))
    figure = plots.metric_vs_lr(plt, summary)
    ax = figure.axes[0]
    xs = sorted(x for c in ax.containers for x in c.lines[0].get_xdata())
    assert xs == [0, 1, 2]  # one position per schedule, not all at lr=0.1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cosineannealinglr", "none", "steplr"]
    assert ax.get_xlabel() == "each with sgd" and ax.get_xscale() == "linear"
    plt.close(figure)
