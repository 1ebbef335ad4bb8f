"""plots/tune.png: the metric against LR for every variant ``lrsweep tune`` trained, each stage in a marker of
its own; :func:`draw_stages` also puts tune's scouts and refinements on metric_vs_lr.png.
"""

from __future__ import annotations

from pathlib import Path

from lrsweep.render.figures import pyplot, save_png, wide_positive
from lrsweep.render.tune import tune_stage_rows

STAGE_MARKS = {  # stage: marker, colour, legend
    "scout": ("v", "0.45", "scout"),
    "rung": ("o", "C4", "scout, full length"),
    "refine": ("D", "C2", "refine"),
}
STAGES_ZORDER = 4  # over the finals and the pick: a scout at a final's LR stays in sight


def draw_stages(ax, summary: dict, stages=tuple(STAGE_MARKS), lost_y: float = 0.02) -> tuple[list[float], bool]:
    """Each stage's LRs (seed mean) in its own marker; points of runs cut short (a scout stopped at a rung) are
    hollow and their legend says at which epoch of how many. Diverged or unscored LRs: red × at ``lost_y``
    (axes fraction). Returns the values drawn and whether any × was."""
    full = max((r.get("epochs_run") or 0 for r in summary.get("variants", [])), default=0)
    values, lost_any = [], False
    for stage in stages:
        marker, color, label = STAGE_MARKS[stage]
        rows = tune_stage_rows(summary, (stage,))
        shown = [r for r in rows if r["mean"] is not None and "diverged" not in r["status"]]
        for cut in (False, True):
            part = [r for r in shown if (r["epochs"] < full) == cut]
            if not part:
                continue
            epochs = "/".join(str(e) for e in sorted({r["epochs"] for r in part}))
            ax.plot(
                [r["lr"] for r in part],
                [r["mean"] for r in part],
                marker,
                color=color,
                markersize=7,
                linestyle="none",
                fillstyle="none" if cut else "full",
                label=f"{label}, cut at epoch {epochs} of {full}" if cut else label,
                zorder=STAGES_ZORDER,
            )
            values += [r["mean"] for r in part]
        lost = [r["lr"] for r in rows if "diverged" in r["status"] or r["mean"] is None]
        if lost:
            ax.plot(
                lost,
                [lost_y] * len(lost),
                "x",
                color="red",
                transform=ax.get_xaxis_transform(),
                label=f"{stage}: diverged/unfinished",
                zorder=STAGES_ZORDER,
            )
            lost_any = True
    return values, lost_any


def tune_figure(plt, tune: dict, summary: dict):
    """The metric against LR (log axis) for every variant tune tried, each stage's points marked, the band
    shaded, the range test's bounds dashed and the pick starred; diverged LRs marked × at the bottom. The
    finals are large hollow squares under the stages' points, so a scout at a final's LR is not hidden."""
    metric = summary["metric"]
    figure, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    band = tune.get("band")
    if band:
        ax.axvspan(
            band["low"] / 1.03,
            band["high"] * 1.03,
            color="gold",
            alpha=0.25,
            label=f"band {band['low']:.3g}–{band['high']:.3g}",
        )
    stages = [s for s in tune.get("stages", []) if s.get("stage") == "range"]
    for _name, value in (stages[0].get("bounds") or {}).items() if stages else ():
        ax.axvline(value, color="0.4", ls="--", lw=1)
    values, _ = draw_stages(ax, summary)
    finals = [g for g in summary["groups"] if g["mean"] is not None and "diverged" not in g["statuses"]]
    if finals:  # the finals' seed means, over every seed (the first seed's run came earlier)
        ax.plot(
            [g["lr"] for g in finals],
            [g["mean"] for g in finals],
            "s",
            color="C3",
            markersize=13,
            markeredgewidth=2,
            fillstyle="none",
            linestyle="none",
            label="final (mean of every seed)",
            zorder=STAGES_ZORDER - 1,
        )
        values += [g["mean"] for g in finals]
    lost = [g["lr"] for g in summary["groups"] if g["mean"] is None or "diverged" in g["statuses"]]
    if lost:
        ax.plot(lost, [0.02] * len(lost), "x", color="red", transform=ax.get_xaxis_transform(), label="final: diverged")
    best = tune.get("best")
    if best and best.get("mean") is not None:
        ax.plot(
            [best["lr"]],
            [best["mean"]],
            marker="*",
            markersize=20,
            color="gold",
            markeredgecolor="black",
            linestyle="none",
            label=f"pick lr={best['lr']:.3g}",
            zorder=STAGES_ZORDER - 2,  # under the points it was picked from
        )
    ax.set_xscale("log")
    if wide_positive(values):
        ax.set_yscale("log")
    ax.set_xlabel("learning rate (dashed: the range test's bounds)")
    ax.set_ylabel(f"{metric} (last epoch reached, seed mean)")
    cost = (tune.get("cost") or {}).get("trainings", 0)
    ax.set_title(f"{summary['name']}: lrsweep tune, {cost:.3g} trainings ({summary['direction']}imum wins)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, ncols=2)
    return figure


def write_tune_plot(store, tune: dict, summary: dict, name: str = "tune.png") -> Path:
    """plots/tune.png of a tune run."""
    plt = pyplot()
    figure = tune_figure(plt, tune, summary)
    store.plots_dir.mkdir(parents=True, exist_ok=True)
    path = store.plots_dir / name
    save_png(figure, path)
    plt.close(figure)
    return path


def write_tune_plots(store, tune: dict, summary: dict) -> list[Path]:
    """plots/tune.png, or with several batch sizes one plots/tune-b<size>.png each."""
    if not tune.get("batch_sizes"):
        return [write_tune_plot(store, tune, summary)]
    paths = []
    for size, part in tune["batch_sizes"].items():
        rows = [r for r in summary.get("variants", []) if str(r.get("batch_size")) == size]
        groups = [g for g in summary.get("groups", []) if str(g.get("batch_size")) == size]
        paths.append(write_tune_plot(store, part, {**summary, "variants": rows, "groups": groups}, f"tune-b{size}.png"))
    return paths
