"""The report of benchmarks/selection.py: a row per strategy and task, the table, the JSON file."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

from selection_tasks import SEEDS, TRUTH_POINTS


class Row(NamedTuple):
    """One strategy's pick on one task, judged against the truth."""

    strategy: str
    lr: float  # nan: no pick
    ok: bool  # in the good band
    cost: float  # trainings
    loss: float  # the pick's seed-mean val_loss
    seconds: float | None = None  # wall seconds, where it was trained now
    cpu_seconds: float | None = None


def cell(row: Row) -> str:
    """in band? · the pick · cost in trainings [· wall seconds]."""
    head = f"{'yes' if row.ok else 'NO'} {row.lr:.3g}" if math.isfinite(row.lr) else "NO (no pick)"
    return f"{head} · {row.cost:.1f}" + (f" · {row.seconds:.1f}s" if row.seconds is not None else "")


def dense_cell(timing: dict | None) -> str:
    seconds = (timing or {}).get("seconds")
    return f"{TRUTH_POINTS * len(SEEDS)} · " + ("? s" if seconds is None else f"{seconds:.1f}s")


def ratio_cell(ratios: list[tuple[float, float]]) -> str:
    """tune's wall (CPU) time / grid5's over tasks: the geometric means, the range of the wall ratio, and on
    how many tasks tune took no longer than grid5."""
    if not ratios:
        return ""
    wall, cpu = ([r[i] for r in ratios] for i in (0, 1))
    mean = [math.exp(sum(math.log(r) for r in rs) / len(rs)) for rs in (wall, cpu)]
    faster = sum(r <= 1 for r in wall)
    return f"geo-mean {mean[0]:.2f} ({mean[1]:.2f}) · {min(wall):.2f}–{max(wall):.2f} · ≤1 on {faster}/{len(wall)}"


def summary_cells(results: list[dict], strategies: list[str]) -> list[str]:
    cells = []
    for s in strategies:
        rows = [r["rows"][s] for r in results]
        timed = [r.seconds for r in rows if r.seconds is not None]
        mean_s = f" · {sum(timed) / len(timed):.1f}s" if len(timed) == len(rows) else ""
        cells.append(
            f"{sum(r.ok for r in rows)}/{len(rows)} · {sum(r.cost for r in rows) / max(1, len(rows)):.1f}{mean_s}"
        )
    return cells


def report_json(path: str, args, strategies: list[str], results: list[dict], loads: list[float]) -> None:
    """Every number of the table, the load and the machine, to ``path`` (rewritten after each task)."""
    import json
    import platform
    import time

    import torch

    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "timed" if args.time else "cached",
        "budget": args.budget,
        "strategies": strategies,
        "load": loads,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.platform(),
    }
    tasks_out = [
        {**{k: v for k, v in r.items() if k != "rows"}, "strategies": {s: r["rows"][s]._asdict() for s in strategies}}
        for r in results
    ]
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps({"meta": meta, "tasks": tasks_out}, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def table_of(results: list[dict], strategies: list[str], timed: bool):
    """The rich Table: a row per task, a summary row; with ``timed`` tune's seconds / grid5's per task."""
    from rich.table import Table

    ratio = timed and {"tune", "grid5"} <= set(strategies)
    columns = ("task", "band", "dense grid", *strategies, *(["tune ÷ grid5: wall (CPU)"] if ratio else []))
    table = Table(title="Picks in the good band (seed-mean val_loss within 10% of the best of a 24-LR x 3-seed grid)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("task", "band") else "right")
    ratios = []
    for r in results:
        by = r["rows"]
        extra = []
        if ratio:
            tune, grid5 = by["tune"], by["grid5"]
            ratios.append((tune.seconds / grid5.seconds, tune.cpu_seconds / grid5.cpu_seconds))
            extra = [f"{ratios[-1][0]:.2f} ({ratios[-1][1]:.2f})"]
        label = r["task"] + (" (held out)" if r["held_out"] else "")
        low, high = r["band"]
        cells = [cell(by[s]) for s in strategies]
        table.add_row(label, f"{low:.3g}–{high:.3g}", dense_cell(r["dense"]), *cells, *extra)
    dense_known = [r["dense"]["seconds"] for r in results if r["dense"]]
    dense_mean = f" · {sum(dense_known) / len(dense_known):.1f}s" if len(dense_known) == len(results) else ""
    table.add_row(
        "in band · mean trainings · mean s",
        "",
        f"{TRUTH_POINTS * len(SEEDS)}{dense_mean}",
        *summary_cells(results, strategies),
        *([ratio_cell(ratios)] if ratio else []),
    )
    return table
