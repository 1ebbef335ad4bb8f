"""The tasks of benchmarks/selection.py: six small trainings of different kinds, and their dense-grid truth.

Each task is a config dict (3 seeds); its data files are generated (seeded) from the bundled MNIST
sample or from formulas into a cache folder, never committed. The truth of a task is a dense LR grid
(24 LRs x 3 seeds), cached with every variant's per-epoch validation loss in selection_truth.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TRUTH_FILE = HERE / "selection_truth.json"
SEEDS = [0, 1, 2]
TRUTH_POINTS = 24
BAND = 0.10  # the good band: LRs whose seed-mean val_loss is within 10% of the best
# Tasks whose results were used to choose tune's defaults; the others are held out.
DEV_TASKS = ("mnist-mlp-sgdm", "tabular-mlp-sgd", "linreg-gd-synthetic")


def data_dir() -> Path:
    root = Path(os.environ.get("LRSWEEP_DATA", Path.home() / ".cache" / "lrsweep")) / "selection-bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _write_npz(path: Path, **arrays) -> str:
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return str(path)


def _write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    if not path.exists():
        header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["target"])
        rows = "\n".join(",".join(f"{v:.6g}" for v in (*xr, yr)) for xr, yr in zip(x, y))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".csv")
        with os.fdopen(fd, "w") as handle:
            handle.write(header + "\n" + rows + "\n")
        os.replace(tmp, path)
    return str(path)


def _mnist_subset(n_train: int, n_test: int) -> str:
    from lrsweep.data import load_dataset

    path = data_dir() / f"mnist-{n_train}-{n_test}.npz"
    if not path.exists():
        ds = load_dataset("mnist-sample", {})
        _write_npz(
            path,
            x=ds.train_x[:n_train].numpy(),
            y=ds.train_y[:n_train].numpy(),
            x_test=ds.test_x[:n_test].numpy(),
            y_test=ds.test_y[:n_test].numpy(),
        )
    return str(path)


def _tabular_nonlinear() -> str:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(800, 8))
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3] ** 2 - x[:, 4] + 0.2 * rng.normal(size=800)
    return _write_csv(data_dir() / "tabular-nonlinear.csv", x, y)


def _tabular_raw_scales() -> str:
    """A diabetes-like regression: features on very different, unstandardized scales, and an offset target."""
    rng = np.random.default_rng(11)
    scales = np.array([0.05, 1.0, 3.0, 8.0, 0.5, 2.0])
    x = rng.normal(size=(500, 6)) * scales + np.array([0.0, 1.0, -2.0, 5.0, 0.0, 3.0])
    y = x @ np.array([3.0, -1.0, 0.5, 0.2, 1.0, -0.3]) + 2.0 + 0.3 * rng.normal(size=500)
    return _write_csv(data_dir() / "tabular-raw-scales.csv", x, y)


def tasks() -> dict[str, dict]:
    """name -> (config dict, truth LR range)."""
    base = {"seeds": SEEDS, "device": "cpu", "retrain": False, "select": {"metric": "val_loss"}}
    return {
        "mnist-mlp-sgdm": (
            {
                **base,
                "name": "mnist-mlp-sgdm",
                "data": {"name": "npz", "path": _mnist_subset(1500, 500), "val_fraction": 0.2, "batch_size": 32},
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
                "data": {"name": "npz", "path": _mnist_subset(1000, 300), "val_fraction": 0.2, "batch_size": 64},
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
                    "path": _tabular_nonlinear(),
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
                    "path": _tabular_raw_scales(),
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
    }


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


def truth(name: str, raw: dict, lr_range: tuple[float, float]) -> dict:
    """The dense grid of a task, from the cache or trained now (and cached)."""
    truths = load_truths()
    key = task_key(raw)
    if truths.get(name, {}).get("key") != key:
        lo, hi = lr_range
        lrs = [float(f"{lo * (hi / lo) ** (i / (TRUTH_POINTS - 1)):.4g}") for i in range(TRUTH_POINTS)]
        truths = load_truths()
        truths[name] = {"key": key, "grid": sweep(raw, lrs), "picks": {}}
        save_truths(truths)
    return truths[name]


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


if __name__ == "__main__":
    import sys

    chosen = sys.argv[1:] or list(tasks())
    for task_name, (config_raw, lr_span) in tasks().items():
        if task_name in chosen:
            entry = truth(task_name, config_raw, lr_span)
            best_loss, low, high = band(entry)
            print(f"{task_name}: best {best_loss:.4g}, band {low:.3g}-{high:.3g}", flush=True)
