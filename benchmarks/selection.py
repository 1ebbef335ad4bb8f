"""Does the LR a strategy picks land in the good band, for how many trainings and how many seconds?

    python benchmarks/selection.py                    # every task (truths and picks cached: minutes, not hours)
    python benchmarks/selection.py logreg-adam        # one task (or --tasks a,b)
    python benchmarks/selection.py --time             # train every strategy now, timed: wall seconds for each
    python benchmarks/selection.py --time --repeats 5 # the median of 5 interleaved rounds (default 3)
    python benchmarks/selection.py --budget 8         # tune (and TPE) at another budget
    python benchmarks/selection.py --json out.json    # every number of the table, and the machine's load
    python benchmarks/selection.py --grace            # the grace-period measurement behind tune's default
    python benchmarks/selection.py --at best          # every variant scored at its best epoch (select.at: best)
    python benchmarks/selection.py --early-stopping 2 # and/or with early stopping (patience 2) on val_loss

Twelve small tasks of different kinds (benchmarks/selection_tasks.py: image, sequence and tabular;
classification, regression and noisy labels; MLPs, CNNs with and without BatchNorm, a GRU, linear models;
SGD with and without momentum, full-batch gradient descent, Adam, AdamW, RMSprop, Adagrad; constant LRs,
OneCycle, warm-up + cosine; batch sizes 8 to 400), each with a dense-grid truth of 24 LRs x 3 seeds cached
in selection_truth.json with the wall time it took. The good band: LRs whose seed-mean val_loss is within
10% of the best. A strategy's pick is trained with the same 3 seeds (cached too) and is in the band when
its seed-mean val_loss is within 10% of the truth's best.

With ``--at best`` the truth is each LR's lowest val_loss over its epochs (its best epoch) and picks are judged
so too; with ``--early-stopping P`` every strategy trains with early stopping and pays only the epochs it ran,
while picks are still judged by full trainings (benchmarks/selection_scoring.py explains how).

Strategies, with their cost in trainings (variant-epochs / train.epochs; range-test steps as their
share of a training; the retrain of the winner is not counted for any of them):
  tune       lrsweep.tune at its default budget (3 seeds, as the config)
  find       `lrsweep find`'s default suggestion (valley)
  grid5      a coarse grid 1e-4, 1e-3, ..., 1 x 3 seeds
  find+grid  find --write-grid (7 LRs around the suggestion, below the ceiling) x 3 seeds
  tpe        Optuna's TPE sampler, one seed per trial, as many trials as tune's budget (log-uniform 1e-5..10)

Seconds: without --time only tune is trained now (the other picks come from the cache), so only tune's
are shown; with --time every strategy runs as a user runs it (selection_timing.py) on one task after
another, ``--repeats`` rounds interleaved (the median of each strategy's). Their ratio to grid5 is the
robust figure on a shared machine; the absolute seconds move with the load, which the table's footnote
states.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection_report import Row, cell, dense_cell, report_json, table_of  # noqa: E402
from selection_tasks import (  # noqa: E402
    BAND,
    DEV_TASKS,
    SEEDS,
    band,
    pick_loss,
    tasks,
    trial_loss,
    truth,
    truth_lrs,
)
from selection_timing import load_average, run_timed, stopwatch, timed_grid  # noqa: E402

STRATEGIES = ("tune", "find", "grid5", "find+grid", "tpe")
GRID5 = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
TPE_RANGE = (1e-5, 10.0)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tasks", nargs="*", help="task names (default: all)")
    p.add_argument("--tasks", dest="task_list", metavar="NAMES", help="comma-separated task names, as positionals")
    p.add_argument(
        "--time", action="store_true", help="train every strategy now (not from the cache) and time it: wall seconds"
    )
    p.add_argument(
        "--dense",
        action="store_true",
        help="with --time: train and time the dense grid (24 LRs x 3 seeds) now too, instead of showing the time "
        "cached with its truth (costs about as much as all the other strategies together)",
    )
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        metavar="N",
        help="with --time: N rounds of every strategy on each task, interleaved; each strategy's seconds are the "
        "median of its rounds (default: %(default)s; tasks of a fraction of a second vary by 10-20%% run to run)",
    )
    p.add_argument("--json", metavar="FILE", help="also write every number of the table (and the load) to FILE")
    p.add_argument("--budget", type=float, default=None, help="tune's budget (default: tune's default)")
    p.add_argument("--grace", action="store_true", help="measure successive halving's grace period on the truths")
    p.add_argument(
        "--plain-cuts",
        action="store_true",
        help="tune cuts its scouts at the grace period whatever the schedule (TuneSettings(schedule_aware=False), "
        "the rule before issue #19): to measure what the schedule-aware scouting changes",
    )
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated, of: %(default)s")
    p.add_argument("--at", choices=("last", "best"), default="last", help="the epoch each variant is scored at")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE", help="early stopping on val_loss")
    return p.parse_args(argv)


def _config(raw):
    from lrsweep.config import parse_config

    return parse_config(raw)


def run_tune(name, raw, budget, plain_cuts=False):
    from lrsweep.api.tuning import TuneSettings, tune

    with tempfile.TemporaryDirectory() as tmp:
        result = tune(raw, out=tmp, budget=budget, settings=TuneSettings(schedule_aware=not plain_cuts))
    return result.best["lr"], result.cost["trainings"], result


def run_find(raw):
    """`lrsweep find`'s range test with its defaults, as cli/find.py runs it; (result, cost in trainings)."""
    import torch

    from lrsweep.engine.common import loss_fn
    from lrsweep.engine.loop import initial_state, steps_per_epoch
    from lrsweep.select.finder import FinderSettings
    from lrsweep.select.range_test import range_test
    from lrsweep.sweep.executors.base import load_data
    from lrsweep.sweep.runner import train_spec

    config = _config(raw)
    splits = load_data(config)
    spec = train_spec(config, splits)
    settings = FinderSettings()
    model, optimizer = initial_state(spec, config.optimizers[0], settings.start_lr, config.seeds[0], "cpu")
    result = range_test(
        model,
        optimizer,
        loss_fn(spec.loss, spec.loss_options),
        splits.train_x,
        splits.train_y,
        spec.batch_size,
        settings,
        generator=torch.Generator().manual_seed(config.seeds[0]),
    )
    per_training = spec.epochs * steps_per_epoch(len(splits.train_x), spec.batch_size)
    return result, (result.steps_run + result.edge_steps) / per_training


