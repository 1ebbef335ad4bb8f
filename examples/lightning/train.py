"""A LightningModule trained by ``lightning.Trainer``, tuned by lrsweep: one callback reports each epoch.

The only lrsweep-specific code is :class:`ReportToLrsweep`, a callback that prints one JSON line per epoch with
the metrics the module logged (``{"epoch": 1, "train_loss": ..., "val_loss": ..., "val_acc": ...}``); lrsweep
reads those and ignores everything else Lightning prints. Run it alone::

    python train.py --lr 0.05 --epochs 2

or once per learning rate and seed: ``lrsweep grid sweep.yaml`` / ``lrsweep tune sweep.yaml`` (beside it).
"""

from __future__ import annotations

import argparse
import json
import math

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrsweep.data import load_dataset, split


class ReportToLrsweep(L.Callback):
    """Prints the epoch's logged metrics as one JSON line (after validation: on_train_epoch_end runs after it)."""

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if value.numel() == 1}
        print(json.dumps({"epoch": trainer.current_epoch + 1, **metrics}), flush=True)


class Digits(L.LightningModule):
    def __init__(self, lr: float, hidden: int = 128):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        self.log("val_loss", F.cross_entropy(out, y), on_epoch=True)
        self.log("val_acc", (out.argmax(1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
        steps = self.trainer.estimated_stepping_batches
        cosine = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}


def loaders(seed: int, batch_size: int = 64):
    splits = split(load_dataset("mnist-sample", {}), 0.1, seed=seed)  # the digits bundled with lrsweep
    train = DataLoader(
        TensorDataset(splits.train_x, splits.train_y),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    return train, DataLoader(TensorDataset(splits.val_x, splits.val_y), batch_size=512)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu | cuda:0 | mps (lrsweep's {device})")
    parser.add_argument("--out", default=None, help="Lightning's default_root_dir (lrsweep's {trial_dir})")
    args = parser.parse_args()
    L.seed_everything(args.seed, verbose=False)
    train, val = loaders(args.seed)
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="gpu" if args.device.startswith("cuda") else args.device,  # CUDA_VISIBLE_DEVICES picks the GPU
        devices=1,
        callbacks=[ReportToLrsweep()],
        default_root_dir=args.out,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(Digits(args.lr), train, val)


if __name__ == "__main__":
    main()
