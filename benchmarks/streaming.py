"""What does streaming a Dataset cost per variant, and what does a pack buy back? Same data, four ways.

    python benchmarks/streaming.py                          # 4,000 3x16x16 images, LeNet, 1 epoch, CPU
    python benchmarks/streaming.py --dataset stripes --workers 2
    python benchmarks/streaming.py --device cuda --rows 20000 --pack 16

Rows: the plain PyTorch loop (one model, a DataLoader over the same Dataset); then lrsweep with the
data as resident tensors or as a map-style Dataset through a DataLoader, for a pack of 1 (the
sequential engine) and a pack of ``--pack`` variants (the vectorized engine: ONE loader per pack,
each batch shared by its variants). The figure is seconds per variant-epoch (training and
validation, pack wall time / variants / epochs); ratios are streamed / tensors at the same pack
size, and against the plain loop.

``--dataset tensors`` wraps tensors in a Dataset (``x[i], y[i]`` per sample: the pipeline's own
overhead, collation and transfer); ``stripes`` generates each sample when asked (examples/mypkg:
a Dataset doing real per-sample work).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from mypkg.data import Stripes  # noqa: E402

from lrsweep.config import OptimizerConfig  # noqa: E402
from lrsweep.data.streamed import Rows, StreamedDataset, columns  # noqa: E402
from lrsweep.engine.common import TrainSpec  # noqa: E402
from lrsweep.engine.loop import train_variant  # noqa: E402
from lrsweep.engine.vectorized import train_pack  # noqa: E402
from lrsweep.models import build_model  # noqa: E402
from lrsweep.optim.schedulers import parse_scheduler  # noqa: E402
from lrsweep.sweep.plan import Variant  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=4000, help="training rows")
    p.add_argument("--val-rows", type=int, default=500)
    p.add_argument("--size", type=int, default=16, help="images are 3 x size x size")
    p.add_argument("--pack", type=int, default=8, help="variants in the big pack")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--dataset", choices=("tensors", "stripes"), default="tensors")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=3, help="runs of each way; the fastest counts")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (1: CPU seconds count work, not the spinning of idle threads)",
    )
    return p.parse_args(argv)


def datasets(args):
    """(train, val) as map-style Datasets, and the same samples as tensors."""
    train, val = Stripes(args.rows, args.size, seed=0), Stripes(args.val_rows, args.size, seed=1)
    tensors = []
    for ds in (train, val):
        xs, ys = zip(*(ds[i] for i in range(len(ds))))
        tensors.append((torch.stack(xs), torch.tensor(ys)))
    if args.dataset == "tensors":
        train, val = (TensorDataset(*t) for t in tensors)
        train.classes = Stripes.classes
    return (train, val), tensors


def streamed_columns(train, val, device):
    source = StreamedDataset("bench", train, val)
    return [columns(Rows(ds, source.task, device), source) for ds in (train, val)]


def variants(k: int) -> list[Variant]:
    none = parse_scheduler(None)
    return [
        Variant(lr=float(lr), optimizer=OptimizerConfig("sgd", {"momentum": 0.9}), scheduler=none, seed=0)
        for lr in torch.logspace(-3, -0.5, k).tolist()
    ]


def timed(fn, repeat: int) -> tuple[float, float]:
    """Wall and CPU seconds of the fastest of ``repeat`` runs (a shared machine only slows a run down).

    CPU seconds are this process's (all threads): on a busy machine they move less than the wall
    clock, but they leave out DataLoader worker processes (``--workers`` > 0).
    """
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def plain_loop(args, train_ds, val, device) -> float:
    """The idiomatic loop: one LeNet, SGD, a shuffling DataLoader; evaluation on the resident val tensors."""
    torch.manual_seed(0)
    model = build_model("cnn", {}, (3, args.size, args.size), 4, seed=0).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(
        train_ds,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    for _ in range(args.epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        with torch.no_grad():
            F.cross_entropy(model(val[0]), val[1]).item()
    return 0.0


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    (train_ds, val_ds), ((tx, ty), (vx, vy)) = datasets(args)
    resident = ((tx.to(device), ty.to(device)), (vx.to(device), vy.to(device)))
    streamed = streamed_columns(train_ds, val_ds, device)
    spec = TrainSpec(
        "cnn", {}, (3, args.size, args.size), 4, args.epochs, args.batch_size, "cross_entropy", num_workers=args.workers
    )
    val_dev = resident[1]
    timed(lambda: train_pack(variants(2), spec, *resident), 1)  # warm-up: thread pools, allocator, kernels
    wall, cpu = timed(lambda: plain_loop(args, train_ds, val_dev, device), args.repeat)
    plain = (wall / args.epochs, cpu / args.epochs)
    rows = [("plain PyTorch loop, DataLoader", 1, plain)]
    for k in (1, args.pack):
        vs = variants(k)
        for name, (train, val) in (("tensors", resident), ("streamed", streamed)):
            if k == 1:
                wall, cpu = timed(
                    lambda vs=vs, train=train, val=val: train_variant(vs[0], spec, train, val), args.repeat
                )
            else:
                wall, cpu = timed(lambda vs=vs, train=train, val=val: train_pack(vs, spec, train, val), args.repeat)
            rows.append((f"lrsweep, {name}", k, (wall / k / args.epochs, cpu / k / args.epochs)))
    print(
        f"{args.rows} rows of 3x{args.size}x{args.size} ({args.dataset}), LeNet, batch {args.batch_size}, "
        f"{args.epochs} epoch(s), workers {args.workers}, {device}, torch threads {torch.get_num_threads()}"
    )
    print("seconds per variant-epoch: wall | CPU of this process")
    print(f"{'way':34} {'pack':>4} {'wall':>8} {'CPU':>8} {'vs plain':>9} {'streamed/tensors':>17}")
    by_key = {(name, k): s for name, k, s in rows}
    for name, k, (wall, cpu) in rows:
        ratio = ""
        if name == "lrsweep, streamed":
            t_wall, t_cpu = by_key[("lrsweep, tensors", k)]
            ratio = f"{wall / t_wall:.2f}x | {cpu / t_cpu:.2f}x"
        print(f"{name:34} {k:>4} {wall:>8.3f} {cpu:>8.3f} {wall / plain[0]:>8.2f}x {ratio:>17}")
    for k in (1, args.pack):
        (t_wall, t_cpu), (s_wall, s_cpu) = by_key[("lrsweep, tensors", k)], by_key[("lrsweep, streamed", k)]
        print(
            f"streaming overhead per variant-epoch, pack of {k}: {s_wall - t_wall:+.3f}s wall, "
            f"{s_cpu - t_cpu:+.3f}s CPU"
        )


if __name__ == "__main__":
    main()
