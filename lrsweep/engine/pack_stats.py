"""A pack's per-variant numbers, on the device: each variant's loss of a batch, and its epoch's sums."""

from __future__ import annotations

import torch
from torch import Tensor

from lrsweep.engine.losses import elementwise, is_classification, predicted_class


def variant_losses(
    out: Tensor, y: Tensor, shared: bool, loss: str, reduction: str = "mean", options: dict | None = None
) -> Tensor:
    """Per-variant loss ``[K]`` of outputs ``[K, B, ...]`` against targets ``[B, ...]`` (shared) or ``[K, B, ...]``."""
    k = out.shape[0]
    target = y.unsqueeze(0).expand(k, *y.shape) if shared else y
    if not is_classification(loss):
        target = target.to(out.dtype)
    each = elementwise(loss, options)(out, target).reshape(k, -1)
    if reduction == "sum":  # in float64 over the rows: the total must not depend on how the split was chunked
        return each.double().sum(dim=1)
    return each.mean(dim=1)


class EpochStats:
    """Per-variant loss and accuracy sums over an epoch, kept on the device (no sync per batch)."""

    def __init__(self, k: int, device: torch.device, loss: str):
        self.total = torch.zeros(k, device=device)
        self.correct = torch.zeros(k, device=device, dtype=torch.int64)
        self.seen = torch.zeros(k, device=device, dtype=torch.int64)
        self.loss = loss
        self.classification = is_classification(loss)

    def add(self, index: Tensor, counted: Tensor, losses: Tensor, out: Tensor, y: Tensor, shared: bool, n: int) -> None:
        """Add one batch of ``n`` rows to the variants at ``index`` where ``counted`` (a device mask) holds."""
        self.total.index_add_(0, index, torch.where(counted, losses * n, torch.zeros_like(losses)))
        if self.classification:
            target = y.unsqueeze(0) if shared else y
            hits = (predicted_class(out, self.loss) == target).sum(dim=1)
            self.correct.index_add_(0, index, torch.where(counted, hits, torch.zeros_like(hits)))
        self.seen.index_add_(0, index, counted.long() * n)

    def mean(self, i: int) -> tuple[float, float | None]:
        seen = max(1, int(self.seen[i]))
        acc = self.correct[i].item() / seen if self.classification else None
        return (self.total[i] / seen).item(), acc
