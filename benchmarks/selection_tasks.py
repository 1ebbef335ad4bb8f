"""The tasks of benchmarks/selection.py: twelve small trainings of different kinds, and their dense-grid truth.

    python benchmarks/selection_tasks.py [NAME ...]   # compute the truths not cached yet; print each band
    python benchmarks/selection_tasks.py --retime     # time the truths cached without a wall time

Each task is a config dict (3 seeds); its data files are generated (seeded) by selection_data.py into a
cache folder, never committed; two models come from selection_models.py. The truth of a task is a dense
LR grid (24 LRs x 3 seeds), cached with every variant's per-epoch validation loss in selection_truth.json,
with the wall and CPU seconds it took and the machine's load while it ran (``timing``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path

from selection_data import friedman1, mnist_noisy, mnist_subset, tabular_nonlinear, tabular_raw_scales

HERE = Path(__file__).resolve().parent
TRUTH_FILE = HERE / "selection_truth.json"
SEEDS = [0, 1, 2]
TRUTH_POINTS = 24
BAND = 0.10  # the good band: LRs whose seed-mean val_loss is within 10% of the best
# Tasks whose results were used to choose tune's defaults; the others are held out.
DEV_TASKS = ("mnist-mlp-sgdm", "tabular-mlp-sgd", "linreg-gd-synthetic")


def tasks() -> dict[str, dict]:
    """name -> (config dict, truth LR range)."""
    base = {"seeds": SEEDS, "device": "cpu", "retrain": False, "select": {"metric": "val_loss"}}
    return {
        "mnist-mlp-sgdm": (
            {
                **base,
                "name": "mnist-mlp-sgdm",
                "data": {"name": "npz", "path": mnist_subset(1500, 500), "val_fraction": 0.2, "batch_size": 32},
                "model": {"name": "mlp", "hidden": [64]},
                "optimizer": {"name": "sgd", "momentum": 0.9},
                "train": {"epochs": 3},
            },
            (1e-4, 3.0),
        ),
        "mnist-cnn-adam": (
            {
                **base,
                "name": "mnist-cnn-adam",
                "data": {"name": "npz", "path": mnist_subset(1000, 300), "val_fraction": 0.2, "batch_size": 64},
                "model": {"name": "cnn", "channels": [4, 8], "hidden": [32]},
                "optimizer": {"name": "adam"},
                "train": {"epochs": 2},
            },
            (1e-5, 1.0),
        ),
        "tabular-mlp-sgd": (
            {
                **base,
                "name": "tabular-mlp-sgd",
                "data": {
                    "name": "csv",
                    "path": tabular_nonlinear(),
                    "target": "target",
                    "task": "regression",
                    "val_fraction": 0.2,
                    "batch_size": 32,
                },
                "model": {"name": "mlp", "hidden": [32]},
                "optimizer": {"name": "sgd"},
                "train": {"epochs": 5, "loss": "mse"},
            },
            (1e-4, 3.0),
        ),
        "logreg-adam": (
            {
                **base,
                "name": "logreg-adam",
                "data": {
                    "name": "synthetic-classification",
                    "n_samples": 1000,
                    "n_features": 20,
                    "n_classes": 3,
                    "separation": 1.0,
                    "val_fraction": 0.2,
                    "batch_size": 32,
                },
                "model": {"name": "linear"},
                "optimizer": {"name": "adam"},
                "train": {"epochs": 3},
            },
            (1e-5, 3.0),
        ),
        "linreg-gd-synthetic": (
            {
                **base,
                "name": "linreg-gd-synthetic",
                "data": {
                    "name": "synthetic-regression",
                    "n_samples": 500,
                    "n_features": 8,
                    "noise": 0.5,
                    "val_fraction": 0.2,
                    "batch_size": 400,
                },
                "model": {"name": "linear"},
                "optimizer": {"name": "sgd"},
                "train": {"epochs": 30, "loss": "mse"},
            },
            (1e-3, 3.0),
        ),
        "linreg-gd-raw-csv": (
            {
                **base,
                "name": "linreg-gd-raw-csv",
                "data": {
                    "name": "csv",
                    "path": tabular_raw_scales(),
                    "target": "target",
                    "task": "regression",
                    "standardize": False,
                    "val_fraction": 0.2,
                    "batch_size": 400,
                },
                "model": {"name": "linear"},
                "optimizer": {"name": "sgd"},
                "train": {"epochs": 50, "loss": "mse"},
            },
            (1e-5, 1.0),
        ),
        **held_out_tasks(base),
    }


def _mnist(path: str, batch_size: int) -> dict:
    return {"name": "npz", "path": path, "val_fraction": 0.2, "batch_size": batch_size}


def held_out_tasks(base: dict) -> dict[str, tuple[dict, tuple[float, float]]]:
    """The six kinds issue #19 added: a schedule with a warm-up or a cycle, an RNN, a tiny batch, noisy labels."""
    specs = {
        "mnist-bncnn-onecycle": (  # a CNN with BatchNorm, SGD+momentum under OneCycle (per batch)
            _mnist(mnist_subset(1000, 300), 64),
            {"name": "selection_models:bn_cnn", "channels": [8, 16], "width": 32},
            {"name": "sgd", "momentum": 0.9},
            {"epochs": 3},
            {"type": "onecycle"},
            (1e-3, 3.0),
        ),
        "mnist-mlp-adamw-warmup": (  # AdamW, one epoch of linear warm-up, then cosine, per batch
            _mnist(mnist_subset(1500, 500), 32),
            {"name": "mlp", "hidden": [128]},
            {"name": "adamw"},
            {"epochs": 4},
            {"type": "warmup", "warmup_epochs": 1, "then": {"type": "cosine"}, "interval": "step"},
            (1e-5, 1.0),
        ),
        "friedman-mlp-adam": (  # a regression MLP with Adam on Friedman's #1 function
            {"name": "csv", "path": friedman1(2000), "target": "target", "task": "regression", "val_fraction": 0.2}
            | {"batch_size": 32},
            {"name": "mlp", "hidden": [64, 64]},
            {"name": "adam"},
            {"epochs": 10, "loss": "mse"},
            None,
            (1e-5, 1.0),
        ),
        "mnist-gru-rows": (  # a GRU reading an image two rows per step (14 steps), clipped: the sequential engine
            _mnist(mnist_subset(1500, 500), 32),
            {"name": "selection_models:row_gru", "width": 32, "rows": 2},
            {"name": "adam"},
            {"epochs": 4, "grad_clip": 1.0},
            None,
            (1e-4, 1.0),
        ),
        "mnist-mlp-rmsprop-b8": (  # RMSprop at batch size 8
            _mnist(mnist_subset(1000, 300), 8),
            {"name": "mlp", "hidden": [64]},
            {"name": "rmsprop"},
            {"epochs": 2},
            None,
            (1e-5, 0.3),
        ),
        "mnist-widemlp-adagrad-noisy": (  # a wide MLP with Adagrad on 20% flipped training labels
            _mnist(mnist_noisy(1500, 500, flip=0.2), 32),
            {"name": "mlp", "hidden": [1024]},
            {"name": "adagrad"},
            {"epochs": 6},
            None,
            (1e-5, 1.0),
        ),
    }
    out = {}
    for name, (data, model, optimizer, train, scheduler, lr_range) in specs.items():
        raw = {**base, "name": name, "data": data, "model": model, "optimizer": optimizer, "train": train}
        if scheduler is not None:
            raw["scheduler"] = scheduler
        out[name] = (raw, lr_range)
    return out


