"""``lrsweep schedule``: the schedules side by side after training, the ``--preview`` tables and figure,
and the ``--list`` of every scheduler type.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from lrsweep.render.figures import pyplot, save_png, wrap
from lrsweep.render.format import fmt, fmt_lr, keep_numbers, varies

SPARK = "▁▂▃▄▅▆▇█"
SCHEDULE_SPARK_WIDTH = 24  # characters of an "LR over training" sparkline
PREVIEW_ROWS = 30  # epochs shown in the preview's epoch table; longer runs show evenly spaced epochs


def lr_sparkline(values: list[float], top: float, width: int = SCHEDULE_SPARK_WIDTH) -> str:
    """``values`` (per step or per epoch) resampled to ``width`` characters on one scale from 0 to ``top``.

    Every curve of a table shares ``top``, so their heights compare; fewer values than ``width``
    repeat (the LR holds for the whole epoch).
    """
    if not values or not top or not math.isfinite(top) or top <= 0:
        return ""
    picked = [values[i * len(values) // width] for i in range(width)]
    return "".join(
        " " if v is None or not math.isfinite(v) else SPARK[min(len(SPARK) - 1, max(0, int(v / top * len(SPARK))))]
        for v in picked
    )


def _curve_top(curves) -> float:
    return max((v for curve in curves for v in curve if v is not None and math.isfinite(v)), default=0.0)


def schedule_table(summary: dict, curves: dict[str, dict]) -> Table:
    """``lrsweep schedule``'s side-by-side table: one row per variant, ranked by the selection metric.

    Args:
        summary: the sweep summary (its ``variants`` are already in rank order).
        curves: variant id -> ``{"epoch_lrs": [...], "step_lrs": [...] (per-step schedules), "final_lr": ...}``.
    """
    rows = summary["variants"]
    axes = [k for k in ("lr", "optimizer", "seed") if varies(rows, k)]
    fixed = [
        f"{k} {fmt_lr(rows[0][k]) if k == 'lr' else rows[0][k]}"
        for k in ("lr", "optimizer", "seed")
        if rows and k not in axes
    ]
    top = _curve_top(_lr_curve(c) for c in curves.values())
    schedules = len({r["scheduler"] for r in rows})
    count = f"{schedules} schedule(s)" + (f", {len(rows)} variants" if len(rows) != schedules else "")
    table = Table(
        title=f"{summary['name']}: {count} ranked by {summary['metric']} ({summary['direction']}imum wins)",
        caption=" · ".join([*fixed, f"LR over training: first to last step, one scale 0..{fmt(top, 3)}"]),
        title_justify="left",
        caption_justify="left",
    )
    columns = [
        "rank",
        "scheduler",
        *axes,
        "status",
        "epochs",
        "val_loss",
        "val_acc",
        "final_lr",
        "LR over training",
        "s",
    ]
    for column in columns:
        left = column in ("scheduler", "optimizer", "status", "LR over training")
        # on a narrow terminal (or a pipe: 80 columns) the curve is cropped first; the scheduler names the row
        is_curve = column == "LR over training"
        table.add_column(
            column,
            justify="left" if left else "right",
            no_wrap=not is_curve,
            overflow="crop" if is_curve else "ellipsis",
            min_width=4 if column == "rank" else None,
        )
    for row in rows:
        curve = curves.get(row["id"], {})
        style = "bold green" if row.get("best") else ("red" if row["status"] != "done" else None)
        cells = [fmt(row.get("rank")) + (" ★" if row.get("best") else ""), row["scheduler"]]
        cells += [fmt_lr(row[k]) if k == "lr" else str(row[k]) for k in axes]
        cells += [
            row["status"],
            str(row["epochs_run"]),
            fmt(row["val_loss"]),
            fmt(row["val_acc"]),
            fmt(curve.get("final_lr", row.get("final_lr")), 3),
            lr_sparkline(_lr_curve(curve), top),
            f"{row['seconds']:.1f}",
        ]
        table.add_row(*cells, style=style)
    return keep_numbers(table)


def _lr_curve(entry: dict) -> list[float]:
    return entry.get("step_lrs") or entry.get("epoch_lrs") or []


def compact(value: Any) -> str:
    """Resolved scheduler parameters as one short line: ``step_size=1, gamma=0.1``; nested specs as ``type(k=v)``."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={compact(v)}" for k, v in value.items() if k != "type")
        if "type" not in value:
            return inner
        return f"{value['type']}({inner})" if inner else str(value["type"])
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    if isinstance(value, float):
        return fmt(value, 4)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def preview_tables(data: dict, max_rows: int = PREVIEW_ROWS) -> list[Table]:
    """``schedule --preview``: one row per schedule (parameters, curve, range), then the LR at each epoch.

    ``data`` is the preview record: ``lr, epochs, steps_per_epoch`` and ``schedules``, each with
    ``scheduler, interval, params, epoch_lrs, final_lr`` and, for per-step schedules, ``step_lrs``.
    """
    schedules = data["schedules"]
    curves = [_lr_curve(s) for s in schedules]
    top = _curve_top(curves)
    overview = Table(
        title=f"LR preview: lr={fmt_lr(data['lr'])}, {data['epochs']} epochs x "
        f"{data['steps_per_epoch']} steps per epoch (no data loaded, nothing trained)",
        caption=f"parameters: yours and lrsweep's derived ones (torch's defaults for the rest: "
        f"--list) · LR over training: first to last step, one scale 0..{fmt(top, 3)}",
        title_justify="left",
        caption_justify="left",
    )
    for column in ("scheduler", "steps", "parameters (resolved)", "LR over training", "min", "max", "final"):
        table_left = column in ("scheduler", "steps", "parameters (resolved)", "LR over training")
        overview.add_column(
            column, justify="left" if table_left else "right", no_wrap=column in ("steps", "LR over training")
        )
    for entry, curve in zip(schedules, curves):
        finite = [v for v in curve if math.isfinite(v)]
        overview.add_row(
            entry["scheduler"],
            f"per {entry['interval']}",
            compact(entry["params"]) or "–",
            lr_sparkline(curve, top),
            fmt(min(finite, default=None), 3),
            fmt(max(finite, default=None), 3),
            fmt(entry["final_lr"], 3),
        )
    return [keep_numbers(overview), _epoch_table(data, max_rows)]


