"""A pack's per-variant numbers, on the device: each variant's loss of a batch, and its epoch's sums."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def variant_losses(out: Tensor, y: Tensor, shared: bool, loss: str, reduction: str = "mean") -> Tensor:
    """Per-variant loss ``[K]`` of outputs ``[K, B, ...]`` against targets ``[B, ...]`` (shared) or ``[K, B, ...]``."""
    k, b = out.shape[:2]
    target = y.unsqueeze(0).expand(k, *y.shape) if shared else y
    if loss == "cross_entropy":
        each = F.cross_entropy(out.reshape(k * b, -1), target.reshape(k * b), reduction="none").view(k, -1)
    else:
        each = F.mse_loss(out, target.to(out.dtype), reduction="none").reshape(k, -1)
    if reduction == "sum":  # in float64 over the rows: the total must not depend on how the split was chunked
        return each.double().sum(dim=1)
    return each.mean(dim=1)


class EpochStats:
    """Per-variant loss and accuracy sums over an epoch, kept on the device (no sync per batch)."""

    def __init__(self, k: int, device: torch.device, classification: bool):
        self.total = torch.zeros(k, device=device)
        self.correct = torch.zeros(k, device=device, dtype=torch.int64)
        self.seen = torch.zeros(k, device=device, dtype=torch.int64)
        self.classification = classification

    def add(self, index: Tensor, counted: Tensor, losses: Tensor, out: Tensor, y: Tensor, shared: bool, n: int) -> None:
        """Add one batch of ``n`` rows to the variants at ``index`` where ``counted`` (a device mask) holds."""
        self.total.index_add_(0, index, torch.where(counted, losses * n, torch.zeros_like(losses)))
        if self.classification:
            target = y.unsqueeze(0) if shared else y
            hits = (out.argmax(dim=-1) == target).sum(dim=1)
            self.correct.index_add_(0, index, torch.where(counted, hits, torch.zeros_like(hits)))
        self.seen.index_add_(0, index, counted.long() * n)

    def mean(self, i: int, classification: bool) -> tuple[float, float | None]:
        seen = max(1, int(self.seen[i]))
        acc = self.correct[i].item() / seen if classification else None
        return (self.total[i] / seen).item(), acc