def task_key(raw: dict) -> str:
    """A hash of the task without its (machine-dependent) data path: the truth cache's key."""
    plain = json.loads(json.dumps(raw))
    plain["data"].pop("path", None)
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]


def load_truths() -> dict:
    return json.loads(TRUTH_FILE.read_text()) if TRUTH_FILE.exists() else {}


def save_truths(truths: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(truths, handle, indent=1, sort_keys=True)
    os.replace(tmp, TRUTH_FILE)


def sweep(raw: dict, lrs: list[float], seeds=SEEDS) -> dict:
    """Train ``lrs`` x ``seeds`` of a task (packs, this process); lr -> {seed: [val_loss per epoch] or None}."""
    from lrsweep.config import parse_config
    from lrsweep.run.store import RunStore
    from lrsweep.sweep.executors.base import load_data
    from lrsweep.sweep.runner import run_sweep

    config = parse_config({**raw, "lr": list(lrs), "seeds": list(seeds)})
    splits = load_data(config)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore.create(Path(tmp), config.name)
        summary = run_sweep(config, splits, store)
        out: dict = {}
        for row in summary["variants"]:
            losses = [r.get("val_loss") for r in store.read_metrics(row["id"])]
            ok = row["status"] == "done"
            out.setdefault(repr(row["lr"]), {})[str(row["seed"])] = losses if ok else None
    return out


def seed_mean(per_seed: dict) -> float:
    """The seed-mean last-epoch val_loss (inf when a seed diverged)."""
    finals = [v[-1] if v else None for v in per_seed.values()]
    if any(f is None or not math.isfinite(f) for f in finals):
        return math.inf
    return sum(finals) / len(finals)


def truth_lrs(lr_range: tuple[float, float]) -> list[float]:
    lo, hi = lr_range
    return [float(f"{lo * (hi / lo) ** (i / (TRUTH_POINTS - 1)):.4g}") for i in range(TRUTH_POINTS)]


def timed_sweep(raw: dict, lrs: list[float]) -> tuple[dict, dict]:
    """:func:`sweep`, and what it took: wall and CPU seconds, the 1-minute load average before and after."""
    load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    grid = sweep(raw, lrs)
    timing = {
        "seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "load": [round(load, 2), round(os.getloadavg()[0], 2)],
        "threads": torch_threads(),
    }
    return grid, timing


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def data_name(raw: dict) -> str:
    """The task's data file name (its size and noise are in it), which the key, blind to paths, cannot see."""
    return Path(raw["data"].get("path", raw["data"]["name"])).name


def truth(name: str, raw: dict, lr_range: tuple[float, float]) -> dict:
    """The dense grid of a task, from the cache or trained now (and cached, with its wall time)."""
    truths = load_truths()
    key, data = task_key(raw), data_name(raw)
    entry = truths.get(name, {})
    if entry.get("key") != key or entry.get("data", data) != data:
        grid, timing = timed_sweep(raw, truth_lrs(lr_range))
        truths = load_truths()
        truths[name] = {"key": key, "data": data, "grid": grid, "picks": {}, "timing": timing}
        save_truths(truths)
    elif "data" not in entry:  # cached before the data file's name was recorded: recorded now
        truths[name]["data"] = data
        save_truths(truths)
    return truths[name]


def retime(name: str, raw: dict, lr_range: tuple[float, float]) -> float:
    """Train a cached truth again to record its wall time (truths cached before timings were); the grid is
    kept. Returns the largest relative difference between the two trainings' seed-mean val_losses."""
    entry = truth(name, raw, lr_range)
    grid, timing = timed_sweep(raw, [float(lr) for lr in entry["grid"]])
    diffs = [
        abs(seed_mean(grid[lr]) / seed_mean(old) - 1)
        for lr, old in entry["grid"].items()
        if math.isfinite(seed_mean(old)) and math.isfinite(seed_mean(grid[lr]))
    ]
    truths = load_truths()
    truths[name]["timing"] = {**timing, "retimed": True}
    save_truths(truths)
    return max(diffs, default=0.0)


def band(entry: dict) -> tuple[float, float, float]:
    """(best seed-mean val_loss, band low LR, band high LR) of a truth: the hull of grid LRs within BAND."""
    means = {float(lr): seed_mean(s) for lr, s in entry["grid"].items()}
    best = min(means.values())
    inside = [lr for lr, m in means.items() if m <= (1 + BAND) * best]
    return best, min(inside), max(inside)


def pick_losses(name: str, raw: dict, lr: float) -> list[float]:
    """Per seed, the last-epoch val_loss of one LR trained as the truth was (cached; inf where it diverged)."""
    key = repr(float(f"{lr:.6g}"))
    picks = load_truths()[name].setdefault("picks", {})
    if key not in picks:
        per_seed = next(iter(sweep(raw, [float(key)]).values()))
        finals = [
            v[-1] if v and v[-1] is not None and math.isfinite(v[-1]) else None
            for v in (per_seed[str(s)] for s in SEEDS)
        ]
        truths = load_truths()
        truths[name].setdefault("picks", {})[key] = finals
        save_truths(truths)
        picks = truths[name]["picks"]
    return [math.inf if v is None else v for v in picks[key]]


def trial_loss(name: str, raw: dict, lr: float) -> float:
    """The first seed's last-epoch val_loss of one LR (cached; inf where it diverged): one training."""
    key = repr(float(f"{lr:.6g}"))
    picks = load_truths()[name].get("picks", {})
    if key in picks:
        value = picks[key][0]
    else:
        trials = load_truths()[name].setdefault("trials", {})
        if key not in trials:
            per_seed = next(iter(sweep(raw, [float(key)], seeds=SEEDS[:1]).values()))["0"]
            truths = load_truths()
            truths[name].setdefault("trials", {})[key] = per_seed[-1] if per_seed else None
            save_truths(truths)
            trials = truths[name]["trials"]
        value = trials[key]
    return math.inf if value is None or not math.isfinite(value) else value


def pick_loss(name: str, raw: dict, lr: float) -> float:
    """The seed-mean val_loss of one LR, trained as the truth was: is a pick in the band?"""
    values = pick_losses(name, raw, lr)
    return sum(values) / len(values)


def main(argv=None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Compute (or show) the dense-grid truths of the selection tasks.")
    p.add_argument("tasks", nargs="*", help="task names (default: all)")
    p.add_argument("--retime", action="store_true", help="train the truths that have no wall time again, to time them")
    args = p.parse_args(argv)
    for task_name, (config_raw, lr_span) in tasks().items():
        if task_name not in (args.tasks or [task_name]):
            continue
        if args.retime and "timing" not in load_truths().get(task_name, {}):
            drift = retime(task_name, config_raw, lr_span)
            print(f"{task_name}: retimed; seed means moved by at most {drift:.2%}", flush=True)
        entry = truth(task_name, config_raw, lr_span)
        best_loss, low, high = band(entry)
        took = entry.get("timing", {}).get("seconds")
        print(
            f"{task_name}: best {best_loss:.4g}, band {low:.3g}-{high:.3g}, "
            f"dense grid {'time unknown' if took is None else f'{took:.1f} s'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
