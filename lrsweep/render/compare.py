"""``lrsweep compare``: several sweeps side by side, as data (``compare_data``) and as tables."""

from __future__ import annotations

from rich.table import Table

from lrsweep.render.format import fmt, fmt_lr, keep_numbers


def _score_at(groups: list[dict], lr: float, direction: str, batch_size: int | None = None) -> dict | None:
    """The best seed group at ``lr`` (and ``batch_size``; over optimizers/schedulers), or its status when none is
    rankable."""
    here = [g for g in groups if g["lr"] == lr and g.get("batch_size") == batch_size]
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
                "at": summary.get("at", "last"),
                "best": {
                    k: best.get(k)
                    for k in (
                        "lr",
                        "batch_size",
                        "optimizer",
                        "scheduler",
                        "mean",
                        "std",
                        "n",
                        "edge",
                        "tied_with_runner_up",
                        "stop_epoch",
                        "stuck",
                    )
                }
                if best
                else None,
                "retrain": summary.get("retrain"),
                "variants": len(summary["variants"]),
                "finished": sum(r["status"] in ("done", "diverged") for r in summary["variants"]),
                "stuck": sum(bool(r.get("stuck")) for r in summary["variants"]),
                "complete": summary.get("complete"),
                "batch_sizes": summary.get("batch_sizes"),
            }
        )
    points = sorted(
        {(g.get("batch_size") or 0, g["lr"]) for summary in runs.values() for g in summary["groups"]},
    )
    by_lr = [
        {
            "lr": lr,
            "batch_size": size or None,
            "runs": {label: _score_at(s["groups"], lr, s["direction"], size or None) for label, s in runs.items()},
        }
        for size, lr in points
    ]
    return {"runs": out_runs, "by_lr": by_lr}


def _mean_std(entry: dict | None) -> str:
    if entry is None:
        return ""
    if entry["mean"] is None:
        return entry["status"]
    return fmt(entry["mean"]) + (f" ± {entry['std']:.2g}" if entry.get("n", 0) > 1 else "")


def _best_facts(run: dict, tests: list[str], sizes: bool) -> dict[str, str]:
    b, r = run["best"] or {}, run["retrain"] or {}
    at = f" (epoch {b['stop_epoch']})" if b.get("stop_epoch") else ""
    facts = {
        "best lr": fmt_lr(b["lr"]) if b else "–",
        **({"batch size": fmt(b.get("batch_size"))} if sizes else {}),
        "score": f"{run['metric']} {_mean_std(b)}{at}" if b else "–",
        "optimizer": b.get("optimizer") or "–",
        "scheduler": b.get("scheduler") or "–",
        **{name: fmt(r.get(name)) for name in tests},
        "finished": f"{run['finished']}/{run['variants']}",
        "warnings": ", ".join(
            w
            for w, on in (
                ("tied within seed noise", b.get("tied_with_runner_up")),
                (f"best at the {b.get('edge')} edge", b.get("edge")),
                ("the best is stuck at chance", b.get("stuck")),
                (f"{run.get('stuck')} stuck at chance", run.get("stuck") and not b.get("stuck")),
            )
            if on
        )
        or "–",
    }
    return facts


def compare_tables(data: dict) -> list[Table]:
    """Two tables, a column per run: each run's best; each run's score at every learning rate (and batch size)."""
    best = Table(title="Best of each run", title_justify="left")
    best.add_column("")
    retrains = [run["retrain"] or {} for run in data["runs"]]
    tests = ["test_acc", "test_loss"] + sorted(
        {k for r in retrains for k in r if k.startswith("test_") and k not in ("test_acc", "test_loss")}
    )
    sizes = any(line.get("batch_size") is not None for line in data["by_lr"])
    facts = [_best_facts(run, tests, sizes) for run in data["runs"]]
    for run in data["runs"]:
        best.add_column(run["label"], justify="right")
    for key in facts[0] if facts else ():
        best.add_row(key, *(f[key] for f in facts))
    by_lr = Table(title="Score at each learning rate (★ the run's best)", title_justify="left")
    by_lr.add_column("lr", justify="right")
    if sizes:
        by_lr.add_column("batch_size", justify="right")
    for run in data["runs"]:
        at = " (best epoch)" if run.get("at") == "best" else ""
        by_lr.add_column(f"{run['label']}\n{run['metric']}{at}", justify="right")
    for line in data["by_lr"]:
        cells = [fmt_lr(line["lr"])] + ([fmt(line.get("batch_size"))] if sizes else [])
        for run in data["runs"]:
            b = run["best"]
            here = b and b["lr"] == line["lr"] and b.get("batch_size") == line.get("batch_size")
            cells.append(_mean_std(line["runs"][run["label"]]) + (" ★" if here else ""))
        by_lr.add_row(*cells)
    return [keep_numbers(best), keep_numbers(by_lr)]
