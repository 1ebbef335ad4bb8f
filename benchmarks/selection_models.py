"""The models of benchmarks/selection.py that lrsweep does not build in, named in a config as
``selection_models:<factory>`` (benchmarks/ is on sys.path when selection.py runs).

Each factory takes ``input_shape`` and ``output_size`` as lrsweep's own do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn


def bn_cnn(
    input_shape: Sequence[int], output_size: int, channels: Sequence[int] = (8, 16), width: int = 32
) -> nn.Module:
    """conv(3x3, same) + BatchNorm + ReLU + 2x2 max-pool per channel entry, then one hidden layer."""
    in_ch, h, w = input_shape
    layers: list[nn.Module] = []
    for out_ch in channels:
        layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
        in_ch, h, w = out_ch, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(in_ch * h * w, width), nn.ReLU(), nn.Linear(width, output_size)]
    return nn.Sequential(*layers)


class RowGRU(nn.Module):
    """An image read ``rows`` rows per time step (MNIST, rows=1: 28 steps of 28 pixels): a GRU, its last
    state, a linear head."""

    def __init__(self, input_shape: Sequence[int], output_size: int, width: int = 32, rows: int = 1):
        super().__init__()
        self.steps = int(input_shape[-2]) // rows
        self.row = math.prod(input_shape) // self.steps
        self.gru = nn.GRU(self.row, width, batch_first=True)
        self.head = nn.Linear(width, output_size)

    def forward(self, x: Tensor) -> Tensor:
        _, last = self.gru(x.reshape(len(x), self.steps, self.row))
        return self.head(last[-1])


def row_gru(input_shape: Sequence[int], output_size: int, width: int = 32, rows: int = 1) -> nn.Module:
    return RowGRU(input_shape, output_size, width, rows)
