"""metric_vs_lr.png: the selection metric against the learning rate. A grid: a line per optimizer/scheduler
(and batch size); a tune run: every LR it trained, each stage in its own marker, the finals as the line;
schedules compared at one LR (``lrsweep schedule --type a,b``): side by side, one position each.
"""

from __future__ import annotations

import math

from lrsweep.render.figures import series_label, wide_positive, wrap

WORST_BAND = 0.08  # fraction of the metric axis, at its worst end, where unscored learning rates are marked


def series_of(row: dict) -> str:
    """A line of metric_vs_lr: optimizer · scheduler, and the batch size when it is an axis."""
    size = f" · b={row['batch_size']}" if row.get("batch_size") is not None else ""
    return series_label(row["optimizer"], row["scheduler"]) + size


def metric_vs_lr(plt, summary: dict):
    """The selection metric against the learning rate (log axis): one line per optimizer/scheduler,
    the seed mean with ±1 std error bars; the best starred, diverged learning rates marked ×. Every series
    at one LR: side by side instead (:func:`_side_by_side`)."""
    figure, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    series: dict[str, list[dict]] = {}
    for group in summary["groups"]:
        series.setdefault(series_of(group), []).append(group)
    if len(series) > 1 and len({g["lr"] for g in summary["groups"]}) == 1 and not summary.get("tune"):
        _side_by_side(ax, series, summary)
    else:
        _lines(ax, series, summary)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)  # below the data
    return figure


def _worst_y(direction: str) -> float:
    """Where an unscored point is drawn, in axes fraction: the middle of the band at the worst end."""
    return WORST_BAND / 2 if direction == "max" else 1 - WORST_BAND / 2


def _lines(ax, series: dict[str, list[dict]], summary: dict) -> None:
    metric = summary["metric"]
    failed_any, tune = False, bool(summary.get("tune"))
    for label, groups in sorted(series.items()):
        points = sorted((g for g in groups if g["mean"] is not None), key=lambda g: g["lr"])
        if points:
            ax.errorbar(
                [g["lr"] for g in points],
                [g["mean"] for g in points],
                yerr=[g["std"] or 0.0 for g in points],
                capsize=3,
                **({"marker": "s", "markersize": 11, "fillstyle": "none", "mew": 2} if tune else {"marker": "o"}),
                label=wrap(f"final: {label}" if tune else label, 60),
            )
        failed = [g["lr"] for g in groups if g["mean"] is None]
        if failed:  # no score: drawn in a band at the worst end of the axis, below (max wins) or above the data
            what = "diverged/unfinished: no score" + (f" ({label})" if len(series) > 1 else "")
            _unscored(ax, failed, summary["direction"], what, transform=ax.get_xaxis_transform())
            failed_any = True
    if tune:  # every LR tune trained, not only the finals: scouts (cut short: hollow) and refinements
        from lrsweep.render.tune_plots import draw_stages

        _, lost = draw_stages(ax, summary, lost_y=_worst_y(summary["direction"]))
        failed_any = failed_any or lost
    best = summary.get("best")
    if best and best.get("mean") is not None:
        _star(ax, best["lr"], best["mean"], f"best lr={best['lr']:.3g}")
    ax.set_xscale("log")
    if wide_positive([g["mean"] for g in summary["groups"]]):
        ax.set_yscale("log")
    if failed_any:
        _leave_worst_band(ax, summary["direction"])
    ax.set_xlabel("learning rate")
    epoch = "best epoch" if summary.get("at") == "best" else "last epoch"
    reached = ", scouts: the epoch they reached" if tune else ""
    ax.set_ylabel(wrap(f"{metric} ({epoch}{reached}, mean ± std over seeds)", 45))
    ax.set_title(wrap(f"{summary['name']}: {metric} vs learning rate ({summary['direction']}imum wins)", 70))
    ax.grid(True, which="both", alpha=0.3)


def _side_by_side(ax, series: dict[str, list[dict]], summary: dict) -> None:
    """Every series trained at one LR (a schedule comparison): one x position each, named on the axis, the
    seed mean with ±1 std; unscored ones × at the worst end."""
    metric, lr = summary["metric"], summary["groups"][0]["lr"]
    labels = sorted(series)
    failed_any = False
    for x, label in enumerate(labels):
        group = series[label][0]
        if group["mean"] is not None:
            ax.errorbar([x], [group["mean"]], yerr=[group["std"] or 0.0], marker="o", capsize=4, color=f"C{x}")
        else:
            _unscored(ax, [x], summary["direction"], "diverged/unfinished: no score" if not failed_any else None)
            failed_any = True
    best = summary.get("best")
    if best and best.get("mean") is not None and series_of(best) in labels:
        _star(ax, labels.index(series_of(best)), best["mean"], f"best: {series_of(best)}")
    ticks, shared = _distinct(labels)
    ax.set_xticks(range(len(labels)), [wrap(tick, 22) for tick in ticks], fontsize="small")
    if shared:
        ax.set_xlabel(f"each with {shared}", fontsize="small")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    if failed_any:
        _leave_worst_band(ax, summary["direction"])
    epoch = "best epoch" if summary.get("at") == "best" else "last epoch"
    ax.set_ylabel(f"{metric} ({epoch}, mean ± std over seeds)")
    wins = f"{summary['direction']}imum wins"
    ax.set_title(wrap(f"{summary['name']}: {metric} at lr={lr:.3g}, side by side ({wins})", 70))
    ax.grid(True, axis="y", alpha=0.3)


def _distinct(labels: list[str]) -> tuple[list[str], str]:
    """Each label's parts that differ (``steplr``), and the parts they share (``sgd(momentum=0.9)``)."""
    parts = [label.split(" · ") for label in labels]
    if len({len(p) for p in parts}) != 1:
        return labels, ""
    differ = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
    shared = " · ".join(part for i, part in enumerate(parts[0]) if i not in differ)
    return [" · ".join(p[i] for i in differ) for p in parts], shared


def _unscored(ax, xs: list, direction: str, label: str | None, transform=None) -> None:
    """Red × for points without a score, in the band at the worst end of the metric axis."""
    import matplotlib.transforms as transforms

    transform = transform or transforms.blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot(
        xs,
        [_worst_y(direction)] * len(xs),
        "x",
        color="red",
        markersize=9,
        mew=2,
        linestyle="none",
        transform=transform,
        label=wrap(label, 60) if label else "_nolegend_",
    )


def _star(ax, x: float, y: float, label: str) -> None:
    ax.plot(
        [x],
        [y],
        marker="*",
        markersize=16,
        color="gold",
        markeredgecolor="black",
        linestyle="none",
        label=label,
        zorder=5,
    )


def _leave_worst_band(ax, direction: str) -> None:
    """Stretch the y axis so the data stays clear of the band where unscored learning rates are marked."""
    low, high = ax.get_ylim()
    log = ax.get_yscale() == "log"
    span = (math.log10(high) - math.log10(low)) if log else high - low
    pad = span * WORST_BAND / (1 - WORST_BAND) * 1.5
    if direction == "max":
        ax.set_ylim(10 ** (math.log10(low) - pad) if log else low - pad, high)
    else:
        ax.set_ylim(low, 10 ** (math.log10(high) + pad) if log else high + pad)
    ax.axhspan(
        *((ax.get_ylim()[0], low) if direction == "max" else (high, ax.get_ylim()[1])),
        color="red",
        alpha=0.06,
        zorder=0,
    )
