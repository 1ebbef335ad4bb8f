"""A sweep's tables: the plan ``validate`` shows, the ranked summary and its verdict, and what ``show`` adds
(where the run is, what trains now). Rich renderables: data in, renderable out; nothing here prints.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from lrsweep.render.format import fmt, fmt_lr, fmt_score, fmt_seconds, keep_numbers, varies
from lrsweep.select.extend import WAYS
from lrsweep.select.summary import COMPLETE_STATUSES


def plan_table(variants: list, sizes: dict | str, device: str, fingerprint: str, epochs: int) -> Table:
    """What ``validate`` shows: every variant the sweep would train."""
    table = Table(
        title=f"{len(variants)} variants · device {device} · data {sizes} · "
        f"{epochs} epochs · fingerprint {fingerprint}",
        title_justify="left",
    )
    by_size = any(getattr(v, "batch_size", None) is not None for v in variants)
    for column in ("#", "id", "lr", *(["batch_size"] if by_size else []), "optimizer", "scheduler", "seed"):
        table.add_column(column, justify="right" if column in ("#", "lr", "batch_size", "seed") else "left")
    for i, v in enumerate(variants, start=1):
        size = [fmt(v.batch_size)] if by_size else []
        table.add_row(str(i), v.id, fmt_lr(v.lr), *size, v.optimizer.label, v.scheduler.label, str(v.seed))
    return keep_numbers(table)


SHARED_SECONDS = "s: each variant's share of the time of the pack it trained in (a pack's time is split evenly)"


def _shared_seconds(rows: list[dict]) -> bool:
    """Two rows with the same positive time: most likely variants trained together, each showing its share."""
    times = [r.get("seconds") for r in rows if r.get("seconds")]
    return len(times) != len(set(times))


def _has_seeds(summary: dict) -> bool:
    return any(len(g["seeds"]) > 1 for g in summary["groups"])


STUCK = (
    "stuck: learned nothing (val_acc at the majority-class rate, or train_loss never below its first epoch's); "
    "ranked after every healthy variant"
)
BATCH_AXIS = ("batch_size",)  # a column whenever the sweep has batch size as an axis


def _at(summary: dict) -> str:
    return " at each variant's best epoch" if summary.get("at") == "best" else ""


def _status(row: dict) -> str:
    """``done``, with what else is worth knowing: ``done, stopped`` (early stopping), ``done, stuck``."""
    marks = [m for m, on in (("stopped", row.get("stopped_early")), ("stuck", row.get("stuck"))) if on]
    return ", ".join([row["status"], *marks])


def _notes(rows: list[dict]) -> list[str]:
    notes = [SHARED_SECONDS] if _shared_seconds(rows) else []
    if any(r.get("stopped_early") for r in rows):
        notes.append("stopped: early stopping ended it before the last epoch (train.early_stopping)")
    if any(r.get("stuck") for r in rows):
        notes.append(STUCK)
    return notes


OWN_CODE = ("command", "function")  # the optimizer slot of a trial of your own code names its kind


def _own_code(rows: list[dict]) -> bool:
    return bool(rows) and rows[0].get("optimizer") in OWN_CODE


def _fixed(rows: list[dict], axes: list[str]) -> list[str]:
    """What every row shares, for the caption: the optimizer and scheduler, or what trained your own code."""
    if _own_code(rows):
        return [f"trained by your {rows[0]['optimizer']}"]
    return [f"{k}: {rows[0][k]}" for k in ("optimizer", "scheduler") if rows and k not in axes]


def summary_table(summary: dict) -> Table:
    """The final table: sorted by the selection metric, the best highlighted.

    Optimizer and scheduler get a column only when they vary; otherwise they go in the caption. Batch size gets
    one whenever it is a sweep axis; ``best_ep`` (the epoch the row's metrics are from) with select.at best.
    """
    if _has_seeds(summary):
        return _group_table(summary)
    rows = summary["variants"]
    sizes = [k for k in BATCH_AXIS if any(r.get(k) is not None for r in rows)]
    axes = [k for k in ("optimizer", "scheduler", "device") if varies(rows, k)]
    fixed = _fixed(rows, axes)
    table = Table(
        title=f"{summary['name']}: ranked by {summary['metric']} ({summary['direction']}imum wins){_at(summary)}",
        caption=" · ".join(fixed + _notes(rows)) or None,
        title_justify="left",
        caption_justify="left",
    )
    scheduled = any(r["scheduler"] != "none" for r in rows)  # else the final LR is the LR: no column
    further = list(summary.get("metrics") or [])  # val_f1, eval_bleu, ...: what the variants reported beyond
    best_epoch = summary.get("at") == "best"
    # lrsweep's own scores; your own code may report none of them (its metrics are in `further`)
    scores = [
        k
        for k in ("train_loss", "val_loss", "val_acc")
        if not _own_code(rows) or any(r.get(k) is not None for r in rows)
    ]
    columns = [
        "rank",
        "lr",
        *sizes,
        *axes,
        "status",
        "epochs",
        *(["best_ep"] if best_epoch else []),
        *scores,
        *further,
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
        style = "yellow" if row.get("stuck") and not row.get("best") else style
        cells = [fmt(row.get("rank")) + (" ★" if row.get("best") else ""), fmt_lr(row["lr"])]
        cells += [fmt(row.get(k)) for k in sizes]
        cells += [str(row.get(k) or "–") for k in axes]
        cells += [
            _status(row),
            str(row["epochs_run"]),
            *([fmt(row.get("best_epoch"))] if best_epoch else []),
            *(fmt_score(row[k]) for k in scores),
            *(fmt_score(row.get(name)) for name in further),
            *([fmt(row.get("final_lr"), 3)] if scheduled else []),
            fmt_seconds(row["seconds"]),
        ]
        table.add_row(*cells, style=style)
    return keep_numbers(table)


def _group_table(summary: dict) -> Table:
    metric = summary["metric"]
    groups = summary["groups"]
    sizes = [k for k in BATCH_AXIS if any(g.get(k) is not None for g in groups)]
    axes = [k for k in ("optimizer", "scheduler") if varies(groups, k)]
    fixed = _fixed(groups, axes)
    fixed += [STUCK] if any(g.get("stuck") for g in groups) else []
    table = Table(
        title=f"{summary['name']}: {metric} ({summary['direction']} wins){_at(summary)}, mean ± std over seeds",
        caption=" · ".join(fixed) or None,
        title_justify="left",
        caption_justify="left",
    )
    for column in ("rank", "lr", *sizes, *axes, "seeds", metric, "status"):
        table.add_column(column, justify="left" if column in ("optimizer", "scheduler", "status") else "right")
    best_ids = set((summary.get("best") or {}).get("ids", []))
    for rank, group in enumerate(groups, start=1):
        is_best = bool(best_ids) and set(group["ids"]) == best_ids
        value = "–" if group["mean"] is None else f"{group['mean']:.4g} ± {group['std']:.2g}"
        statuses = ",".join(group["statuses"]) + (", stuck" if group.get("stuck") else "")
        table.add_row(
            (str(rank) if group["mean"] is not None else "–") + (" ★" if is_best else ""),
            fmt_lr(group["lr"]),
            *[fmt(group.get(k)) for k in sizes],
            *[group[k] for k in axes],
            ",".join(map(str, group["seeds"])),
            value,
            statuses,
            style="bold green" if is_best else ("yellow" if group.get("stuck") else None),
        )
    return keep_numbers(table)


def _no_best(summary: dict) -> str:
    """Why no variant is the best: they failed (with the most common error), they have not finished, or
    they diverged."""
    from collections import Counter

    rows = summary.get("variants", [])
    counts = summary.get("status_counts") or Counter(str(r.get("status")) for r in rows)  # pending ones too
    failed = [r for r in rows if r.get("status") == "failed"]
    if failed and len(failed) == len(rows):
        errors = Counter(str(r.get("error") or "no error recorded").strip().splitlines()[0] for r in failed)
        error, count = errors.most_common(1)[0]
        share = "" if count == len(failed) else f" ({count} of them; other errors in their status.json)"
        return (
            f"Every variant ({len(failed)}) failed with an error{share}: {error}. This is not the learning rate: "
            f"fix the error (see status.json in the variant folders)."
        )
    unfinished = sum(n for status, n in counts.items() if status not in (*COMPLETE_STATUSES, "failed"))
    if unfinished:  # training now, waiting, or interrupted: too early to blame the learning rates
        total = sum(counts.values())
        return f"No variant has finished yet: {unfinished} of {total} still training or waiting."
    failures = f" ({len(failed)} failed with an error)" if failed else ""
    return f"No variant finished with a finite score{failures}; try smaller learning rates."


def verdict(summary: dict) -> Text:
    """The lines under the table: the best, its test score, and warnings worth acting on."""
    best = summary.get("best")
    text = Text()
    if best is None:
        text.append(_no_best(summary), style="bold red")
        return text
    size = f" batch_size={best['batch_size']}" if best.get("batch_size") is not None else ""
    where = f" at epoch {best['stop_epoch']}" if best.get("stop_epoch") else ""
    how = "" if best["optimizer"] in OWN_CODE else f" {best['optimizer']} {best['scheduler']}"
    text.append(
        f"Best: lr={fmt_lr(best['lr'])}{size}{how} ({summary['metric']} {fmt(best['mean'])}{where})",
        style="bold yellow" if best.get("stuck") else "bold green",
    )
    if best.get("stuck"):
        text.append("\nEvery finished variant is stuck at chance: none learned; try other learning rates.", style="red")
    retrain = summary.get("retrain")
    if retrain and retrain.get("status") == "done":
        text.append(f"\n{retrain_line(retrain)}")
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
    stuck = [r for r in summary.get("variants", []) if r.get("stuck")]
    if stuck and not best.get("stuck"):
        lrs = ", ".join(sorted({fmt_lr(r["lr"]) for r in stuck}, key=float))
        text.append(
            f"\n{len(stuck)} variant(s) stuck at chance (lr {lrs}): ranked after every healthy variant "
            "(why: stuck_reason in summary.csv).",
            style="yellow",
        )
    scaling = summary.get("batch_sizes")
    if scaling:
        text.append(f"\n{scaling_line(scaling)}")
    counts = summary.get("status_counts", {})
    failed = counts.get("failed", 0)
    if failed:
        text.append(f"\n{failed} variant(s) failed; see status.json in their variant folders.", style="red")
    return text


def extension_way(edge: str | None) -> str:
    """Which way a grid extension went: downwards, upwards, or between the best and the first diverged lr."""
    return WAYS.get(str(edge), "upwards")


def retrain_line(retrain: dict) -> str:
    """``Retrained on train+val (7 epochs): test_loss 0.31, test_acc 0.91, test_f1 0.9``."""
    epochs = f" for {retrain['stop_epoch']} epochs" if retrain.get("stop_epoch") else ""
    scores = [f"test_loss {fmt(retrain.get('test_loss'))}"]
    scores += [
        f"{k} {fmt(v)}" for k, v in retrain.items() if k.startswith("test_") and k != "test_loss" and v is not None
    ]
    return f"Retrained on train+val{epochs}: {', '.join(scores)}"


def scaling_line(scaling: dict) -> str:
    """Each batch size's best LR, and the measured exponent of best LR on batch size against the rule's."""
    bests = ", ".join(
        f"{e['batch_size']}: {fmt_lr(e['lr']) if e['lr'] is not None else '–'}{' (edge)' if e.get('edge') else ''}"
        for e in scaling["best"]
    )
    line = f"Best lr per batch size: {bests}"
    measured = scaling.get("measured_exponent")
    if measured is None:
        return line
    rule, expected = scaling.get("rule", "none"), scaling.get("expected_exponent", 0.0)
    what = f"the {rule} rule's {expected:g}" if rule != "none" else "0 for a fixed lr, 0.5 sqrt, 1 linear"
    line += f"; best lr ~ batch_size^{measured:.2f} (expected: {what})"
    if rule != "none" and scaling.get("agrees") is not None:
        near = "within" if scaling["agrees"] else "more than"
        verdict = "as the rule predicts" if scaling["agrees"] else "not as the rule predicts"
        line += f": {verdict} ({near} one grid step, ±{scaling['resolution']:.2f}, of it)"
    if scaling.get("at_edge"):
        line += "; a best at the edge of its grid only bounds the exponent"
    return line


def run_header(details: dict, summary: dict) -> Text:
    """The lines above ``show``'s table: where the run is, how it went, how its grid grew."""
    meta = details.get("meta", {})
    facts = [details["run_dir"]]
    facts += [f"{key} {meta[key]}" for key in ("fingerprint", "started", "finished", "outcome") if meta.get(key)]
    text = Text(" · ".join(facts))
    for i, ext in enumerate(meta.get("extensions") or [], start=1):
        way = extension_way(ext.get("edge"))
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
