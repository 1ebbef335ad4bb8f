"""TensorBoard scalars for a sweep: a SweepEvents wrapper writing one event folder per variant.

The ``tensorboard`` package is an optional extra (``pip install 'lrsweep[tensorboard]'``);
its writer is imported only when ``--tensorboard`` is asked for.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lrsweep.errors import UsageError

INSTALL_HINT = "pip install 'lrsweep[tensorboard]'"


class ScalarWriter(Protocol):
    """What this module uses of torch's SummaryWriter (imported only when --tensorboard asks for it)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def summary_writer_class() -> Callable[..., ScalarWriter]:
    """torch's SummaryWriter, or a UsageError naming the install command when tensorboard is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(f"--tensorboard needs the tensorboard package, which is not installed: {INSTALL_HINT}")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter


class TensorBoardEvents:
    """Forwards every event to ``inner`` and writes scalars under ``root/<variant id>``.

    Per epoch: loss/train, loss/val, acc/train, acc/val, lr; per optimizer step (when the variant
    recorded its learning rate per step): lr_step. Retraining the best goes to ``root/retrain``
    (the runner reports its epochs under that id).
    """

    def __init__(self, inner, root: Path):
        self.inner, self.root = inner, Path(root)
        self.writer_class = summary_writer_class()
        self.writers: dict[str, ScalarWriter] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getattr__(self, name):  # events this wrapper does not write (on_start, on_pack_start, ...)
        return getattr(self.inner, name)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def _writer(self, folder: str) -> ScalarWriter:
        """The folder's writer; a new one starts clean (a resumed variant restarts from epoch 1)."""
        if folder not in self.writers:
            shutil.rmtree(self.root / folder, ignore_errors=True)
            self.writers[folder] = self.writer_class(log_dir=str(self.root / folder))
        return self.writers[folder]

    def on_epoch(self, variant_id, record) -> None:
        writer = self._writer(variant_id)
        scalars = {
            "loss/train": record.train_loss,
            "loss/val": record.val_loss,
            "acc/train": record.train_acc,
            "acc/val": record.val_acc,
            "lr": record.lr,
            **{f"metrics/{name}": value for name, value in record.metrics.items()},
        }
        for tag, value in scalars.items():
            if value is not None:
                writer.add_scalar(tag, value, record.epoch)
        writer.flush()
        self.inner.on_epoch(variant_id, record)

    def on_variant_end(self, variant, result) -> None:
        if result.lr_steps:
            writer = self._writer(variant.id)
            for step, lr in enumerate(result.lr_steps, start=1):
                writer.add_scalar("lr_step", lr, step)
        if variant.id in self.writers:
            self.writers.pop(variant.id).close()
        self.inner.on_variant_end(variant, result)
