"""PNG figures of a sweep's run directory: the metric vs the learning rate, loss and metric curves, LR schedules
(matplotlib through :mod:`lrsweep.render.figures`). With batch size as a sweep axis, each batch size is a series
of its own (``b=128``).
"""

from __future__ import annotations

import math
from pathlib import Path

from lrsweep.render.figures import finite, pyplot, save_png, wide_positive, wrap
from lrsweep.render.metric_vs_lr import metric_vs_lr, series_of

PANELS_PER_PAGE = 30  # small multiples per PNG; bigger sweeps continue in <name>-2.png, ...
COLUMNS = 5  # panels per row
LEGEND_MAX = 10  # entries; panels with more lines go without a legend


def write_plots(store, summary: dict) -> list[Path]:
    """Every figure of the run into ``store.plots_dir``; returns the files written."""
    plt = pyplot()
    rows = summary["variants"]
    metrics = {row["id"]: store.read_metrics(row["id"]) for row in rows}
    figures = {"metric_vs_lr": metric_vs_lr(plt, summary)}
    if rows and rows[0]["optimizer"] in ("command", "function"):  # your own code: no optimizer of lrsweep's
        fixed = [f"trained by your {rows[0]['optimizer']}"]
    else:
        fixed = [f"{k} {rows[0][k]}" for k in ("optimizer", "scheduler") if rows and k not in varying_axes(summary)]
    loss_title = " · ".join([f"{summary['name']}: train/val loss per epoch", *fixed])
    figures.update(_paged("loss_curves", loss_panels(summary, metrics), plt, _draw_losses, loss_title))
    if summary["metric"] != "val_loss" or summary.get("metrics"):  # beyond what loss_curves shows
        metric_title = " · ".join([f"{summary['name']}: validation metrics per epoch", *fixed])
        figures.update(_paged("metric_curves", metric_panels(summary, metrics), plt, _draw_losses, metric_title))
    reported = any(isinstance(row.get("lr"), (int, float)) for rows_ in metrics.values() for row in rows_)
    figures.update(
        {}  # your own code that reports no lr: nothing to draw
        if not reported
        else _paged(
            "lr_schedule",
            schedule_panels(summary, metrics, store),
            plt,
            _draw_schedule,
            f"{summary['name']}: learning rate during training",
        )
    )
    written = []
    store.plots_dir.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        path = store.plots_dir / f"{name}.png"
        save_png(figure, path)
        plt.close(figure)
        written.append(path)
    return written


# --------------------------------------------------------------------------- small multiples


def _groups_in_order(summary: dict) -> list[list[dict]]:
    """Variant rows grouped by (optimizer, scheduler, batch size, lr), ordered by those, seeds together."""
    groups: dict[tuple, list[dict]] = {}
    for row in summary["variants"]:
        groups.setdefault((row["optimizer"], row["scheduler"], row.get("batch_size") or 0, row["lr"]), []).append(row)
    return [sorted(groups[key], key=lambda r: r["seed"]) for key in sorted(groups)]


def varying_axes(summary: dict) -> list[str]:
    """optimizer/scheduler (and batch_size) when they vary across the sweep (panel titles name only those)."""
    rows = summary["variants"]
    return [k for k in ("optimizer", "scheduler", "batch_size") if len({r.get(k) for r in rows}) > 1]


def _title(head: dict, axes: list[str]) -> str:
    return " ".join([f"lr={head['lr']:.3g}", *(f"b={head[k]}" if k == "batch_size" else str(head[k]) for k in axes)])


def _marks(members: list[dict]) -> list[float]:
    """Epochs to mark on a variant's panel: where it was scored (select.at best) and where it stopped early."""
    marks = {r.get("best_epoch") for r in members} | {r["epochs_run"] for r in members if r.get("stopped_early")}
    return sorted(m for m in marks if m)


