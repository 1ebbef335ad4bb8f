"""``resnet``: the CIFAR ResNet of He et al. 2016 (section 4.2), and 18-style stage lists.

``depth`` 6n+2 (20, 32, 44, 56, 110) gives three stages of n BasicBlocks with 16, 32, 64 channels
(times ``width``); ``blocks: [2, 2, 2, 2]`` gives one stage per entry, stage i with 16 * 2^i * width
channels (``width: 4`` is ResNet-18's 64-512). A 3x3 stem convolution keeps small images (32x32 CIFAR,
28x28 MNIST) at full resolution; global average pooling makes any input size work. Shortcuts that
change shape are option A of the paper (stride-2 subsampling, zero-padded channels: no parameters,
the paper's choice for CIFAR) or option B (1x1 convolution + BatchNorm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from lrsweep.errors import ConfigError
from lrsweep.models.registry import MODELS

SHORTCUTS = ("A", "B")
BASE_CHANNELS = 16  # the first stage's channels at width 1 (He et al.'s CIFAR networks)


class PadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and append zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[..., :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to the (possibly projected) input."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            if shortcut == "A":
                self.shortcut = PadShortcut(in_channels, out_channels, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
                )

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, in_channels: int, output_size: int, blocks: Sequence[int], width: int, shortcut: str):
        super().__init__()
        channels = BASE_CHANNELS * width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        stages, in_ch = [], channels
        for i, n in enumerate(blocks):
            out_ch = BASE_CHANNELS * width * 2**i
            for j in range(n):
                stages.append(BasicBlock(in_ch, out_ch, 2 if (i > 0 and j == 0) else 1, shortcut))
                in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(in_ch, output_size)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        h = self.stages(self.stem(x))
        return self.fc(h.mean(dim=(-2, -1)))


def stage_blocks(depth: int, blocks: Sequence[int] | None) -> list[int]:
    """Blocks per stage: ``blocks`` as given, else three stages of (depth - 2) / 6."""
    if blocks is not None:
        return [int(b) for b in blocks]
    return [(depth - 2) // 6] * 3


@MODELS.register("resnet")
def resnet(
    input_shape: Sequence[int],
    output_size: int,
    depth: int = 20,
    blocks: Sequence[int] | None = None,
    width: int = 1,
    shortcut: str = "A",
) -> nn.Module:
    """CIFAR-style ResNet (``depth`` 6n+2, or ``blocks`` per stage); BatchNorm, option A or B shortcuts."""
    if len(input_shape) != 3:
        raise ConfigError(
            f"resnet needs image input [channels, height, width], got shape {list(input_shape)}", key="model.name"
        )
    check_options({"depth": depth, "blocks": blocks, "width": width, "shortcut": shortcut}, "model")
    return ResNet(input_shape[0], output_size, stage_blocks(depth, blocks), width, shortcut)


def check_options(options: dict, key: str) -> None:
    """depth 6n+2, blocks a non-empty list of positive integers (not both), width >= 1, shortcut A or B."""
    depth = options.get("depth", 20)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ConfigError(f"must be 6n+2 with n >= 1 (20, 32, 44, 56, 110), got depth={depth!r}", key=f"{key}.depth")
    blocks = options.get("blocks")
    if blocks is not None and (
        not isinstance(blocks, (list, tuple))
        or not blocks
        or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in blocks)
    ):
        raise ConfigError(f"must be a non-empty list of positive integers, got {blocks!r}", key=f"{key}.blocks")
    width = options.get("width", 1)
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ConfigError(f"must be an integer >= 1, got width={width!r}", key=f"{key}.width")
    if options.get("shortcut", "A") not in SHORTCUTS:
        raise ConfigError(f"got {options.get('shortcut')!r} (valid: {', '.join(SHORTCUTS)})", key=f"{key}.shortcut")


def check_given(checked: dict, key: str) -> None:
    """Config-time check of the options the user gave (called by ``models.check_model_options``)."""
    if checked.get("blocks") is not None and "depth" in checked:
        raise ConfigError("give depth or blocks, not both", key=f"{key}.blocks")
    check_options(checked, key)


resnet.check_options = check_given
