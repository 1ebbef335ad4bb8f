"""Does the LR a strategy picks land in the good band, and for how many trainings?

    python benchmarks/selection.py                    # every task (the truths are cached: minutes, not hours)
    python benchmarks/selection.py logreg-adam        # one task
    python benchmarks/selection.py --budget 8         # tune (and TPE) at another budget
    python benchmarks/selection.py --grace            # the grace-period measurement behind tune's default
    python benchmarks/selection.py --at best          # every variant scored at its best epoch (select.at: best)
    python benchmarks/selection.py --early-stopping 2 # and/or with early stopping (patience 2) on val_loss

Six small tasks of different kinds (benchmarks/selection_tasks.py: image and tabular, classification
and regression, SGD+momentum, plain SGD, full-batch gradient descent and Adam), each with a dense-grid
truth of 24 LRs x 3 seeds cached in selection_truth.json. The good band: LRs whose seed-mean val_loss
is within 10% of the best. A strategy's pick is trained with the same 3 seeds (cached too) and is in
the band when its seed-mean val_loss is within 10% of the truth's best.

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
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection_tasks import (  # noqa: E402
    BAND,
    DEV_TASKS,
    SEEDS,
    band,
    pick_loss,
    tasks,
    trial_loss,
    truth,
)

GRID5 = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
TPE_RANGE = (1e-5, 10.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tasks", nargs="*", help="task names (default: all)")
    p.add_argument("--budget", type=float, default=None, help="tune's budget (default: tune's default)")
    p.add_argument("--grace", action="store_true", help="measure successive halving's grace period on the truths")
    p.add_argument("--strategies", default="tune,find,grid5,find+grid,tpe")
    p.add_argument("--at", choices=("last", "best"), default="last", help="the epoch each variant is scored at")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE", help="early stopping on val_loss")
    return p.parse_args(argv)


def _config(raw):
    from lrsweep.config import parse_config

    return parse_config(raw)


def run_tune(name, raw, budget):
    from lrsweep.api.tuning import tune

    with tempfile.TemporaryDirectory() as tmp:
        result = tune(raw, out=tmp, budget=budget)
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


def evaluate(name, raw, lr_range, strategies, budget, rule=None):
    import selection_scoring as scoring

    from lrsweep.api.tuning import TuneSettings
    from lrsweep.errors import UsageError
    from lrsweep.select.finder import grid_around

    rule = rule or scoring.Rule()
    plain = rule == scoring.Rule()  # the cached final losses answer everything, as before
    entry = truth(name, raw, lr_range)
    best, low, high = band(entry) if plain else scoring.truth_band(entry, rule.at)
    rows = []

    def judge(strategy, lr, cost):
        loss = pick_loss(name, raw, lr) if plain else scoring.judged(name, raw, lr, rule.at)
        rows.append((strategy, lr, loss <= (1 + BAND) * best, cost, loss))

    def pick_of(lrs):
        return (grid_pick(name, raw, lrs), len(lrs) * len(SEEDS)) if plain else scoring.grid_pick(name, raw, lrs, rule)

    budget = budget or TuneSettings().budget
    if "tune" in strategies:
        lr, cost, _ = run_tune(name, raw if plain else scoring.with_rule(raw, rule), budget)
        judge("tune", lr, cost)
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
            rows.append(("find+grid", math.nan, False, find_cost, math.inf))
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


def main(argv=None) -> None:
    from rich.console import Console
    from rich.table import Table

    args = parse_args(argv)
    if args.grace:
        grace_study()
        return
    from selection_scoring import Rule

    strategies = args.strategies.split(",")
    rule = Rule(args.at, args.early_stopping)
    table = Table(
        title="Picks in the good band (seed-mean val_loss within 10% of the best of a 24-LR x 3-seed grid), "
        f"scored {rule.label}"
    )
    for column in ("task", "band", *strategies):
        table.add_column(column, justify="left" if column in ("task", "band") else "right")
    totals = {s: [0, 0.0] for s in strategies}
    chosen = args.tasks or list(tasks())
    for name, (raw, lr_range) in tasks().items():
        if name not in chosen:
            continue
        best, low, high, rows = evaluate(name, raw, lr_range, strategies, args.budget, rule)
        cells = {
            s: (f"{'yes' if ok else 'NO'} {lr:.3g} · {cost:.1f}" if math.isfinite(lr) else f"NO (error) · {cost:.1f}")
            for s, lr, ok, cost, _loss in rows
        }
        for s, _lr, ok, cost, _loss in rows:
            totals[s][0] += ok
            totals[s][1] += cost
        label = name + ("" if name in DEV_TASKS else " (held out)")
        table.add_row(label, f"{low:.3g}–{high:.3g}", *(cells[s] for s in strategies))
        print(
            f"{label}: best {best:.4g}, band {low:.3g}-{high:.3g}; " + ", ".join(f"{s} {cells[s]}" for s in strategies),
            flush=True,
        )
    n = len([t for t in tasks() if t in chosen])
    table.add_row(
        "in band · mean cost", "", *(f"{totals[s][0]}/{n} · {totals[s][1] / max(1, n):.1f}" for s in strategies)
    )
    Console(width=200).print(table)
    print("cells: in band? · the pick · cost in trainings. Timings and truths were taken on a shared, busy CPU.")


if __name__ == "__main__":
    main()
