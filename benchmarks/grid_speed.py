"""How fast is a learning-rate grid? One workload, three ways, against the arithmetic floor.

    python benchmarks/grid_speed.py                      # MLP 784-256-256-10, 8 LRs, 60k rows, CPU
    python benchmarks/grid_speed.py --model cnn
    python benchmarks/grid_speed.py --device cuda --lrs 16

Ways: (a) the idiomatic PyTorch loop, one model per LR, a DataLoader over a TensorDataset;
(b) lrsweep's sequential engine; (c) lrsweep's vectorized engine (the whole grid as one pack).
The floor is the training + validation FLOPs (3 x forward FLOPs per training row, 1 x per
validation row; for an MLP that is 6 x weights per training row) divided by the fp32 matmul
rate measured in this run. Data: the bundled MNIST sample tiled to --rows, so it runs offline.
"""

from __future__ import annotations

import argparse
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from lrsweep.config import OptimizerConfig
from lrsweep.data import load_dataset
from lrsweep.engine.common import TrainSpec
from lrsweep.engine.loop import train_variant
from lrsweep.engine.vectorized import train_pack
from lrsweep.models import build_model
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

MODELS = {"mlp": {"hidden": [256, 256]}, "cnn": {}}
WAYS = {
    "a": "(a) idiomatic PyTorch, DataLoader",
    "b": "(b) lrsweep sequential",
    "c": "(c) lrsweep vectorized",
    "v": "(c') vectorized, vmap path",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lrs", type=int, default=8, help="learning rates, log-spaced 1e-3..1")
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rows", type=int, default=60_000, help="training rows (the sample, tiled)")
    p.add_argument("--val-rows", type=int, default=1_000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument(
        "--ways",
        default="abc",
        help="which ways to run, e.g. 'ac'; 'v' adds the vectorized engine forced onto its generic vmap path",
    )
    return p.parse_args(argv)


def load_data(rows: int, val_rows: int, device: torch.device):
    """The bundled sample's training images tiled to ``rows``; its test images as validation."""
    d = load_dataset("mnist-sample", {})
    reps = math.ceil(rows / len(d.train_x))
    x, y = d.train_x.repeat(reps, 1, 1, 1)[:rows], d.train_y.repeat(reps)[:rows]
    vx, vy = d.test_x[:val_rows], d.test_y[:val_rows]
    return (x.to(device), y.to(device)), (vx.to(device), vy.to(device))


def matmul_rate(device: torch.device) -> float:
    """Best fp32 matmul FLOP/s over a few square sizes (what the hardware does at its best)."""
    best = 0.0
    for n in (1024, 2048, 3072) if device.type == "cpu" else (4096, 8192):
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        for _ in range(2):
            a @ b
        for _ in range(3):
            _sync(device)
            t = time.perf_counter()
            a @ b
            _sync(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def forward_flops(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """Matmul/convolution FLOPs of one row's forward pass."""
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_shape))
    return counter.get_total_flops()


class PeakMemory:
    """Peak resident memory (CPU, sampled) or peak allocated memory (CUDA) while a block runs."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- the three ways ----


def way_a(args, spec: TrainSpec, lrs, train, val, device) -> list[float]:
    """The plain PyTorch loop everyone writes: one model per LR, DataLoader(shuffle=True)."""
    best = []
    x, y = (t.cpu() for t in train)
    for lr in lrs:
        torch.manual_seed(0)
        model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, 0).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True)
        val_loader = DataLoader(TensorDataset(*(t.cpu() for t in val)), batch_size=1000)
        for _ in range(args.epochs):
            model.train()
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
            model.eval()
            total = 0.0
            with torch.no_grad():
                for xb, yb in val_loader:
                    total += F.cross_entropy(model(xb.to(device)), yb.to(device), reduction="sum").item()
        best.append(total / len(val[0]))
    return best


def _variants(lrs) -> list[Variant]:
    return [Variant(lr, OptimizerConfig("sgd", {"momentum": 0.9}), parse_scheduler(None), 0) for lr in lrs]


def way_b(args, spec, lrs, train, val, device) -> list[float]:
    return [train_variant(v, spec, train, val).epochs[-1].val_loss for v in _variants(lrs)]


def way_c(args, spec, lrs, train, val, device, path="auto") -> list[float]:
    return [r.epochs[-1].val_loss for r in train_pack(_variants(lrs), spec, train, val, path=path)]


def way_v(args, spec, lrs, train, val, device) -> list[float]:
    return way_c(args, spec, lrs, train, val, device, path="vmap")


RUNNERS: dict[str, Callable] = {"a": way_a, "b": way_b, "c": way_c, "v": way_v}


@dataclass
class Row:
    way: str
    seconds: float
    peak_bytes: int
    best_val_loss: float


def run(args) -> tuple[list[Row], dict]:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    train, val = load_data(args.rows, args.val_rows, device)
    lrs = [float(v) for v in torch.logspace(-3, 0, args.lrs, dtype=torch.float64)]
    spec = TrainSpec(
        args.model, MODELS[args.model], tuple(train[0].shape[1:]), 10, args.epochs, args.batch_size, "cross_entropy"
    )
    model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, 0)
    fwd = forward_flops(model, spec.input_shape)
    flops = (3 * fwd * args.rows + fwd * args.val_rows) * args.epochs * args.lrs
    rate = matmul_rate(device)
    info = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "rate": rate,
        "flops": flops,
        "floor": flops / rate,
        "params": sum(p.numel() for p in model.parameters()),
        "lrs": lrs,
    }
    rows = []
    for key in args.ways:
        _sync(device)
        with PeakMemory(device) as mem:
            t = time.perf_counter()
            losses = RUNNERS[key](args, spec, lrs, train, val, device)
            _sync(device)
            seconds = time.perf_counter() - t
        finite = [v for v in losses if v is not None and math.isfinite(v)]
        rows.append(Row(WAYS[key], seconds, mem.peak, min(finite) if finite else float("nan")))
    return rows, info


def render(rows: list[Row], info: dict, args) -> None:
    from rich.console import Console
    from rich.table import Table

    title = (
        f"{args.model} ({info['params']:,} params), SGD momentum 0.9, batch {args.batch_size}, "
        f"{args.lrs} LRs 1e-3..1, {args.epochs} epoch(s) x {args.rows:,} rows, val {args.val_rows:,}"
    )
    table = Table(title=title)
    for col in ("way", "wall s", "peak mem MB", "speed-up vs (a)", "x floor", "best val loss"):
        table.add_column(col, justify="left" if col == "way" else "right")
    base = next((r.seconds for r in rows if r.way.startswith("(a)")), None)
    for r in rows:
        table.add_row(
            r.way,
            f"{r.seconds:.2f}",
            f"{r.peak_bytes / 2**20:.0f}",
            f"{base / r.seconds:.2f}x" if base else "-",
            f"{r.seconds / info['floor']:.2f}",
            f"{r.best_val_loss:.4f}",
        )
    console = Console(width=130)
    console.print(table)
    console.print(
        f"device {info['device']}, torch threads {info['threads']}, fp32 matmul rate "
        f"{info['rate'] / 1e9:.1f} GFLOP/s, work {info['flops'] / 1e9:.1f} GFLOP, "
        f"floor {info['floor']:.2f} s"
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    rows, info = run(args)
    render(rows, info, args)


if __name__ == "__main__":
    main()