def grid_pick(name, raw, lrs):
    """The grid's best by seed mean (every LR x 3 seeds)."""
    means = {lr: pick_loss(name, raw, lr) for lr in lrs}
    return min(means, key=lambda lr: (means[lr], lr))


def run_tpe(name, raw, trials):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))

    def objective(trial):
        lr = float(f"{trial.suggest_float('lr', *TPE_RANGE, log=True):.4g}")
        value = trial_loss(name, raw, lr)  # one seed, one training per trial
        return value if math.isfinite(value) else 1e30

    study.optimize(objective, n_trials=trials)
    return float(f"{study.best_params['lr']:.4g}")


def run_tpe_scored(name, raw, trials, rule):
    """TPE on what each trial sees under ``rule`` (select.at, early stopping); its pick and cost in trainings."""
    import optuna
    from selection_scoring import trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))
    spent = []

    def objective(one):
        lr = float(f"{one.suggest_float('lr', *TPE_RANGE, log=True):.4g}")
        value, cost = trial(name, raw, lr, rule)
        spent.append(cost)
        return value if math.isfinite(value) else 1e30

    study.optimize(objective, n_trials=trials)
    return float(f"{study.best_params['lr']:.4g}"), sum(spent)


def evaluate(name, raw, lr_range, strategies, budget, rule=None, timed=False, plain_cuts=False, repeats=1):
    """(best seed-mean val_loss, band low, band high, rows): per strategy (name, pick, in band?, cost in
    trainings, the pick's seed-mean val_loss, wall seconds or None, CPU seconds or None). ``timed``: every
    strategy trained for real (selection_timing.py), ``repeats`` rounds, the median seconds; otherwise from the
    cached picks, tune alone trained.
    ``rule``: how variants are scored (select.at, early stopping; selection_scoring.py); not with ``timed``."""
    import selection_scoring as scoring

    from lrsweep.api.tuning import TuneSettings
    from lrsweep.errors import UsageError
    from lrsweep.select.finder import grid_around

    rule = rule or scoring.Rule()
    plain = rule == scoring.Rule()  # the cached final losses answer everything, as before
    entry = truth(name, raw, lr_range)
    best, low, high = band(entry) if plain else scoring.truth_band(entry, rule.at)
    rows = []

    def judge(strategy, lr, cost, seconds=None, cpu_seconds=None):
        if not math.isfinite(lr):
            loss = math.inf
        else:
            loss = pick_loss(name, raw, lr) if plain else scoring.judged(name, raw, lr, rule.at)
        rows.append(Row(strategy, lr, loss <= (1 + BAND) * best, cost, loss, seconds, cpu_seconds))

    def pick_of(lrs):
        return (grid_pick(name, raw, lrs), len(lrs) * len(SEEDS)) if plain else scoring.grid_pick(name, raw, lrs, rule)

    budget = budget or TuneSettings().budget
    if timed:
        for strategy, run in run_timed(raw, strategies, budget, GRID5, TPE_RANGE, repeats).items():
            if run.note:
                print(f"{name}: {strategy}: {run.note}", flush=True)
            judge(strategy, run.lr, run.trainings, run.seconds, run.cpu_seconds)
        return best, low, high, rows
    if "tune" in strategies:
        with stopwatch() as took:
            lr, cost, _ = run_tune(name, raw if plain else scoring.with_rule(raw, rule), budget, plain_cuts)
        judge("tune", lr, cost, took["seconds"], took["cpu_seconds"])
    found, find_cost = run_find(raw) if {"find", "find+grid"} & set(strategies) else (None, 0)
    if "find" in strategies:
        judge("find", float(f"{found.suggestion():.4g}"), find_cost)
    if "grid5" in strategies:
        judge("grid5", *pick_of(GRID5))
    if "find+grid" in strategies:
        try:
            lrs = grid_around(found.suggestion(), found.ceiling)
        except UsageError as err:  # what `lrsweep find --write-grid` says too: no grid, no pick
            print(f"{name}: find+grid wrote no grid: {err}", flush=True)
            judge("find+grid", math.nan, find_cost)
        else:
            lr, cost = pick_of(lrs)
            judge("find+grid", lr, find_cost + cost)
    if "tpe" in strategies:
        if plain:
            judge("tpe", run_tpe(name, raw, int(budget)), float(int(budget)))
        else:
            judge("tpe", *run_tpe_scored(name, raw, int(budget), rule))
    return best, low, high, rows


