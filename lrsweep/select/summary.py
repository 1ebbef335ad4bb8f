"""Pure summaries: per-variant rows from epoch records, seed groups, the best variant.

Used alike by a finishing sweep, ``resume``, ``show`` and ``merge``, so a summary rebuilt
from files equals the one written at the end of the run.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from lrsweep.config.directions import metric_mode
from lrsweep.select.health import Scoring, scored_row
from lrsweep.select.scaling import batch_size_scaling

SUMMARY_COLUMNS = (
    "rank",
    "best",
    "id",
    "lr",
    "optimizer",
    "scheduler",
    "seed",
    "status",
    "epochs_run",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "best_val_loss",
    "best_val_acc",
    "final_lr",
    "seconds",
    "backend",
    "device",
    "error",
)
RECORD_KEYS = ("epoch", "lr", "seconds")  # metrics.csv columns that are not metrics
# What a row says of its variant rather than of how it trained: the axes (sweep.plan's Variant.describe()),
# its rank, and tune's stage. Every other key of a row beyond SUMMARY_COLUMNS is a further metric.
ROW_KEYS = ("id", "lr", "optimizer", "scheduler", "seed", "batch_size", "base_lr", "rank", "best", "stage")
# What a row says of how its variant ended, beyond SUMMARY_COLUMNS: summary.csv has a column for each only when
# some row has it (a sweep without early stopping has no stopped_early column), after the column named.
STATE_COLUMNS = {
    "batch_size": "scheduler",
    "base_lr": "batch_size",
    "stuck": "status",
    "stuck_reason": "stuck",
    "best_epoch": "epochs_run",
    "stopped_early": "best_epoch",
}
# A pruned variant (stopped at an ASHA rung) is finished but never ranked: the pick is among the
# variants that trained every epoch, so all rankable scores are measured at the same epoch.
COMPLETE_STATUSES = ("done", "diverged", "pruned")
# Scores closer than this (relative to their size) are equal: float32 losses agree to about 1e-6 of
# their value, and no LR choice turns on a 0.01% difference in the metric.
TIE_RTOL = 1e-4


def _finite(values):
    return [v for v in values if v is not None and isinstance(v, (int, float)) and math.isfinite(v)]


def variant_row(described: dict, status: dict | None, records: list[dict], scoring: Scoring | None = None) -> dict:
    """One summary row: the variant, its status and the metrics of the epoch it is scored at (the further ones
    too): its last, or with ``scoring.at`` best its best by the selection metric (``best_epoch``)."""
    scoring = scoring or Scoring()
    last = scored_row(records, scoring)
    further = {k: v for k, v in last.items() if k not in SUMMARY_COLUMNS and k not in RECORD_KEYS + ROW_KEYS}
    status = status or {}
    state = {
        "best_epoch": last.get("epoch") if scoring.at == "best" else None,
        "stopped_early": True if status.get("stopped_early") else None,
        "stuck": True if status.get("stuck") else None,
        "stuck_reason": status.get("stuck_reason") or None,
    }
    return {
        **described,
        "status": status.get("status", "pending"),
        **state,
        "epochs_run": len(records),
        "train_loss": last.get("train_loss"),
        "train_acc": last.get("train_acc"),
        "val_loss": last.get("val_loss"),
        "val_acc": last.get("val_acc"),
        "best_val_loss": min(_finite(r.get("val_loss") for r in records), default=None),
        "best_val_acc": max(_finite(r.get("val_acc") for r in records), default=None),
        "final_lr": status.get("final_lr", records[-1].get("lr") if records else None),
        "seconds": round(sum(_finite(r.get("seconds") for r in records)), 3),
        "backend": status.get("backend"),  # local | devices | ray: what ran it
        "device": status.get("device"),  # where: cpu, cuda:1, cuda:0@host (ray)
        "error": status.get("error"),
        **further,
    }


def further_metrics(rows: list[dict]) -> list[str]:
    """Metrics the rows carry beyond the standard columns (val_f1, eval_bleu, ...), in first-seen order."""
    names: list[str] = []
    for row in rows:
        names.extend(
            k
            for k in row
            if k not in SUMMARY_COLUMNS and k not in ROW_KEYS and k not in STATE_COLUMNS and k not in names
        )
    return names


def summary_columns(summary: dict, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """summary.csv's header: the standard columns with the run's further metrics after val_acc, and the state
    columns (batch_size, best_epoch, stuck, ...) some row has."""
    at = SUMMARY_COLUMNS.index("best_val_loss")
    further = tuple(summary.get("metrics") or ())
    columns = [*SUMMARY_COLUMNS[:at], *further, *SUMMARY_COLUMNS[at:]]
    rows = summary.get("variants") or []
    for column, after in STATE_COLUMNS.items():
        if any(row.get(column) is not None for row in rows):
            columns.insert(columns.index(after) + 1 if after in columns else len(columns), column)
    return (*columns, *extra)


def score(row: dict, metric: str) -> float | None:
    """The selection score of a finished row (None: not rankable, e.g. diverged, pruned or pending)."""
    if row["status"] != "done":
        return None
    value = row.get(metric)
    return value if value is not None and math.isfinite(value) else None


def group_rows(rows: list[dict], metric: str) -> list[dict]:
    """Aggregate seeds: one group per (lr, optimizer, scheduler, batch size), mean ± std of the metric."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["lr"], row["optimizer"], row["scheduler"], row.get("batch_size")), []).append(row)
    out = []
    for (lr, opt, sched, size), members in groups.items():
        scores = [score(r, metric) for r in members]
        complete = all(s is not None for s in scores)
        values = _finite(scores)
        out.append(
            {
                "lr": lr,
                "optimizer": opt,
                "scheduler": sched,
                "batch_size": size,
                "stuck": any(r.get("stuck") for r in members),  # ranked after every healthy group
                "epochs": [_scored_epoch(r) for r in members],  # the epoch each seed was scored at
                "seeds": [r["seed"] for r in members],
                "ids": [r["id"] for r in members],
                "scores": scores,  # per seed, in the order of "seeds" (None where not rankable)
                "n": len(values),
                "mean": statistics.fmean(values) if complete and values else None,
                "std": statistics.stdev(values)
                if complete and len(values) > 1
                else (0.0 if complete and values else None),
                "statuses": sorted({r["status"] for r in members}),
            }
        )
    return out


