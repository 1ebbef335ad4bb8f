"""A prepared GPU check (< 5 minutes on one GPU): LR sweeps three ways, fp32 vs bf16-mixed, printing ratios.

    python benchmarks/gpu.py                      # every case on cuda, 12 LRs, one epoch each
    python benchmarks/gpu.py --devices all        # also: the ResNet sweep through `lrsweep grid --devices all`
    python benchmarks/gpu.py --cpu-smoke          # a tiny version on the CPU, to know it runs

Cases: a CIFAR-format ResNet-20 (random 3x32x32 tensors; a real data root is not needed to time it),
and MNIST-format MLP and CNN sweeps (random 1x28x28). Ways: (plain) the idiomatic PyTorch loop, one
model per LR, a DataLoader over CPU tensors; (seq) lrsweep's sequential engine, data resident on the
device; (pack) lrsweep's vectorized engine, the whole grid as packs. Every way runs each precision; the
ratio column is plain's time over the way's (higher is faster). Timings include validation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrsweep.config import OptimizerConfig
from lrsweep.engine.common import TrainSpec
from lrsweep.engine.loop import train_variant
from lrsweep.engine.packing import make_packs, pack_limit
from lrsweep.engine.precision import DTYPES, resolve_precision
from lrsweep.engine.vectorized import train_pack
from lrsweep.models import build_model
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

CASES = {  # name: (model, options, input shape, training rows on a GPU)
    "resnet20": ("resnet", {"depth": 20}, (3, 32, 32), 10_000),
    "mlp": ("mlp", {"hidden": [256, 256]}, (1, 28, 28), 60_000),
    "cnn": ("cnn", {}, (1, 28, 28), 60_000),
}
SMOKE_ROWS, SMOKE_LRS = 64, 2  # --cpu-smoke: tiny, to know it runs
VAL_ROWS = 1_000
WAYS = ("plain", "seq", "pack")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--lrs", type=int, default=12, help="learning rates per sweep, log-spaced 1e-3..1")
    p.add_argument("--rows", type=int, default=None, help="training rows (default: per case)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--precisions", default="32,bf16-mixed")
    p.add_argument("--ways", default=",".join(WAYS))
    p.add_argument("--device", default="cuda")
    p.add_argument("--devices", default=None, help="also time `lrsweep grid --devices DEVICES` on the ResNet sweep")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)
    if args.cpu_smoke:
        args.device, args.rows, args.lrs = "cpu", args.rows or SMOKE_ROWS, min(args.lrs, SMOKE_LRS)
    return args


def synthetic_images(n: int = 1000, shape=(3, 32, 32), classes: int = 10, n_test: int = 1000, seed: int = 0):
    """Random images and labels (a dataset factory: ``data: {name: gpu:synthetic_images}``)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, *shape, generator=g)
    y = torch.randint(0, classes, (n + n_test,), generator=g)
    return x[:n], y[:n], x[n:], y[n:]


def variants(lrs) -> list[Variant]:
    opt = OptimizerConfig("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4})
    return [Variant(lr, opt, parse_scheduler(None), 0) for lr in lrs]


def way_plain(spec: TrainSpec, lrs, train, val, device) -> list[float]:
    """The loop everyone writes: one model per LR, a shuffled DataLoader, autocast when mixed."""
    precision = resolve_precision(spec.precision, device)
    amp = torch.autocast(device.type, dtype=DTYPES[precision]) if precision in DTYPES else contextlib.nullcontext()
    x, y = (t.cpu() for t in train)
    losses = []
    for lr in lrs:
        model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, 0).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        loader = DataLoader(
            TensorDataset(x, y), batch_size=spec.batch_size, shuffle=True, pin_memory=device.type == "cuda"
        )
        for _ in range(spec.epochs):
            model.train()
            for xb, yb in loader:
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                with amp:
                    loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                total = sum(
                    F.cross_entropy(model(val[0][i : i + 1000]), val[1][i : i + 1000], reduction="sum").item()
                    for i in range(0, len(val[0]), 1000)
                )
        losses.append(total / len(val[0]))
    return losses


