"""A pack of lrsweep ``resnet`` models as plain grouped convolutions (no vmap).

Activations of K variants lie side by side in the channel dimension, ``[B, K*C, H, W]``:

- a convolution whose input every variant shares (the stem, on one batch) is ONE convolution with K
  times the output channels; every later one is a grouped convolution (``groups=K``), so variant k's
  channels only see variant k's filters;
- BatchNorm over K*C channels is exactly K BatchNorms over C: statistics are per channel, and the
  running mean/var are ``[K*C]`` views of the stacked ``[K, C]`` buffers, updated in place;
- option A shortcuts subsample and zero-pad each variant's own channels; the head is a batched matmul.

Unlike the vmap path, every op is an ordinary torch call, so autocast (bf16-mixed, 16-mixed) applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrsweep.engine.stacked_base import CONV_FORMAT, FuncStack, conv_input
from lrsweep.models.resnet import BasicBlock, PadShortcut, ResNet


def is_resnet(model: nn.Module) -> bool:
    return type(model) is ResNet


class ResNetStack(FuncStack):
    """K ``ResNet`` variants; parameters and buffers stacked as in :class:`FuncStack` (same names)."""

    autocast_ok = True

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__(models)
        base = self.base
        assert isinstance(base, ResNet), "stack_models builds a ResNetStack for is_resnet() models only"
        self.blocks: list[BasicBlock] = []
        for block in base.stages:
            assert isinstance(block, BasicBlock), "a ResNet's stages hold BasicBlocks only"
            self.blocks.append(block)
        self.momentum: dict[str, float] = {}
        self.eps: dict[str, float] = {}
        for name, m in base.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                # lrsweep's ResNet keeps BatchNorm's default momentum; None (a cumulative average) would have
                # no F.batch_norm form
                assert m.momentum is not None, f"{name}: BatchNorm2d with momentum=None"
                self.momentum[name], self.eps[name] = m.momentum, m.eps

    def forward(self, x: Tensor, shared: bool) -> Tensor:
        t = dict(zip(self.names, self.params))
        t.update(zip(self.buffer_names, self.buffers))
        k = self.k
        if not shared:  # [K, B, C, H, W] -> [B, K*C, H, W]
            x = x.transpose(0, 1).reshape(x.shape[1], k * x.shape[2], *x.shape[3:])
        h = self._conv(t, "stem.0", x, stride=1, padding=1, shared=shared)
        h = F.relu(self._bn(t, "stem.1", h))
        for i, block in enumerate(self.blocks):
            h = self._block(t, f"stages.{i}", block, h)
        pooled = h.mean(dim=(-2, -1)).view(h.shape[0], k, -1).transpose(0, 1)  # [K, B, C]
        return torch.baddbmm(t["fc.bias"].unsqueeze(1), pooled, t["fc.weight"].transpose(1, 2))

    def _block(self, t: dict, name: str, block: BasicBlock, x: Tensor) -> Tensor:
        stride = block.conv1.stride[0]
        h = F.relu(self._bn(t, f"{name}.bn1", self._conv(t, f"{name}.conv1", x, stride, 1)))
        h = self._bn(t, f"{name}.bn2", self._conv(t, f"{name}.conv2", h, 1, 1))
        if isinstance(block.shortcut, PadShortcut):
            short = self._pad_shortcut(x, block.shortcut)
        elif isinstance(block.shortcut, nn.Sequential):
            short = self._bn(t, f"{name}.shortcut.1", self._conv(t, f"{name}.shortcut.0", x, stride, 0))
        else:
            short = x
        return F.relu(h + short)

    def _conv(self, t: dict, name: str, x: Tensor, stride: int, padding: int, shared: bool = False) -> Tensor:
        w = t[f"{name}.weight"]
        k, out_c = w.shape[:2]
        weight = w.reshape(k * out_c, *w.shape[2:]).contiguous(memory_format=CONV_FORMAT)
        return F.conv2d(conv_input(x), weight, None, stride=stride, padding=padding, groups=1 if shared else k)

    def _bn(self, t: dict, name: str, x: Tensor) -> Tensor:
        mean, var = t[f"{name}.running_mean"], t[f"{name}.running_var"]
        if self.training:
            t[f"{name}.num_batches_tracked"].add_(1)
        return F.batch_norm(
            x,
            mean.view(-1),
            var.view(-1),
            t[f"{name}.weight"].reshape(-1),
            t[f"{name}.bias"].reshape(-1),
            self.training,
            self.momentum[name],
            self.eps[name],
        )

    def _pad_shortcut(self, x: Tensor, shortcut: PadShortcut) -> Tensor:
        s = shortcut.stride
        h = x[..., ::s, ::s]
        b, _, height, width = h.shape
        h = h.reshape(b, self.k, -1, height, width)
        return F.pad(h, (0, 0, 0, 0, 0, shortcut.extra)).reshape(b, -1, height, width)