def _epoch_table(data: dict, max_rows: int) -> Table:
    epochs = data["epochs"]
    shown = (
        list(range(epochs))
        if epochs <= max_rows
        else sorted({round(i * (epochs - 1) / (max_rows - 1)) for i in range(max_rows)})
    )
    per_step = [s["scheduler"] for s in data["schedules"] if s.get("step_lrs")]
    notes = []
    if len(shown) < epochs:
        notes.append(f"{len(shown)} of {epochs} epochs shown (--json for all)")
    if per_step:
        notes.append(f"{', '.join(per_step)} change(s) within each epoch: see the curve above, --json for every step")
    table = Table(
        title="LR at the start of each epoch",
        caption="; ".join(notes) or None,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("epoch", justify="right")
    for entry in data["schedules"]:
        table.add_column(entry["scheduler"], justify="right")
    for e in shown:
        table.add_row(str(e + 1), *(fmt(entry["epoch_lrs"][e], 4) for entry in data["schedules"]))
    return keep_numbers(table)


def scheduler_list_table(described: list[dict], note: str | None = None) -> Table:
    """``schedule --list``: every scheduler type, its aliases, interval, parameters and their defaults."""
    table = Table(
        title="LR schedulers (--type NAME or an alias; --param KEY=VALUE)",
        caption=note,
        title_justify="left",
        caption_justify="left",
        show_lines=True,
    )
    for column in ("type", "aliases", "steps", "parameters = default", "what it does"):
        table.add_column(column, no_wrap=column in ("type", "steps"))
    for entry in described:
        params = Text()
        for i, p in enumerate(entry["params"]):
            params.append("\n" if i else "")
            params.append(p["name"], style="bold")
            style = {"lrsweep": "cyan", "required": "yellow"}.get(p["source"])
            params.append(f" = {p['default']}" if p["source"] != "required" else f": {p['default']}", style=style)
            if p["source"] == "lrsweep":
                params.append(" (lrsweep)", style="dim")
        torch_class = entry["torch_class"].rsplit(".", 1)[-1] if entry["torch_class"] else "lrsweep"
        table.add_row(
            entry["name"],
            ", ".join(entry["aliases"]) or "–",
            f"per {entry['interval']}",
            params if entry["params"] else "–",
            f"{entry['summary']} ({torch_class})",
        )
    return table


def write_schedule_preview(data: dict, path: Path) -> Path:
    """``lrsweep schedule --preview``'s figure: each schedule's LR over training, one line per schedule.

    ``data`` is the preview record (see :func:`preview_tables`): per-step schedules are drawn at
    every optimizer step, epoch schedules as a step function; x is in epochs (epoch e spans [e, e+1)).
    """
    plt = pyplot()
    figure, ax = plt.subplots(figsize=(7, 4.5))
    per_epoch = data["steps_per_epoch"]
    for entry in data["schedules"]:  # x in epochs elapsed: epoch e spans [e - 1, e]
        if entry.get("step_lrs"):
            lrs = entry["step_lrs"]
            ax.plot(
                [i / per_epoch for i in range(len(lrs))] + [len(lrs) / per_epoch],
                lrs + lrs[-1:],
                label=wrap(entry["scheduler"], 40),
            )
        else:
            lrs = entry["epoch_lrs"]
            ax.step(list(range(len(lrs) + 1)), lrs + lrs[-1:], where="post", label=wrap(entry["scheduler"], 40))
    ax.set_xlim(0, data["epochs"])
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("learning rate")
    ax.set_title(
        f"LR preview: lr={data['lr']:.3g}, {data['epochs']} epochs x {per_epoch} steps per epoch", fontsize="medium"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)  # beside, not over
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(figure, path)
    plt.close(figure)
    return path