def grace_study():
    """On every truth: successive halving over 8 of its LRs (seed 0), cut at epoch g keeping 1/3 —
    is the full-length best among the survivors, and how far (in LR) does the cut's pick lean upwards?"""
    for name, (raw, lr_range) in tasks().items():
        entry = truth(name, raw, lr_range)
        grid = sorted(entry["grid"].items(), key=lambda kv: float(kv[0]))
        epochs = raw["train"]["epochs"]
        for start in range(3):
            scouts = grid[start::3][:8]
            final = {float(lr): (s["0"][-1] if s["0"] else math.inf) for lr, s in scouts}
            true_best = min(final, key=final.get)
            out = []
            for g in sorted({1, max(1, round(epochs / 3)), max(1, epochs // 2), epochs - 1}):
                at = {float(lr): (s["0"][g - 1] if s["0"] and len(s["0"]) >= g else math.inf) for lr, s in scouts}
                kept = sorted(at, key=at.get)[: max(1, len(scouts) // 3)]
                lean = math.log10(min(kept, key=at.get) / true_best)
                out.append(f"g={g}: {'kept' if true_best in kept else 'CUT '} lean {lean:+.2f} dec")
            print(f"{name:20s} offset {start}: " + " | ".join(out))


def refuse_unknown(kind: str, asked: list[str], names) -> None:
    """Exit 2 with one line naming an unknown task or strategy, the nearest valid spelling and the valid ones."""
    import difflib

    for name in asked:
        if name not in names:
            near = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            print(f"selection.py: error: unknown {kind} '{name}'{hint}; valid: {', '.join(names)}", file=sys.stderr)
            raise SystemExit(2)


def chosen_tasks(args) -> list[str]:
    """The task names asked for (positional and --tasks; default: all), refusing unknown ones."""
    names = list(tasks())
    asked = [*args.tasks, *(t for t in (args.task_list or "").split(",") if t)]
    refuse_unknown("task", asked, names)
    return [n for n in names if n in asked] if asked else names


def run_task(name: str, args, strategies: list[str], rule=None) -> dict:
    """One task: its truth, every strategy's row, the dense grid's timing, the load before and after."""
    raw, lr_range = tasks()[name]
    before = load_average()
    best, low, high, rows = evaluate(
        name,
        raw,
        lr_range,
        strategies,
        args.budget,
        rule,
        timed=args.time,
        plain_cuts=args.plain_cuts,
        repeats=args.repeats,
    )
    dense = truth(name, raw, lr_range).get("timing")
    if args.time and args.dense:
        run = timed_grid(raw, truth_lrs(lr_range))
        dense = {"seconds": run.seconds, "cpu_seconds": run.cpu_seconds, "trained_now": True}
    return {
        "task": name,
        "held_out": name not in DEV_TASKS,
        "best_loss": best,
        "band": [low, high],
        "dense": dense,
        "load": [before, load_average()],
        "rows": {r.strategy: r for r in rows},
    }


def main(argv=None) -> None:
    from rich.console import Console

    args = parse_args(argv)
    if args.grace:
        grace_study()
        return
    from selection_scoring import Rule

    strategies = args.strategies.split(",")
    refuse_unknown("strategy", strategies, STRATEGIES)
    rule = Rule(args.at, args.early_stopping)
    if args.time and rule != Rule():
        print(
            "selection.py: error: --time trains every strategy as a user runs it, scored at the last epoch; "
            "--at best / --early-stopping score cached curves: use one or the other",
            file=sys.stderr,
        )
        raise SystemExit(2)
    results, loads = [], [load_average()]
    for name in chosen_tasks(args):
        result = run_task(name, args, strategies, rule)
        results.append(result)
        low, high = result["band"]
        print(
            f"{name}: best {result['best_loss']:.4g}, band {low:.3g}-{high:.3g}; dense {dense_cell(result['dense'])}; "
            + ", ".join(f"{s} {cell(result['rows'][s])}" for s in strategies),
            flush=True,
        )
        if args.json:
            report_json(args.json, args, strategies, results, [*loads, load_average()])
    loads.append(load_average())
    Console(width=240).print(table_of(results, strategies, args.time))
    trained = "every strategy trained now" if args.time else "tune alone trained now, the rest cached"
    print(
        f"scored {rule.label}; cells: in band? · the pick · cost in trainings · wall seconds "
        "(the library call in this process, "
        f"imports excluded; {trained}{f'; the median of {args.repeats} rounds' if args.time else ''}). "
        "The dense grid's seconds: "
        f"{'trained now, after the others' if args.time and args.dense else 'when its truth was computed'}. "
        f"1-minute load average {loads[0]} at the start, {loads[1]} at the end, on {os.cpu_count()} CPUs."
    )
    if args.json:
        report_json(args.json, args, strategies, results, loads)


if __name__ == "__main__":
    main()
