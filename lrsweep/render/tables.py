"""Rich renderables: data in, renderable out. Nothing here prints; the CLI does."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table
from rich.text import Text

from lrsweep.select.summary import COMPLETE_STATUSES

SPARK = "▁▂▃▄▅▆▇█"


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def fmt_lr(lr: float) -> str:
    return f"{lr:.3g}"


def keep_numbers(table: Table) -> Table:
    """Right-aligned (number) columns fold instead of cropping: a narrow terminal loses no digit."""
    for column in table.columns:
        if column.justify == "right":
            column.overflow, column.no_wrap = "fold", False
    return table


def plan_table(variants: list, sizes: dict, device: str, fingerprint: str, epochs: int) -> Table:
    """What ``validate`` shows: every variant the sweep would train."""
    table = Table(
        title=f"{len(variants)} variants · device {device} · data {sizes} · "
        f"{epochs} epochs · fingerprint {fingerprint}",
        title_justify="left",
    )
    for column in ("#", "id", "lr", "optimizer", "scheduler", "seed"):
        table.add_column(column, justify="right" if column in ("#", "lr", "seed") else "left")
    for i, v in enumerate(variants, start=1):
        table.add_row(str(i), v.id, fmt_lr(v.lr), v.optimizer.label, v.scheduler.label, str(v.seed))
    return keep_numbers(table)


SHARED_SECONDS = "s: each variant's share of the time of the pack it trained in (a pack's time is split evenly)"


def _shared_seconds(rows: list[dict]) -> bool:
    """Two rows with the same positive time: most likely variants trained together, each showing its share."""
    times = [r.get("seconds") for r in rows if r.get("seconds")]
    return len(times) != len(set(times))


def _has_seeds(summary: dict) -> bool:
    return any(len(g["seeds"]) > 1 for g in summary["groups"])


def _varying(rows: list[dict], key: str) -> bool:
    return len({str(r.get(key)) for r in rows}) > 1


def summary_table(summary: dict) -> Table:
    """The final table: sorted by the selection metric, the best highlighted.

    Optimizer and scheduler get a column only when they vary; otherwise they go in the caption.
    """
    if _has_seeds(summary):
        return _group_table(summary)
    rows = summary["variants"]
    axes = [k for k in ("optimizer", "scheduler", "device") if _varying(rows, k)]
    fixed = [f"{k}: {rows[0][k]}" for k in ("optimizer", "scheduler") if rows and k not in axes]
    fixed += [SHARED_SECONDS] if _shared_seconds(rows) else []
    table = Table(
        title=f"{summary['name']}: ranked by {summary['metric']} ({summary['direction']}imum wins)",
        caption=" · ".join(fixed) or None,
        title_justify="left",
        caption_justify="left",
    )
    scheduled = any(r["scheduler"] != "none" for r in rows)  # else the final LR is the LR: no column
    columns = [
        "rank",
        "lr",
        *axes,
        "status",
        "epochs",
        "train_loss",
        "val_loss",
        "val_acc",
        *(["final_lr"] if scheduled else []),
        "s",
    ]
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in ("optimizer", "scheduler", "device", "status") else "right",
            no_wrap=column in ("lr", "status", "rank"),
        )
    for row in rows:
        style = "bold green" if row.get("best") else ("red" if row["status"] != "done" else None)
        cells = [fmt(row.get("rank")) + (" ★" if row.get("best") else ""), fmt_lr(row["lr"])]
        cells += [str(row.get(k) or "–") for k in axes]
        cells += [
            row["status"],
            str(row["epochs_run"]),
            fmt(row["train_loss"]),
            fmt(row["val_loss"]),
            fmt(row["val_acc"]),
            *([fmt(row.get("final_lr"), 3)] if scheduled else []),
            f"{row['seconds']:.1f}",
        ]
        table.add_row(*cells, style=style)
    return keep_numbers(table)


def _group_table(summary: dict) -> Table:
    metric = summary["metric"]
    groups = summary["groups"]
    axes = [k for k in ("optimizer", "scheduler") if _varying(groups, k)]
    fixed = [f"{k}: {groups[0][k]}" for k in ("optimizer", "scheduler") if groups and k not in axes]
    table = Table(
        title=f"{summary['name']}: {metric} ({summary['direction']} wins), mean ± std over seeds",
        caption=" · ".join(fixed) or None,
        title_justify="left",
        caption_justify="left",
    )
    for column in ("rank", "lr", *axes, "seeds", metric, "status"):
        table.add_column(column, justify="left" if column in ("optimizer", "scheduler", "status") else "right")
    best_ids = set((summary.get("best") or {}).get("ids", []))
    for rank, group in enumerate(groups, start=1):
        is_best = bool(best_ids) and set(group["ids"]) == best_ids
        value = "–" if group["mean"] is None else f"{group['mean']:.4g} ± {group['std']:.2g}"
        table.add_row(
            (str(rank) if group["mean"] is not None else "–") + (" ★" if is_best else ""),
            fmt_lr(group["lr"]),
            *[group[k] for k in axes],
            ",".join(map(str, group["seeds"])),
            value,
            ",".join(group["statuses"]),
            style="bold green" if is_best else None,
        )
    return keep_numbers(table)


def _no_best(rows: list[dict]) -> str:
    """Why no variant is the best: they failed (with the most common error), they have not finished, or
    they diverged."""
    from collections import Counter

    failed = [r for r in rows if r.get("status") == "failed"]
    if failed and len(failed) == len(rows):
        errors = Counter(str(r.get("error") or "no error recorded").strip().splitlines()[0] for r in failed)
        error, count = errors.most_common(1)[0]
        share = "" if count == len(failed) else f" ({count} of them; other errors in their status.json)"
        return (
            f"Every variant ({len(failed)}) failed with an error{share}: {error}. This is not the learning rate: "
            f"fix the error (see status.json in the variant folders)."
        )
    if any(r.get("status") in ("pending", "interrupted") for r in rows) and not any(
        r.get("status") == "diverged" for r in rows
    ):
        return "No variant has finished yet."
    failures = f" ({len(failed)} failed with an error)" if failed else ""
    return f"No variant finished with a finite score{failures}; try smaller learning rates."


def verdict(summary: dict) -> Text:
    """The lines under the table: the best, its test score, and warnings worth acting on."""
    best = summary.get("best")
    text = Text()
    if best is None:
        text.append(_no_best(summary.get("variants", [])), style="bold red")
        return text
    text.append(
        f"Best: lr={fmt_lr(best['lr'])} {best['optimizer']} {best['scheduler']} "
        f"({summary['metric']} {fmt(best['mean'])})",
        style="bold green",
    )
    retrain = summary.get("retrain")
    if retrain and retrain.get("status") == "done":
        acc = f", test_acc {fmt(retrain['test_acc'])}" if retrain.get("test_acc") is not None else ""
        text.append(f"\nRetrained on train+val: test_loss {fmt(retrain['test_loss'])}{acc}")
    elif retrain:
        text.append(
            f"\nRetraining the best variant ended {retrain['status']}: {retrain.get('error') or ''}", style="red"
        )
    if best.get("tied_with_runner_up"):
        text.append("\nThe best and the runner-up are tied within seed noise (compared seed by seed).", style="yellow")
    if best.get("edge"):
        side = "smallest" if best["edge"] == "low" else "largest"
        text.append(
            f"\nThe best learning rate is the {side} in the grid: the optimum may lie beyond it; "
            f"extend the grid {'downwards' if best['edge'] == 'low' else 'upwards'} (or use --extend).",
            style="yellow",
        )
    counts = summary.get("status_counts", {})
    failed = counts.get("failed", 0)
    if failed:
        text.append(f"\n{failed} variant(s) failed; see status.json in their variant folders.", style="red")
    return text


# --------------------------------------------------------------------------- show / compare


def run_header(details: dict, summary: dict) -> Text:
    """The lines above ``show``'s table: where the run is, how it went, how its grid grew."""
    meta = details.get("meta", {})
    facts = [details["run_dir"]]
    facts += [f"{key} {meta[key]}" for key in ("fingerprint", "started", "finished", "outcome") if meta.get(key)]
    text = Text(" · ".join(facts))
    for i, ext in enumerate(meta.get("extensions") or [], start=1):
        way = "downwards" if ext.get("edge") == "low" else "upwards"
        text.append(f"\ngrid extension {i}: {way}, added lr = {', '.join(f'{lr:g}' for lr in ext.get('added', []))}")
    running = details.get("running") or []
    for holder in running:
        text.append(
            f"\nrunning: written now by pid {holder.get('pid')} on {holder.get('host')}"
            f"{' since ' + holder['started'] if holder.get('started') else ''}"
        )
    if not summary.get("complete", True) and not running:
        unfinished = sum(n for status, n in summary.get("status_counts", {}).items() if status not in COMPLETE_STATUSES)
        text.append(f"\n{unfinished} variant(s) unfinished; resume with  lrsweep grid --resume {details['run_dir']}")
    return text


