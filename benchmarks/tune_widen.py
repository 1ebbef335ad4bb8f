"""Fewer, wider stages: tune with its wider-stage plan and without it, side by side, wall seconds.

    python benchmarks/tune_widen.py                  # every task of selection_tasks at --budget 16, 3 runs each
    python benchmarks/tune_widen.py --budget 8       # at the default budget (no plan has room to widen there)
    python benchmarks/tune_widen.py --tasks logreg-adam,friedman-mlp-adam --reps 5 --json out.json

Where the measured pack costs say packs are cheap, tune's plan compares one wider scouting pack against the
scouts setting plus the refinement rounds it needs, in estimated seconds (lrsweep.select.strategy.most_scouts).
This runs each task's tune with that plan and with it turned off (CHEAP_PACK below zero: never cheap),
interleaved run by run so that the machine's load falls on both alike, and prints each task's median seconds,
trainings, scouts, refinement rounds, whether the pick is in the good band (selection_tasks' truth) and the
ratio wide ÷ narrow. Where the plan did not widen the two runs are the same plan: their ratio is the noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection_tasks import BAND, band, pick_loss, tasks, truth  # noqa: E402

PLANS = ("narrow", "wide")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=16.0, help="tune's budget in trainings (default 16)")
    p.add_argument("--reps", type=int, default=3, help="runs of each plan per task (default 3)")
    p.add_argument("--tasks", help="comma-separated task names (default: all)")
    p.add_argument("--json", metavar="FILE", help="write every number here too")
    return p.parse_args(argv)


def run_once(raw: dict, budget: float, wide: bool) -> dict:
    import lrsweep.select.strategy as strategy
    from lrsweep.api.tuning import tune

    cheap = strategy.CHEAP_PACK
    strategy.CHEAP_PACK = cheap if wide else -1.0
    try:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = tune(raw, out=tmp, budget=budget)
        seconds = time.perf_counter() - started
    finally:
        strategy.CHEAP_PACK = cheap
    scout = next(s for s in result.stages if s["stage"] == "scout")
    return {
        "seconds": seconds,
        "trainings": result.cost["trainings"],
        "lr": result.best["lr"],
        "scouts": len(scout["lrs"]),
        "widened": bool(scout.get("widened")),
        "rounds": sum(1 for s in result.stages if s["stage"] == "refine"),
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    every = tasks()
    names = args.tasks.split(",") if args.tasks else list(every)
    unknown = [n for n in names if n not in every]
    if unknown:
        print(f"unknown task(s): {', '.join(unknown)} (valid: {', '.join(every)})", file=sys.stderr)
        sys.exit(2)
    run_once(every[names[0]][0], args.budget, True)  # untimed: the first tune pays for imports and lazy set-up
    runs: dict[str, dict[str, list[dict]]] = {n: {p: [] for p in PLANS} for n in names}
    for rep in range(args.reps):
        for name in names:
            for plan in PLANS if rep % 2 == 0 else PLANS[::-1]:  # alternate which goes first
                runs[name][plan].append(run_once(every[name][0], args.budget, plan == "wide"))
    report = {}
    for name in names:
        raw, lr_range = every[name]
        best = band(truth(name, raw, lr_range))[0]
        row = {}
        for plan in PLANS:
            last = runs[name][plan][-1]
            ratio = pick_loss(name, raw, last["lr"]) / best
            row[plan] = {
                **last,
                "seconds": statistics.median(r["seconds"] for r in runs[name][plan]),
                "all_seconds": [r["seconds"] for r in runs[name][plan]],
                "in_band": ratio <= 1 + BAND,
            }
        row["ratio"] = row["wide"]["seconds"] / row["narrow"]["seconds"]
        report[name] = row
        cells = " | ".join(
            f"{p}: {row[p]['seconds']:5.2f}s {row[p]['trainings']:5.2f} tr, {row[p]['scouts']:2d} scouts, "
            f"{row[p]['rounds']} rounds, {'in band' if row[p]['in_band'] else 'OUT'}"
            for p in PLANS
        )
        same = "" if row["wide"]["widened"] else " (same plan)"
        print(f"{name:28s} | {cells} | wide/narrow {row['ratio']:.2f}{same}")
    if args.json:
        Path(args.json).write_text(json.dumps({"budget": args.budget, "reps": args.reps, "tasks": report}, indent=1))


if __name__ == "__main__":
    main()