def _scored_epoch(row: dict) -> int:
    """The epoch a row's metrics are from: its best epoch (select.at best), else its last."""
    return row.get("best_epoch") or row.get("epochs_run") or 0


def rank_groups(groups: list[dict], direction: str) -> list[dict]:
    """Rankable groups best first (a group with a diverged or unfinished seed is not rankable); a group stuck at
    chance ranks after every healthy one."""
    sign = 1 if direction == "min" else -1
    rankable = [g for g in groups if g["mean"] is not None]
    return sorted(rankable, key=lambda g: (bool(g.get("stuck")), sign * g["mean"], g["lr"], g.get("batch_size") or 0))


def summarize(
    name: str,
    metric: str,
    rows: list[dict],
    retrain: dict | None = None,
    direction: str | None = None,
    at: str = "last",
    lr_scaling: str = "none",
) -> dict:
    """The summary of a sweep: rows ranked by the metric (``direction`` min or max wins; by default what the
    metric's name says, see :mod:`lrsweep.config.directions`), seed groups, the best, the tie flag; ``at`` says
    which epoch the rows were scored at (see :func:`variant_row`); with batch size as an axis, each batch size's
    best and the exponent of best LR on batch size against ``lr_scaling``'s rule."""
    direction = metric_mode(metric, direction)
    groups = group_rows(rows, metric)
    ranked = rank_groups(groups, direction)
    best = ranked[0] if ranked else None
    rank_of = {tuple(g["ids"]): i + 1 for i, g in enumerate(ranked)}
    for row in rows:
        group = next(g for g in groups if row["id"] in g["ids"])
        row["rank"] = rank_of.get(tuple(group["ids"]))
        row["best"] = best is not None and row["id"] in best["ids"]
    sign = 1 if direction == "min" else -1
    ordered = sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, sign * (score(r, metric) or 0), r["lr"]))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {
        "name": name,
        "metric": metric,
        "direction": direction,
        "at": at,
        "metrics": further_metrics(rows),
        "best": _best_entry(best, ranked, rows, sign, at),
        "batch_sizes": batch_size_scaling(ranked, rows, lr_scaling),
        "groups": ranked + [g for g in groups if g["mean"] is None],
        "variants": ordered,
        "status_counts": counts,
        "complete": all(r["status"] in COMPLETE_STATUSES for r in rows),
        "retrain": retrain,
    }