def running_table(rows: list[dict], epochs: int | None) -> Table:
    """``show`` on a run that is training: each unfinished variant's epochs so far and its last metrics."""
    table = Table(title="Training now (or stopped mid-way)", title_justify="left")
    for column in ("id", "epochs", "lr now", "train_loss", "val_loss", "val_acc"):
        table.add_column(column, justify="left" if column == "id" else "right")
    for row in rows:
        last = row["last"]
        table.add_row(
            row["id"],
            f"{row['epochs']}/{epochs if epochs else '?'}",
            fmt(last.get("lr"), 3),
            fmt(last.get("train_loss")),
            fmt(last.get("val_loss")),
            fmt(last.get("val_acc")),
        )
    return keep_numbers(table)


def _score_at(groups: list[dict], lr: float, direction: str) -> dict | None:
    """The best seed group at ``lr`` (over optimizers/schedulers), or its status when none is rankable."""
    here = [g for g in groups if g["lr"] == lr]
    if not here:
        return None
    ranked = sorted(
        (g for g in here if g["mean"] is not None), key=lambda g: g["mean"] * (1 if direction == "min" else -1)
    )
    if ranked:
        g = ranked[0]
        return {
            "mean": g["mean"],
            "std": g["std"],
            "n": g["n"],
            "optimizer": g["optimizer"],
            "scheduler": g["scheduler"],
            "status": "done",
        }
    return {"mean": None, "std": None, "n": 0, "status": ",".join(sorted({s for g in here for s in g["statuses"]}))}


