"""``lrsweep tune``'s results: the range test's bounds and one table per stage, and the one-line verdict
(plots/tune.png: :mod:`lrsweep.render.tune_plots`).
"""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from lrsweep.render.format import fmt, fmt_lr

TUNE_TABLES = (("scout", ("scout", "rung")), ("refine", ("refine",)), ("final", ("final", "rung", "refine")))


def tune_stage_rows(summary: dict, stages: tuple[str, ...], lrs: list[float] | None = None) -> list[dict]:
    """One row per LR of a stage: seeds trained, epochs reached, statuses and the metric's seed mean."""
    by_lr: dict[float, list[dict]] = {}
    for row in summary.get("variants", []):
        if row.get("stage") in stages and (lrs is None or row["lr"] in lrs):
            by_lr.setdefault(row["lr"], []).append(row)
    out = []
    for lr, rows in sorted(by_lr.items()):
        values = [r.get(summary["metric"]) for r in rows]
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        out.append(
            {
                "lr": lr,
                "seeds": len(rows),
                "epochs": max(r["epochs_run"] for r in rows),
                "status": "/".join(sorted({r["status"] for r in rows})),
                "mean": sum(finite) / len(finite) if len(finite) == len(values) and finite else None,
                "best": any(r.get("best") for r in rows),
            }
        )
    return out


def tune_tables(tune: dict, summary: dict) -> list[Table | Text]:
    """``lrsweep tune``'s tables: the range test's bounds, then one table per stage, each with why it stopped
    (for each batch size, when the tune had several)."""
    if tune.get("batch_sizes"):
        out: list[Table | Text] = []
        for size, part in tune["batch_sizes"].items():
            rows = [r for r in summary.get("variants", []) if str(r.get("batch_size")) == size]
            out.append(Text(f"batch size {size}", style="bold"))
            out += tune_tables(part, {**summary, "variants": rows})
        return out
    tables: list[Table | Text] = []
    by_name = {s["stage"]: s for s in tune.get("stages", []) if s.get("stage") == "range"}
    if "range" in by_name:
        rng = by_name["range"]
        title = (
            "bounds: the config's lr"
            if rng.get("bounds_from") == "lr"
            else f"range test: {rng['trainings']:g} trainings"
        )
        table = Table(title=title, title_justify="left")
        for column in ("low", "high", "why"):
            table.add_column(column, justify="left" if column == "why" else "right")
        table.add_row(fmt_lr(rng["bounds"]["low"]), fmt_lr(rng["bounds"]["high"]), rng["reason"])
        tables.append(table)
    for name, stages in TUNE_TABLES:
        entries = [s for s in tune.get("stages", []) if s.get("stage") == name]
        if not entries:
            continue
        lrs = [lr for s in entries for lr in s.get("lrs", [])]
        cost = sum(s.get("trainings", 0) for s in entries)
        table = Table(title=f"{name}: {len(lrs)} LRs, {cost:.3g} trainings", title_justify="left")
        for column in ("lr", "seeds", "epochs", "status", summary["metric"]):
            table.add_column(column, justify="left" if column == "status" else "right")
        for row in tune_stage_rows(summary, stages, lrs):
            table.add_row(
                fmt_lr(row["lr"]) + (" ★" if row["best"] and name == "final" else ""),
                str(row["seeds"]),
                str(row["epochs"]),
                row["status"],
                fmt(row["mean"]),
                style="bold green" if row["best"] and name == "final" else None,
            )
        tables.append(table)
        tables.append(Text("; ".join(dict.fromkeys(s["reason"] for s in entries)), style="dim"))
    return tables


def tune_verdict(tune: dict) -> Text:
    """One line: ``lr 0.065 · band 0.044–0.099 · 6.3 trainings`` (and the retrain's test score); with several
    batch sizes, one such line per batch size, then the overall best and how the picks moved with batch size."""
    if tune.get("batch_sizes"):
        return _batch_sizes_verdict(tune)
    best, band, cost = tune.get("best"), tune.get("band"), tune.get("cost") or {}
    text = Text()
    if best is None:
        text.append(
            f"tune {tune.get('status', 'running')}: no pick yet · {cost.get('trainings', 0):.2g} trainings",
            style="yellow",
        )
        return text
    span = f"{fmt_lr(band['low'])}–{fmt_lr(band['high'])}" if band and band["low"] != band["high"] else "the pick alone"
    if band and band.get("resolved") is False:
        span += " (unresolved: only the pick had every seed)"
    seconds = f" · {cost['seconds']:.3g} s" if cost.get("seconds") is not None else ""
    limit = f", {cost['time_budget']:g} s" if cost.get("time_budget") else ""
    text.append(
        f"lr {fmt_lr(best['lr'])} · band {span} · {cost['trainings']:.3g} trainings{seconds} "
        f"(budget {cost.get('budget', 0):g}{limit})",
        style="bold green",
    )
    retrain = tune.get("retrain")
    if retrain and retrain.get("status") == "done":
        from lrsweep.render.tables import retrain_line

        text.append(f"\n{retrain_line(retrain)}")
    return text


def _batch_sizes_verdict(tune: dict) -> Text:
    from lrsweep.render.tables import retrain_line, scaling_line

    text = Text()
    for size, part in tune["batch_sizes"].items():
        text.append(f"batch_size {size}: ")
        text.append_text(tune_verdict({**part, "retrain": None}))
        text.append("\n")
    best, cost = tune.get("best"), tune.get("cost") or {}
    if best is None:
        text.append(f"tune {tune.get('status', 'running')}: no pick yet", style="yellow")
        return text
    text.append(
        f"best: lr {fmt_lr(best['lr'])} at batch_size {best['batch_size']} · {cost.get('trainings', 0):.3g} "
        f"trainings in all (budget {cost.get('budget', 0):g})",
        style="bold green",
    )
    if tune.get("scaling"):
        text.append(f"\n{scaling_line(tune['scaling'])}")
    retrain = tune.get("retrain")
    if retrain and retrain.get("status") == "done":
        text.append(f"\n{retrain_line(retrain)}")
    return text