def _best_entry(best: dict | None, ranked: list[dict], rows: list[dict], sign: int, at: str = "last") -> dict | None:
    if best is None:
        return None
    keys = ("lr", "optimizer", "scheduler", "batch_size", "mean", "std", "n", "ids", "stuck")
    entry: dict[str, Any] = {k: best.get(k) for k in keys}
    entry["id"] = best["ids"][0]
    members = [r for r in rows if r["id"] in best["ids"]]
    if at == "best" or any(r.get("stopped_early") for r in members):  # the retrain stops where it was scored
        entry["stop_epoch"] = round(statistics.fmean(best["epochs"]))
    rivals = [g for g in ranked[1:] if bool(g.get("stuck")) == bool(best.get("stuck"))]  # a stuck one is no rival
    entry["tied_with_runner_up"] = bool(rivals) and tied(best, rivals[0], sign)
    entry["edge"] = _grid_edge(best, ranked, rows)
    return entry


def paired_gaps(best: dict, other: dict, sign: int) -> list[float]:
    """Per shared seed, how much better ``best`` scored than ``other`` (positive: best won that seed)."""
    mine = dict(zip(best["seeds"], best.get("scores") or []))
    theirs = dict(zip(other["seeds"], other.get("scores") or []))
    return [
        sign * (theirs[s] - mine[s])
        for s in best["seeds"]
        if mine.get(s) is not None and theirs.get(s) is not None and s in theirs
    ]


def tied(best: dict, other: dict, sign: int = 1) -> bool:
    """Whether ``other`` is indistinguishable from ``best`` within seed noise, compared seed by seed.

    Same seed, same initial weights and batches: the paired differences measure the LR's effect. Equal
    within TIE_RTOL is a tie; a pick that wins on every seed is not tied; otherwise tied when the mean
    difference is within one standard deviation of the differences. Without shared seeds, the means
    are compared against the larger of the two standard deviations.
    """
    tolerance = TIE_RTOL * max(abs(best["mean"]), abs(other["mean"]))
    gap = sign * (other["mean"] - best["mean"])
    if gap <= tolerance:
        return True
    gaps = paired_gaps(best, other, sign)
    if not gaps:
        return gap <= max(best["std"] or 0.0, other["std"] or 0.0)
    if all(g > tolerance for g in gaps):
        return False
    return len(gaps) > 1 and statistics.fmean(gaps) <= statistics.stdev(gaps)


def _grid_edge(best: dict, ranked: list[dict], rows: list[dict]) -> str | None:
    """'low' or 'high' when the best lr is the smallest/largest of its (optimizer, scheduler, batch size) grid."""
    same = ("optimizer", "scheduler", "batch_size")
    lrs = sorted({r["lr"] for r in rows if all(r.get(k) == best.get(k) for k in same)})
    if len(lrs) < 2:
        return None
    if best["lr"] == lrs[0]:
        return "low"
    if best["lr"] == lrs[-1]:
        return "high"
    return None