def compare_data(runs: dict[str, dict]) -> dict:
    """Several summaries side by side (pure): each run's best, and each run's score at every lr."""
    out_runs = []
    for label, summary in runs.items():
        best = summary.get("best") or {}
        out_runs.append(
            {
                "label": label,
                "run_dir": summary.get("run_dir"),
                "name": summary.get("name"),
                "metric": summary["metric"],
                "direction": summary["direction"],
                "best": {
                    k: best.get(k)
                    for k in ("lr", "optimizer", "scheduler", "mean", "std", "n", "edge", "tied_with_runner_up")
                }
                if best
                else None,
                "retrain": summary.get("retrain"),
                "variants": len(summary["variants"]),
                "finished": sum(r["status"] in ("done", "diverged") for r in summary["variants"]),
                "complete": summary.get("complete"),
            }
        )
    lrs = sorted({g["lr"] for summary in runs.values() for g in summary["groups"]})
    by_lr = [
        {"lr": lr, "runs": {label: _score_at(s["groups"], lr, s["direction"]) for label, s in runs.items()}}
        for lr in lrs
    ]
    return {"runs": out_runs, "by_lr": by_lr}


def _mean_std(entry: dict | None) -> str:
    if entry is None:
        return ""
    if entry["mean"] is None:
        return entry["status"]
    return fmt(entry["mean"]) + (f" ± {entry['std']:.2g}" if entry.get("n", 0) > 1 else "")


