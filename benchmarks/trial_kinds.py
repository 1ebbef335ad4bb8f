"""One task, three ways to train it: lrsweep's own engine (packs), the same model as a Python function (a thread
per trial), and as a command (a process per trial). What does a process per trial cost against a pack, and do the
picks agree?

    python benchmarks/trial_kinds.py                     # 7 LRs x 1 seed x 3 epochs, the quick start's task
    python benchmarks/trial_kinds.py --seeds 0 1 --jobs 2

Task: the bundled 5,000-digit MNIST sample (4,000 train, 10% held out), an MLP 784-256-256-10, SGD momentum 0.9,
batch 32, LRs log-spaced 1e-3..1: ``configs/quickstart.yaml`` for the engine (retrain off), and
``examples/own-script/train.py`` for the function (its ``train()``, on data loaded once) and for the command (its
``sweep.yaml``). Same LRs, seeds and epochs; the engine's initial weights and batch order are its own, so scores
differ a little and the picks are compared, not the numbers. Prints, per way: the pick and its val_acc, the cost
in trainings, the wall time, and the seconds to the first epoch's report per trial (for a command: the process
start, ``import torch`` and the data load before its first epoch).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lrsweep

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "own-script"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lrs", type=int, default=7, help="learning rates, log-spaced 1e-3..1")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1, help="trials at once for the function and the command")
    p.add_argument("--threads", type=int, default=1, help="torch threads of every way (and OMP_NUM_THREADS)")
    p.add_argument(
        "--repeat", type=int, default=2, help="runs of each way, the fastest reported (the first pays imports)"
    )
    return p.parse_args(argv)


def common(args) -> dict:
    return {
        "lr": {"logspace": {"start": 1e-3, "stop": 1.0, "num": args.lrs}},
        "seeds": list(args.seeds),
        "train.epochs": args.epochs,
    }


def engine(args, out: Path):
    return lrsweep.grid(
        str(ROOT / "configs" / "quickstart.yaml"), {**common(args), "retrain": False, "device": "cpu"}, out=out
    )


def function(args, out: Path):
    spec = importlib.util.spec_from_file_location("own_script_train", EXAMPLE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    splits = module.load_data()  # once, as a notebook would

    def train(trial):
        module.train(trial.lr, trial.seed, trial.epochs, trial.device, report=trial.report, splits=splits)

    return lrsweep.grid(train, common(args), metric="val_acc", name="own-function", jobs=args.jobs, out=out)


def command(args, out: Path):
    python = f"{sys.executable} train.py --lr {{lr}} --seed {{seed}} --epochs {{epochs}} --device {{device}}"
    overrides = {**common(args), "command": python}
    return lrsweep.grid(str(EXAMPLE / "sweep.yaml"), overrides, jobs=args.jobs, out=out)


def first_epoch_seconds(result) -> float:
    """Median over trials of the seconds to the first epoch's report."""
    run = lrsweep.load_run(result.run_dir)
    firsts = [rows[0]["seconds"] for rows in run.all_metrics().values() if rows]
    return statistics.median(firsts)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the command's processes inherit it
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ways = (("engine (packs)", engine), ("function (threads)", function), ("command (processes)", command))
        for name, way in ways:
            runs = []
            for attempt in range(args.repeat):
                began = time.perf_counter()
                result = way(args, Path(tmp) / f"{name.split()[0]}-{attempt}")
                runs.append((time.perf_counter() - began, result))
            wall, result = min(runs, key=lambda run: run[0])
            best = result.best
            epochs = sum(r["epochs_run"] for r in result.summary["variants"])
            rows.append((name, best.lr, best.value, epochs / args.epochs, wall, first_epoch_seconds(result)))
    print(
        f"{args.lrs} LRs x {len(args.seeds)} seed(s) x {args.epochs} epochs, jobs {args.jobs}, "
        f"{args.threads} torch thread(s), {os.cpu_count()} CPUs, fastest of {args.repeat}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("| way | pick (lr) | its val_acc | cost (trainings) | wall (s) | s to 1st epoch, per trial |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, lr, value, cost, wall, first in rows:
        print(f"| {name} | {lr:g} | {value:.4f} | {cost:g} | {wall:.1f} | {first:.2f} |")
    picks = {row[1] for row in rows}
    print(f"picks agree: {'yes' if len(picks) == 1 else 'no (' + ', '.join(f'{p:g}' for p in sorted(picks)) + ')'}")


if __name__ == "__main__":
    main()