def metric_names(summary: dict) -> list[str]:
    """The validation metrics per epoch worth a curve: the selection metric, val_acc and the further ones."""
    names = [summary["metric"], "val_acc", *(m for m in summary.get("metrics") or [] if m.startswith("val_"))]
    present = {k for row in summary["variants"] for k, v in row.items() if v is not None}
    return [m for m in dict.fromkeys(names) if m in present or m == summary["metric"]]


def metric_panels(summary: dict, metrics: dict[str, list[dict]]) -> list[dict]:
    """One panel per variant: each validation metric per epoch (one line per metric, seeds alike)."""
    axes = varying_axes(summary)
    names = metric_names(summary)
    panels = []
    for members in _groups_in_order(summary):
        lines = []
        for i, row in enumerate(members):
            records = metrics.get(row["id"], [])
            for j, name in enumerate(names):
                lines.append(
                    {
                        "x": [r["epoch"] for r in records],
                        "y": [finite(r.get(name)) for r in records],
                        "label": name if i == 0 else None,
                        "style": "-" if name == summary["metric"] else "--",
                        "color": f"C{j}",
                    }
                )
        statuses = ",".join(sorted({r["status"] for r in members}))
        panels.append(
            {
                "title": f"{wrap(_title(members[0], axes))}\n{statuses}",
                "lines": lines,
                "empty": f"{statuses}: no finite metric to draw",
                "best": any(r.get("best") for r in members),
                "ylabel": "metric",
                "marks": _marks(members),
            }
        )
    return panels


def loss_panels(summary: dict, metrics: dict[str, list[dict]]) -> list[dict]:
    """One panel per variant: train (solid) and val (dashed) loss per epoch, one line per seed."""
    axes = varying_axes(summary)
    panels = []
    for members in _groups_in_order(summary):
        head = members[0]
        lines = []
        for i, row in enumerate(members):
            records = metrics.get(row["id"], [])
            epochs = [r["epoch"] for r in records]
            seeds = f" ({len(members)} seeds)" if len(members) > 1 else ""
            for kind, style, color in (("train", "-", "tab:blue"), ("val", "--", "tab:orange")):
                lines.append(
                    {
                        "x": epochs,
                        "y": [finite(r.get(f"{kind}_loss")) for r in records],
                        "label": f"{kind}{seeds}" if i == 0 else None,
                        "style": style,
                        "color": color,
                    }
                )
        statuses = ",".join(sorted({r["status"] for r in members}))
        ran = max((r.get("epochs_run") or 0 for r in members), default=0)
        empty = f"{statuses} in epoch {ran or 1}: no finite loss to draw"
        panels.append(
            {
                "title": f"{wrap(_title(head, axes))}\n{statuses}",
                "lines": lines,
                "empty": empty,
                "best": any(r.get("best") for r in members),
                "ylabel": "loss",
                "marks": _marks(members),
            }
        )
    return panels


def schedule_panels(summary: dict, metrics: dict[str, list[dict]], store) -> list[dict]:
    """One panel per optimizer/scheduler: the learning rate per epoch for each grid lr (per optimizer
    step, in fractional epochs, where the variant recorded lr_steps.csv)."""
    by_series: dict[str, list[dict]] = {}
    for members in _groups_in_order(summary):
        by_series.setdefault(series_of(members[0]), []).append(members[0])
    panels = []
    for label, heads in by_series.items():
        lines = []
        for row in heads:
            records = metrics.get(row["id"], [])
            steps = _read_lr_steps(store, row["id"])
            if steps and records:  # x in epochs elapsed: epoch e spans [e - 1, e]
                per_epoch = len(steps) / len(records)
                x = [(s["step"] - 1) / per_epoch for s in steps] + [len(steps) / per_epoch]
                y = [s["lr"] for s in steps] + [steps[-1]["lr"]]  # the last step's lr holds to the end
            else:  # the lr holds for the whole epoch: a step from its start to its end
                x = [r["epoch"] - 1 for r in records] + [records[-1]["epoch"]] * bool(records)
                y = [r["lr"] for r in records] + [records[-1]["lr"]] * bool(records)
            lines.append(
                {"x": x, "y": [finite(v) for v in y], "label": f"lr={row['lr']:.3g}", "style": "-", "steps": not steps}
            )
        panels.append(
            {
                "title": wrap(label),
                "lines": lines,
                "best": False,
                "ylabel": "learning rate",
                "logy": True,
            }
        )
    return panels


