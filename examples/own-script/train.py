"""A plain PyTorch training script, tuned by lrsweep without changing how it trains.

It classifies the 5,000 MNIST digits bundled with lrsweep (4,000 to train on, 10% of them held out to validate)
with a 784-256-256-10 MLP and SGD with momentum, and does one thing for lrsweep: after each epoch it prints one
JSON line, ``{"epoch": 1, "train_loss": ..., "val_loss": ..., "val_acc": ...}``. Every other line it prints is
kept in the trial's log and ignored. Run it alone as any script::

    python train.py --lr 0.03 --epochs 3

or let lrsweep run it once per learning rate and seed (sweep.yaml beside it)::

    lrsweep grid sweep.yaml           # every LR of the config's grid
    lrsweep tune sweep.yaml           # the budgeted search over the span of the config's lr
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from lrsweep.data import load_dataset, split


def load_data(seed: int = 0, val_fraction: float = 0.1):
    """The bundled MNIST sample, split as lrsweep's own loop splits it (same rows held out for validation)."""
    return split(load_dataset("mnist-sample", {}), val_fraction, seed=seed)


def make_model(hidden: int = 256) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    out = model(x)
    model.train()
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


def train(lr: float, seed: int, epochs: int, device: str = "cpu", batch_size: int = 32, report=print, splits=None):
    """Train and report each epoch through ``report(epoch, **metrics)``; returns the trained model."""
    torch.manual_seed(seed)
    splits = splits if splits is not None else load_data()
    x, y = splits.train_x.to(device), splits.train_y.to(device)
    val_x, val_y = splits.val_x.to(device), splits.val_y.to(device)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        total, batches = 0.0, 0
        for batch in torch.randperm(len(x), generator=order).to(device).split(batch_size):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        val_loss, val_acc = evaluate(model, val_x, val_y)
        report(epoch, train_loss=total / batches, val_loss=val_loss, val_acc=val_acc)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="folder for the final weights")
    args = parser.parse_args()
    started = time.time()

    def report(epoch: int, **metrics: float) -> None:
        print(json.dumps({"epoch": epoch, **metrics}), flush=True)  # the one line lrsweep reads

    model = train(args.lr, args.seed, args.epochs, args.device, report=report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.out / "model.pt")
    print(f"trained lr={args.lr} seed={args.seed} in {time.time() - started:.1f}s")  # a line lrsweep ignores


if __name__ == "__main__":
    main()