def _best_facts(run: dict) -> dict[str, str]:
    b, r = run["best"] or {}, run["retrain"] or {}
    return {
        "best lr": fmt_lr(b["lr"]) if b else "–",
        "score": f"{run['metric']} {_mean_std(b)}" if b else "–",
        "optimizer": b.get("optimizer") or "–",
        "scheduler": b.get("scheduler") or "–",
        "test_acc": fmt(r.get("test_acc")),
        "test_loss": fmt(r.get("test_loss")),
        "finished": f"{run['finished']}/{run['variants']}",
        "warnings": ", ".join(
            w
            for w, on in (
                ("tied within seed noise", b.get("tied_with_runner_up")),
                (f"best at the {b.get('edge')} edge", b.get("edge")),
            )
            if on
        )
        or "–",
    }


def compare_tables(data: dict) -> list[Table]:
    """Two tables, a column per run: each run's best; each run's score at every learning rate."""
    best = Table(title="Best of each run", title_justify="left")
    best.add_column("")
    facts = [_best_facts(run) for run in data["runs"]]
    for run in data["runs"]:
        best.add_column(run["label"], justify="right")
    for key in facts[0] if facts else ():
        best.add_row(key, *(f[key] for f in facts))
    by_lr = Table(title="Score at each learning rate (★ the run's best)", title_justify="left")
    by_lr.add_column("lr", justify="right")
    for run in data["runs"]:
        by_lr.add_column(f"{run['label']}\n{run['metric']}", justify="right")
    for line in data["by_lr"]:
        cells = [fmt_lr(line["lr"])]
        for run in data["runs"]:
            star = " ★" if run["best"] and run["best"]["lr"] == line["lr"] else ""
            cells.append(_mean_std(line["runs"][run["label"]]) + star)
        by_lr.add_row(*cells)
    return [keep_numbers(best), keep_numbers(by_lr)]


# --------------------------------------------------------------------------- schedule

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
    axes = [k for k in ("lr", "optimizer", "seed") if _varying(rows, k)]
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
        curve = column == "LR over training"
        table.add_column(
            column,
            justify="left" if left else "right",
            no_wrap=not curve,
            overflow="crop" if curve else "ellipsis",
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


# --------------------------------------------------------------------------- lrsweep tune

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
    """``lrsweep tune``'s tables: the range test's bounds, then one table per stage, each with why it stopped."""
    tables = []
    by_name = {s["stage"]: s for s in tune.get("stages", []) if s.get("stage") == "range"}
    if "range" in by_name:
        rng = by_name["range"]
        table = Table(title=f"range test: {rng['trainings']:g} trainings", title_justify="left")
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
    """One line: ``lr 0.065 · band 0.044–0.099 · 6.3 trainings`` (and the retrain's test score)."""
    best, band, cost = tune.get("best"), tune.get("band"), tune.get("cost") or {}
    text = Text()
    if best is None:
        text.append(
            f"tune {tune.get('status', 'running')}: no pick yet · {cost.get('trainings', 0):.2g} trainings",
            style="yellow",
        )
        return text
    span = f"{fmt_lr(band['low'])}–{fmt_lr(band['high'])}" if band and band["low"] != band["high"] else "the pick alone"
    text.append(
        f"lr {fmt_lr(best['lr'])} · band {span} · {cost['trainings']:.3g} trainings (budget {cost.get('budget', 0):g})",
        style="bold green",
    )
    retrain = tune.get("retrain")
    if retrain and retrain.get("status") == "done":
        acc = f", test_acc {fmt(retrain['test_acc'])}" if retrain.get("test_acc") is not None else ""
        text.append(f"\nRetrained on train+val: test_loss {fmt(retrain['test_loss'])}{acc}")
    return text
