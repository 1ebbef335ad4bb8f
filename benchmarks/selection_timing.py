"""benchmarks/selection.py's strategies run for real, as a user runs them from Python, and timed.

Each strategy is the library call a user makes (``lrsweep.tune``, ``lrsweep.grid``, ``lrsweep.find``;
Optuna calling ``lrsweep.grid`` once per trial), in this process, one after another on the same task: its
wall seconds (what a user waits) and CPU seconds (the process's, every thread), with the start-up of the
interpreter and of ``import torch`` left out (paid once per command, the same for every strategy). A task
is warmed up first (one untimed epoch), so its first strategy does not pay for the imports and the data
files being read for the first time.
"""

from __future__ import annotations

import gc
import math
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import median

from selection_tasks import SEEDS


@dataclass
class Timed:
    """One strategy's pick on one task, what it cost in trainings and in seconds."""

    lr: float  # nan: no pick (every LR diverged, or find wrote no grid)
    trainings: float
    seconds: float
    cpu_seconds: float
    note: str = ""  # why there is no pick


@contextmanager
def stopwatch():
    """Yields a dict that holds ``seconds`` and ``cpu_seconds`` once the block is done."""
    took: dict = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield took
    finally:
        took["seconds"] = time.perf_counter() - wall
        took["cpu_seconds"] = time.process_time() - cpu


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def warm_up(raw: dict) -> None:
    """One untimed epoch of one LR (no schedule): imports, the data files and the model's first build paid
    before timing."""
    import lrsweep

    plain = {k: v for k, v in raw.items() if k != "scheduler"}
    with tempfile.TemporaryDirectory() as tmp:
        lrsweep.grid({**plain, "lr": [1e-3], "seeds": SEEDS[:1], "train": {**raw["train"], "epochs": 1}}, out=tmp)


def per_training(raw: dict) -> int:
    """Optimizer steps in one full training of the task: what a range test's steps are a share of."""
    from lrsweep.config import parse_config
    from lrsweep.engine.loop import steps_per_epoch
    from lrsweep.sweep.executors.base import load_data
    from lrsweep.sweep.runner import train_spec

    config = parse_config(raw)
    splits = load_data(config)
    spec = train_spec(config, splits)
    return spec.epochs * steps_per_epoch(len(splits.train_x), spec.batch_size)


def _grid_best(raw: dict, lrs: list[float], tmp: str, seeds=SEEDS) -> tuple[float, dict]:
    """``lrsweep.grid`` over ``lrs`` x ``seeds``: (its best LR, nan when every LR diverged; its summary)."""
    import lrsweep

    result = lrsweep.grid({**raw, "lr": list(lrs), "seeds": list(seeds)}, out=tmp)
    return (result.best.lr if result.best is not None else math.nan), result.summary


def timed_tune(raw: dict, budget: float) -> Timed:
    import lrsweep

    with tempfile.TemporaryDirectory() as tmp, stopwatch() as took:
        result = lrsweep.tune(raw, out=tmp, budget=budget)
    lr = result.best["lr"] if result.best else math.nan
    return Timed(lr, result.cost["trainings"], **took)


def timed_grid(raw: dict, lrs: list[float]) -> Timed:
    with tempfile.TemporaryDirectory() as tmp, stopwatch() as took:
        lr, _ = _grid_best(raw, lrs, tmp)
    return Timed(lr, len(lrs) * len(SEEDS), **took)


def timed_find(raw: dict, steps: int, with_grid: bool) -> Timed:
    """``lrsweep.find`` (its valley suggestion); with ``with_grid`` the grid ``--write-grid`` would write
    around it (7 LRs below the ceiling), trained. ``steps``: a training's optimizer steps."""
    import lrsweep
    from lrsweep.errors import UsageError
    from lrsweep.select.finder import grid_around

    note, lr = "", math.nan
    with tempfile.TemporaryDirectory() as tmp, stopwatch() as took:
        test = lrsweep.find(raw, out=tmp).range_test
        trainings = (test.steps_run + test.edge_steps) / steps
        if not with_grid:
            lr = test.suggestion()
        else:
            try:
                lrs = grid_around(test.suggestion(), test.ceiling)
            except UsageError as err:  # what `lrsweep find --write-grid` says too: no grid, no pick
                note = f"no grid: {err}"
            else:
                lr = _grid_best(raw, lrs, tmp)[0]
                trainings += len(lrs) * len(SEEDS)
    return Timed(float(f"{lr:.4g}"), trainings, **took, note=note)


def timed_tpe(raw: dict, trials: int, lr_range: tuple[float, float]) -> Timed:
    """Optuna's TPE sampler (seed 0), each trial one ``lrsweep.grid`` of one LR and the first seed."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, stopwatch() as took:
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))

        def objective(trial):
            lr = float(f"{trial.suggest_float('lr', *lr_range, log=True):.4g}")
            _, summary = _grid_best(raw, [lr], tmp, seeds=SEEDS[:1])
            value = summary["variants"][0].get("val_loss")
            return value if value is not None and math.isfinite(value) else 1e30

        study.optimize(objective, n_trials=trials)
    return Timed(float(f"{study.best_params['lr']:.4g}"), float(trials), **took)


def run_timed(
    raw: dict,
    strategies: list[str],
    budget: float,
    grid5: list[float],
    tpe_range: tuple[float, float],
    repeats: int = 1,
) -> dict[str, Timed]:
    """Every strategy asked for, trained for real on one task, one after another, ``repeats`` rounds (the
    strategies interleaved, their order reversed every other round, so a change in the machine's load falls on all
    of them and none is always first): strategy -> Timed, with the median wall and CPU seconds of its rounds.
    Every round picks the same LR (each is seeded); a round that does not says so in the note."""
    warm_up(raw)
    steps = per_training(raw) if {"find", "find+grid"} & set(strategies) else 0
    runs = {
        "tune": lambda: timed_tune(raw, budget),
        "find": lambda: timed_find(raw, steps, with_grid=False),
        "grid5": lambda: timed_grid(raw, grid5),
        "find+grid": lambda: timed_find(raw, steps, with_grid=True),
        "tpe": lambda: timed_tpe(raw, int(budget), tpe_range),
    }
    rounds = []
    for r in range(repeats):
        order = strategies if r % 2 == 0 else strategies[::-1]  # no strategy always first after the warm-up
        done = {}
        for s in order:
            gc.collect()  # the previous strategy's garbage, collected before this one's clock starts
            done[s] = runs[s]()
        rounds.append(done)
    return {s: _median_of([r[s] for r in rounds]) for s in strategies}


def _median_of(runs: list[Timed]) -> Timed:
    first = runs[0]
    picks = {f"{r.lr:.4g}" for r in runs}
    note = first.note if len(picks) == 1 else f"{first.note} the rounds picked {', '.join(sorted(picks))}".strip()
    seconds, cpu = median(r.seconds for r in runs), median(r.cpu_seconds for r in runs)
    return Timed(first.lr, first.trainings, seconds, cpu, note)
