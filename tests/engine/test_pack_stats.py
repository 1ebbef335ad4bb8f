"""A pack's per-variant numbers: each variant's loss is its own, and an epoch's sums count what they should."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lrsweep.engine.pack_stats import EpochStats, variant_losses


def test_each_variants_loss_is_the_loss_of_its_own_outputs():
    torch.manual_seed(0)
    out, y = torch.randn(3, 5, 4), torch.randint(0, 4, (5,))
    shared = variant_losses(out, y, True, "cross_entropy")
    assert torch.allclose(shared, torch.stack([F.cross_entropy(out[k], y) for k in range(3)]))
    ys = torch.randint(0, 4, (3, 5))
    own = variant_losses(out, ys, False, "cross_entropy", reduction="sum")
    assert own.dtype == torch.float64
    assert torch.allclose(own.float(), torch.stack([F.cross_entropy(out[k], ys[k], reduction="sum") for k in range(3)]))
    target = torch.randn(5, 4)
    assert torch.allclose(variant_losses(out, target, True, "mse"), ((out - target) ** 2).mean(dim=(1, 2)))


def test_epoch_sums_skip_what_is_not_counted_and_average_over_rows_seen():
    stats = EpochStats(2, torch.device("cpu"), "cross_entropy")
    out = torch.tensor([[[2.0, 0.0], [0.0, 2.0]], [[0.0, 2.0], [0.0, 2.0]]])  # [K=2, B=2, classes=2]
    y = torch.tensor([0, 1])
    index = torch.tensor([0, 1])
    stats.add(index, torch.tensor([True, True]), torch.tensor([1.0, 3.0]), out, y, True, 2)
    stats.add(index, torch.tensor([True, False]), torch.tensor([2.0, 9.0]), out, y, True, 2)
    assert stats.mean(0) == (1.5, 1.0)  # two batches of two rows, every prediction right
    assert stats.mean(1) == (3.0, 0.5)  # the second batch not counted