def _read_lr_steps(store, variant_id: str) -> list[dict]:
    reader = getattr(store, "read_lr_steps", None)
    return reader(variant_id) if reader else []


def _paged(name: str, panels: list[dict], plt, draw, title: str) -> dict:
    pages = [panels[i : i + PANELS_PER_PAGE] for i in range(0, len(panels), PANELS_PER_PAGE)] or [[]]
    return {
        (name if i == 0 else f"{name}-{i + 1}"): _small_multiples(plt, page, draw, title)
        for i, page in enumerate(pages)
    }


def _small_multiples(plt, panels: list[dict], draw, title: str):
    n = max(1, len(panels))
    cols = min(COLUMNS, n)
    rows = math.ceil(n / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows + 0.4), squeeze=False, layout="constrained")
    flat = [ax for line in axes for ax in line]
    for ax, panel in zip(flat, panels):
        draw(ax, panel)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize="medium")
    return figure


def _draw_losses(ax, panel: dict) -> None:
    for line in panel["lines"]:
        ax.plot(line["x"], line["y"], line["style"], marker=".", label=line["label"], color=line["color"], alpha=0.8)
    for epoch in panel.get("marks") or []:  # the scored (best) epoch, the early stop
        ax.axvline(epoch, color="0.5", linestyle=":", linewidth=1)
    values = [v for line in panel["lines"] for v in line["y"]]
    if wide_positive(values):
        ax.set_yscale("log")
    epochs = max((x for line in panel["lines"] for x in line["x"]), default=0)
    ax.set_xlim(0.5, max(epochs, 1) + 0.5)
    if not any(math.isfinite(v) for v in values):  # a variant that diverged in its first epoch
        ax.text(
            0.5,
            0.5,
            panel.get("empty") or "no finite loss",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="red",
            fontsize="small",
            wrap=True,
        )
        ax.set_yticks([])
    _decorate(ax, panel, "epoch")
    if not any(math.isfinite(v) for v in values) and ax.get_legend() is not None:
        ax.get_legend().remove()


def _draw_schedule(ax, panel: dict) -> None:
    for line in panel["lines"]:
        if line.get("steps"):
            ax.step(line["x"], line["y"], where="post", label=line["label"])
        else:
            ax.plot(line["x"], line["y"], label=line["label"])
    if any(math.isfinite(v) and v > 0 for line in panel["lines"] for v in line["y"]):
        ax.set_yscale("log")
    end = max((x for line in panel["lines"] for x in line["x"]), default=1)
    ax.set_xlim(0, max(end, 1))  # the axis ends where training did
    _decorate(ax, panel, "epochs trained")


def _decorate(ax, panel: dict, xlabel: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(panel["title"], fontsize="small", color="darkgreen" if panel["best"] else "black")
    ax.set_xlabel(xlabel, fontsize="small")
    ax.set_ylabel(panel["ylabel"], fontsize="small")
    ax.tick_params(labelsize="x-small")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(True, alpha=0.3)
    if panel["best"]:
        for spine in ax.spines.values():
            spine.set_edgecolor("green")
            spine.set_linewidth(2)
    labelled = sum(bool(line["label"]) for line in panel["lines"])
    if 0 < labelled <= LEGEND_MAX:  # beyond that a legend hides the panel; the log y axis names each lr
        ax.legend(fontsize="xx-small")
