"""What does successive halving (ASHA's rule) save? One grid, trained with and without pruning.

    python benchmarks/asha.py                       # 16 LRs, 9 epochs, bundled MNIST sample, CPU
    python benchmarks/asha.py --engine sequential   # one variant at a time: savings ~ variant-epochs
    python benchmarks/asha.py --device cuda --epochs 27

Workload: the bundled 5,000-digit MNIST sample (4,000 train, 10% held out for validation),
an MLP 784-256-256-10, SGD momentum 0.9, 16 learning rates log-spaced 1e-4..3. With
``prune: {type: asha, grace_epochs: 1, reduction: 3}`` the variants are cut at epochs 1, 3, 9, ...
(only the best third go on). Prints the variant-epochs trained, the wall time, and the chosen lr.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

from rich.console import Console
from rich.table import Table

from lrsweep.config import PruneConfig, parse_config
from lrsweep.data import load_dataset, split
from lrsweep.engine.device import resolve_device
from lrsweep.run.store import RunStore
from lrsweep.select.halving import rung_epochs
from lrsweep.sweep.runner import QuietEvents, run_sweep


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lrs", type=int, default=16, help="learning rates, log-spaced --lr-min..--lr-max")
    p.add_argument("--lr-min", type=float, default=1e-4)
    p.add_argument("--lr-max", type=float, default=3.0)
    p.add_argument("--epochs", type=int, default=9)
    p.add_argument("--grace-epochs", type=int, default=1)
    p.add_argument("--reduction", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--metric", choices=("val_loss", "val_acc"), default="val_loss")
    p.add_argument("--engine", choices=("auto", "vectorized", "sequential"), default="auto")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each way; the fastest wall time is reported (a shared machine's noise only ever adds time)",
    )
    return p.parse_args(argv)


def config_for(args):
    return parse_config(
        {
            "name": "asha-bench",
            "seed": 0,
            "device": args.device,
            "engine": args.engine,
            "data": {"name": "mnist-sample", "val_fraction": 0.1, "batch_size": args.batch_size},
            "model": {"name": "mlp", "hidden": [256, 256]},
            "optimizer": {"name": "sgd", "momentum": 0.9},
            "lr": {"logspace": {"start": args.lr_min, "stop": args.lr_max, "num": args.lrs}},
            "train": {"epochs": args.epochs},
            "select": {"metric": args.metric},
            "retrain": False,
        }
    )


class Count(QuietEvents):
    def __init__(self):
        self.epochs = 0

    def on_epoch(self, variant_id, record):
        self.epochs += 1


def run(config, splits, repeat: int = 1) -> dict:
    """The sweep in throw-away run directories: variant-epochs, the fastest wall seconds, the summary."""
    times = []
    for _ in range(repeat):
        events = Count()
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            summary = run_sweep(config, splits, RunStore.create(out, config.name), events)
            times.append(time.perf_counter() - started)
    return {"epochs": events.epochs, "seconds": min(times), "summary": summary}


def main(argv=None) -> None:
    args = parse_args(argv)
    config = config_for(args)
    device = resolve_device(args.device)
    splits = split(load_dataset("mnist-sample", {}), config.data.val_fraction, seed=0).to(device)
    prune = PruneConfig(type="asha", grace_epochs=args.grace_epochs, reduction=args.reduction)
    run(replace(config, lrs=config.lrs[:2], train=replace(config.train, epochs=1)), splits)  # warm-up
    results = {
        "no pruning": run(config, splits, args.repeat),
        "ASHA": run(replace(config, prune=prune), splits, args.repeat),
    }
    rungs = rung_epochs(prune.grace_epochs, prune.reduction, args.epochs)
    table = Table(
        title=f"{args.lrs} LRs x {args.epochs} epochs, mnist-sample, MLP 784-256-256-10, "
        f"engine {args.engine}, {device}; ASHA rungs at epochs {rungs}; fastest of {args.repeat}",
        title_justify="left",
    )
    for column in ("", "variant-epochs", "wall s", "best lr", args.metric, "statuses"):
        table.add_column(column, justify="left" if column in ("", "statuses") else "right")
    base = results["no pruning"]
    for label, r in results.items():
        best = r["summary"]["best"]
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r["summary"]["status_counts"].items()))
        table.add_row(
            label,
            f"{r['epochs']} ({r['epochs'] / base['epochs']:.0%})",
            f"{r['seconds']:.1f} ({r['seconds'] / base['seconds']:.0%})",
            f"{best['lr']:.3g}" if best else "–",
            f"{best['mean']:.4g}" if best else "–",
            counts,
        )
    console = Console()
    console.print(table)
    console.print(verdict(base["summary"], results["ASHA"]["summary"], args.metric))


def verdict(full: dict, pruned: dict, metric: str) -> str:
    """Whether pruning chose the lr the full sweep chose; if not, where its choice ranks in the full sweep."""
    chosen = (pruned["best"] or {}).get("lr")
    if chosen == (full["best"] or {}).get("lr"):
        return "same chosen lr with and without pruning: yes"
    ranked = [g for g in full["groups"] if g["mean"] is not None]
    rank = next((i for i, g in enumerate(ranked, 1) if g["lr"] == chosen), None)
    score = ranked[rank - 1]["mean"] if rank else None
    return (
        f"same chosen lr with and without pruning: no; ASHA's lr {chosen:.3g} ranks #{rank} of {len(ranked)} "
        f"in the full sweep ({metric} {score:.4g} at the last epoch, vs {ranked[0]['mean']:.4g} for the best)"
    )


if __name__ == "__main__":
    main()
