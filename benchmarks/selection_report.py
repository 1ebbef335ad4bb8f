"""The report of benchmarks/selection.py: a row per strategy and task, the table, the JSON file, and the
README's markdown table from that file:

    python benchmarks/selection_report.py results.json     # (written by selection.py --json results.json)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

from selection_tasks import SEEDS, TRUTH_POINTS

KINDS = {  # what each task is, for the README's table
    "mnist-mlp-sgdm": "image MLP, SGD+momentum",
    "mnist-cnn-adam": "image CNN, Adam",
    "tabular-mlp-sgd": "tabular MLP regression, plain SGD",
    "logreg-adam": "logistic regression, Adam",
    "linreg-gd-synthetic": "linear regression, full-batch GD",
    "linreg-gd-raw-csv": "unstandardized CSV, full-batch GD",
    "mnist-bncnn-onecycle": "CNN + BatchNorm, SGD+momentum, OneCycle",
    "mnist-mlp-adamw-warmup": "image MLP, AdamW, warm-up + cosine",
    "friedman-mlp-adam": "regression MLP, Adam",
    "mnist-gru-rows": "GRU (sequential engine), Adam, clipped",
    "mnist-mlp-rmsprop-b8": "image MLP, RMSprop, batch 8",
    "mnist-widemlp-adagrad-noisy": "wide MLP, Adagrad, 20% noisy labels",
}


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


def tune_ratio(rows: dict[str, Row]) -> tuple[float, float] | None:
    """tune's wall and CPU seconds over grid5's on one task (None unless both were timed)."""
    tune, grid5 = rows.get("tune"), rows.get("grid5")
    if tune is None or grid5 is None or tune.seconds is None or grid5.seconds is None:
        return None
    return tune.seconds / grid5.seconds, tune.cpu_seconds / grid5.cpu_seconds


def ratio_cell(ratios: list[tuple[float, float]]) -> str:
    """tune's wall (CPU) time / grid5's over tasks: the geometric means, the range of the wall ratio, and on
    how many tasks tune took no longer than grid5."""
    if not ratios:
        return ""
    wall, cpu = ([r[i] for r in ratios] for i in (0, 1))
    mean = [math.exp(sum(math.log(r) for r in rs) / len(rs)) for rs in (wall, cpu)]
    faster = sum(r <= 1 for r in wall)
    return f"geo-mean {mean[0]:.2f} ({mean[1]:.2f}) · {min(wall):.2f}–{max(wall):.2f} · ≤1 on {faster}/{len(wall)}"


def summary_cells(per_task: list[dict[str, Row]], strategies: list[str]) -> list[str]:
    """Per strategy over the tasks: in band n/N · mean trainings [· mean wall seconds, when all were timed]."""
    cells = []
    for s in strategies:
        rows = [task[s] for task in per_task]
        timed = [r.seconds for r in rows if r.seconds is not None]
        mean_s = f" · {sum(timed) / len(timed):.1f}s" if len(timed) == len(rows) else ""
        mean_cost = sum(r.cost for r in rows) / max(1, len(rows))
        cells.append(f"{sum(r.ok for r in rows)}/{len(rows)} · {mean_cost:.1f}{mean_s}")
    return cells


def dense_summary(timings: list[dict | None]) -> str:
    known = [t["seconds"] for t in timings if t and t.get("seconds") is not None]
    mean = f" · {sum(known) / len(known):.1f}s" if known and len(known) == len(timings) else ""
    return f"{TRUTH_POINTS * len(SEEDS)}{mean}"


def report_json(path: str, args, strategies: list[str], results: list[dict], loads: list[float]) -> None:
    """Every number of the table, the load and the machine, to ``path`` (rewritten after each task)."""
    import json
    import platform
    import time

    import torch

    from lrsweep.api.tuning import TuneSettings

    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "timed" if args.time else "cached",
        "repeats": args.repeats if args.time else None,
        "budget": args.budget or TuneSettings().budget,
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

    show_ratio = timed and {"tune", "grid5"} <= set(strategies)
    columns = ("task", "band", "dense grid", *strategies, *(["tune ÷ grid5: wall (CPU)"] if show_ratio else []))
    table = Table(title="Picks in the good band (seed-mean val_loss within 10% of the best of a 24-LR x 3-seed grid)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("task", "band") else "right")
    ratios = [tune_ratio(r["rows"]) for r in results]
    for r, ratio in zip(results, ratios):
        label = r["task"] + (" (held out)" if r["held_out"] else "")
        low, high = r["band"]
        cells = [cell(r["rows"][s]) for s in strategies]
        extra = [f"{ratio[0]:.2f} ({ratio[1]:.2f})" if ratio else ""] if show_ratio else []
        table.add_row(label, f"{low:.3g}–{high:.3g}", dense_cell(r["dense"]), *cells, *extra)
    table.add_row(
        "in band · mean trainings · mean s",
        "",
        dense_summary([r["dense"] for r in results]),
        *summary_cells([r["rows"] for r in results], strategies),
        *([ratio_cell([q for q in ratios if q])] if show_ratio else []),
    )
    return table


def markdown(data: dict) -> str:
    """The README's table from a --json file: a row per task, the summary row in bold."""
    strategies = data["meta"]["strategies"]
    per_task = [{s: Row(**t["strategies"][s]) for s in strategies} for t in data["tasks"]]
    ratios = [tune_ratio(rows) for rows in per_task]
    head = ["task", "kind", "good band", "dense grid", *strategies, "tune ÷ grid5: wall (CPU)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for t, rows, ratio in zip(data["tasks"], per_task, ratios):
        low, high = t["band"]
        band = f"{low:.2g}–{high:.2g}" if low != high else f"{low:.2g} (one grid point)"
        cells = [t["task"] + (" (held out)" if t["held_out"] else ""), KINDS.get(t["task"], ""), band]
        cells += [dense_cell(t["dense"]), *(cell(rows[s]) for s in strategies)]
        cells.append(f"{ratio[0]:.2f} ({ratio[1]:.2f})" if ratio else "")
        lines.append("| " + " | ".join(cells) + " |")
    summary = [dense_summary([t["dense"] for t in data["tasks"]]), *summary_cells(per_task, strategies)]
    summary.append(ratio_cell([q for q in ratios if q]))
    lines.append("| **in band · mean trainings · mean s** | | | " + " | ".join(f"**{c}**" for c in summary) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
