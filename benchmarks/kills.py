"""How many finished epochs a kill costs: SIGTERM a 5-epoch sweep at random times, resume it to the end.

Each trial starts ``lrsweep grid`` on a small sweep (the bundled mnist-sample, a few LRs), sends SIGTERM
at a time drawn uniformly over an uninterrupted run's training (from the moment its run directory
exists to its exit), counts the epochs finished before the
kill (rows in the variants' metrics.csv), then resumes the run to the end in a fresh process, counting
the epochs the resume trains (the runner's ``on_epoch`` events). Retrained epochs = finished before the
kill + trained by the resume - epochs of the sweep: work done twice. Run it against any checkout:

    python benchmarks/kills.py --tree /work/main            # before checkpoints
    python benchmarks/kills.py --tree .                     # this tree
    python benchmarks/kills.py --tree . --engine sequential --kills 20 --seed 1
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SWEEP = {
    "name": "kills",
    "seed": 0,
    "device": "cpu",
    "data": {"name": "mnist-sample", "val_fraction": 0.1, "batch_size": 128},
    "model": {"name": "mlp", "hidden": [32]},
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.01, 0.03, 0.1],
    "train": {"epochs": 5},
    "retrain": False,
}

RESUME = """
import sys
from lrsweep.config import parse_config
from lrsweep.data import load_dataset, split
from lrsweep.sweep.runner import QuietEvents, run_sweep
from lrsweep.run.store import RunStore

class Count(QuietEvents):
    epochs = 0
    def on_epoch(self, variant_id, record):
        Count.epochs += 1

store = RunStore.open(sys.argv[1])
config = parse_config(store.read_config())
splits = split(load_dataset(config.data.name, config.data.options), config.data.val_fraction, config.seeds[0])
run_sweep(config, splits, store, Count())
print(Count.epochs)
"""


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


def _grid(tree: Path, config: Path, out: Path) -> subprocess.Popen:
    # cwd=tree: ``python -m`` puts the working directory first on sys.path, ahead of PYTHONPATH
    return subprocess.Popen(
        [sys.executable, "-m", "lrsweep", "grid", str(config), "--out", str(out), "--quiet"],
        cwd=tree,
        env=_env(tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_dir(proc: subprocess.Popen, out: Path) -> Path | None:
    """The run directory once the sweep has created it (None if the sweep ended first)."""
    while proc.poll() is None:
        found = list(out.glob("*/config.yaml"))
        if found:
            return found[0].parent
        time.sleep(0.01)
    return None


def _finished_epochs(run: Path) -> int:
    return sum(max(0, len(p.read_text().splitlines()) - 1) for p in run.glob("variants/*/metrics.csv"))


def trial(tree: Path, config: Path, out: Path, after: float) -> tuple[int, int] | None:
    """(epochs finished before the kill, epochs the resume trained); None if the sweep ended first.

    ``after`` counts from the moment the run directory exists (start-up, the same in every version, is
    not what a kill should land in)."""
    proc = _grid(tree, config, out)
    run = _run_dir(proc, out)
    if run is None:
        return None
    time.sleep(after)
    if proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    before = _finished_epochs(run)
    resumed = subprocess.run(
        [sys.executable, "-c", RESUME, str(run)], cwd=tree, env=_env(tree), capture_output=True, text=True, check=True
    )
    return before, int(resumed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the lrsweep checkout to measure (put on PYTHONPATH)",
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", default="auto", choices=["auto", "sequential", "vectorized"])
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = SWEEP["train"]["epochs"] * len(SWEEP["lr"])
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "kills.yaml"
        config.write_text(yaml.safe_dump({**SWEEP, "engine": args.engine}))
        full = _grid(args.tree, config, Path(tmp) / "full")
        _run_dir(full, Path(tmp) / "full")
        t0 = time.perf_counter()
        full.wait()
        length = time.perf_counter() - t0
        print(
            f"tree {args.tree.resolve()}  engine {args.engine}  uninterrupted training {length:.1f} s, "
            f"{total} epochs (timings on a shared, busy machine)"
        )
        retrained, kills = [], 0
        while kills < args.kills:
            after = rng.uniform(0.0, length)
            got = trial(args.tree, config, Path(tmp) / f"k{kills}", after)
            if got is None:
                continue  # it finished before the signal: draw again
            kills += 1
            before, resumed = got
            again = before + resumed - total
            retrained.append(again)
            print(
                f"kill {kills:2d} at {after:5.1f} s: {before:2d} epochs finished, resume trained {resumed:2d}, "
                f"retrained {again}"
            )
        print(
            f"retrained epochs over {kills} kills: total {sum(retrained)}, mean {sum(retrained) / kills:.2f}, "
            f"max {max(retrained)}"
        )


if __name__ == "__main__":
    main()
