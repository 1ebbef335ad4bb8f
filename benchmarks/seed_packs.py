"""What does training seeds in one pack buy? The quick start with ``seeds: [0, 1, 2]``, both ways, in one run.

    python benchmarks/seed_packs.py                       # configs/quickstart.yaml, seeds 0-2, CPU
    python benchmarks/seed_packs.py --set model.name=cnn  # LeNet on the same digits
    python benchmarks/seed_packs.py --repeats 5 --set train.epochs=1

Ways: (a) one pack per seed, as lrsweep packed before seeds shared packs (the private switch
``lrsweep.engine.packing.SEEDS_SHARE_PACKS = False``); (b) every seed in one pack (today's default:
each variant keeps its own initial weights and batch order, rows gathered per variant). Each figure is
the wall seconds of ``lrsweep.grid`` (no retrain, no plots), the fastest of ``--repeats`` runs, the two
ways alternating, beside the CPU seconds of the process (less sensitive to a shared machine's load);
the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import lrsweep
from lrsweep.engine import packing

ROOT = Path(__file__).resolve().parent.parent
WAYS = {"per-seed": "(a) one pack per seed", "together": "(b) seeds in one pack"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--set", action="append", default=[], help="a config override, e.g. model.name=cnn")
    return p.parse_args(argv)


def one_run(args, together: bool, out: Path) -> tuple[float, float, dict, Path]:
    """Wall and CPU seconds of the grid, each variant's summary row (by id), and the run directory."""
    overrides = [f"seeds=[{args.seeds}]", "retrain=false", "device=cpu", *args.set]
    packing.SEEDS_SHARE_PACKS = packing.SEEDS_SHARE_CPU_PACKS = together  # on a CPU, seeds share only when told
    try:
        start, cpu = time.perf_counter(), time.process_time()
        result = lrsweep.grid(args.config, overrides, out=out, force=True)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        packing.SEEDS_SHARE_PACKS, packing.SEEDS_SHARE_CPU_PACKS = True, False
    rows = {r["id"]: r for r in result.summary["variants"]}
    return seconds, cpu, rows, result.run_dir


def pack_sizes(run_dir: Path) -> list[int]:
    """The sizes of the packs the run trained (from each variant's status.json)."""
    import json

    packs: dict[str, int] = {}
    for status in run_dir.glob("variants/*/status.json"):
        computed = json.loads(status.read_text())["computed"]
        if not computed:
            continue
        packs[computed["pack"] or status.parent.name] = computed["pack_size"]
    return sorted(packs.values(), reverse=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}  # CPU seconds of this process (all its threads): less sensitive to load
    scores: dict[str, dict] = {}
    sizes: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            order = list(WAYS) if repeat % 2 == 0 else list(reversed(WAYS))
            for way in order:
                out = Path(tmp) / f"{way}-{repeat}"
                seconds, cpu, rows, result_dir = one_run(args, way == "together", out)
                best[way] = min(best.get(way, float("inf")), seconds)
                best_cpu[way] = min(best_cpu.get(way, float("inf")), cpu)
                scores[way] = rows
                sizes[way] = pack_sizes(Path(result_dir))
    load_after = os.getloadavg()
    n = len(scores["together"])
    print(f"{args.config} with seeds [{args.seeds}] {' '.join(args.set)}: {n} variants, fastest of {args.repeats}")
    for way, label in WAYS.items():
        print(f"  {label:24s} {best[way]:7.2f} s wall {best_cpu[way]:7.2f} s CPU   packs {sizes[way]}")
    print(
        f"  speed-up (a)/(b): {best['per-seed'] / best['together']:.2f}x wall, "
        f"{best_cpu['per-seed'] / best_cpu['together']:.2f}x CPU"
    )
    diffs = [
        abs(scores["together"][vid]["val_loss"] - row["val_loss"])
        for vid, row in scores["per-seed"].items()
        if row["val_loss"] is not None and scores["together"][vid]["val_loss"] is not None
    ]
    largest = max(diffs, default=0.0)
    print(f"  largest val_loss difference between the ways: {largest:.2e} (float rounding; it grows at unstable LRs)")
    print(f"  load average (1, 5, 15 min) before {load_before}, after {tuple(round(x, 2) for x in load_after)}")


if __name__ == "__main__":
    main()
