"""``lrsweep compare``: several sweeps side by side, as data (``compare_data``) and as tables."""

from __future__ import annotations

from rich.table import Table

from lrsweep.render.format import fmt, fmt_lr, keep_numbers


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