def way_seq(spec, lrs, train, val, device) -> list[float]:
    return [train_variant(v, spec, train, val).epochs[-1].val_loss for v in variants(lrs)]


def way_pack(spec, lrs, train, val, device) -> list[float]:
    packs = make_packs(variants(lrs), pack_limit(spec, device))
    return [r.epochs[-1].val_loss for pack in packs for r in train_pack(pack, spec, train, val)]


RUNNERS = {"plain": way_plain, "seq": way_seq, "pack": way_pack}


def timed(fn, device) -> tuple[float, list[float]]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def run_case(name: str, args, device: torch.device) -> list[dict]:
    model, options, shape, rows = CASES[name]
    rows = args.rows or rows
    x, y, vx, vy = synthetic_images(rows, shape, n_test=min(VAL_ROWS, rows))
    train, val = (x.to(device), y.to(device)), (vx.to(device), vy.to(device))
    lrs = [float(v) for v in torch.logspace(-3, 0, args.lrs, dtype=torch.float64)]
    out = []
    for precision in args.precisions.split(","):
        spec = TrainSpec(model, options, shape, 10, args.epochs, args.batch_size, "cross_entropy", precision=precision)
        plain = None
        for way in args.ways.split(","):
            seconds, losses = timed(lambda way=way, spec=spec: RUNNERS[way](spec, lrs, train, val, device), device)
            plain = seconds if way == "plain" else plain
            out.append(
                {
                    "case": name,
                    "precision": precision,
                    "way": way,
                    "seconds": round(seconds, 2),
                    "vs_plain": round(plain / seconds, 2) if plain else None,
                    "lrs": len(lrs),
                    "rows": rows,
                    "finite": sum(v == v and abs(v) != float("inf") for v in losses),
                }
            )
            print(_format(out[-1]), flush=True)
    return out


def run_devices(args) -> dict:
    """The ResNet sweep through the CLI with one worker per device (the dataset is this file's factory)."""
    _, options, shape, rows = CASES["resnet20"]
    rows = args.rows or rows
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "name": "gpu-devices",
            "seed": 0,
            "retrain": False,
            "data": {
                "name": "gpu:synthetic_images",
                "n": rows,
                "shape": list(shape),
                "n_test": VAL_ROWS,
                "batch_size": args.batch_size,
            },
            "model": {"name": "resnet", **options},
            "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
            "lr": {"logspace": {"start": 1e-3, "stop": 1.0, "num": args.lrs}},
            "train": {"epochs": args.epochs, "precision": "auto"},
        }
        path = Path(tmp) / "sweep.json"
        path.write_text(json.dumps(config))  # JSON is YAML
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
        )
        cmd = [
            sys.executable,
            "-m",
            "lrsweep",
            "grid",
            str(path),
            "--devices",
            args.devices,
            "--quiet",
            "--out",
            str(Path(tmp) / "runs"),
        ]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    row = {
        "case": "resnet20",
        "precision": "auto",
        "way": f"grid --devices {args.devices}",
        "seconds": round(seconds, 2),
        "exit_code": done.returncode,
        "lrs": args.lrs,
        "rows": rows,
    }
    print(_format(row) + (f"  stderr: {done.stderr.strip()[-300:]}" if done.returncode else ""), flush=True)
    return row


def _format(row: dict) -> str:
    ratio = f"{row['vs_plain']:.2f}x" if row.get("vs_plain") else "-"
    return (
        f"{row['case']:<9} {row['precision']:<10} {row['way']:<24} {row['seconds']:>8.2f} s   "
        f"vs plain {ratio:>6}   ({row['lrs']} LRs x {row['rows']} rows)"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}); torch {torch.__version__}", flush=True)
    rows = [r for case in args.cases.split(",") for r in run_case(case, args, device)]
    if args.devices:
        rows.append(run_devices(args))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
