"""A worked example of a dataset factory that streams: ``data: {name: mypkg.data:stripes}``.

``stripes`` returns two map-style ``torch.utils.data.Dataset`` objects (train, test). lrsweep never
loads them whole: it splits the validation set off by index and trains through a DataLoader
(``data.num_workers`` worker processes), one per pack of variants. Each sample here is generated
when it is asked for, from its index, the way a real Dataset would read and decode one file.

Run from the repository's ``examples/`` folder, so that ``mypkg`` is importable::

    cd examples && lrsweep grid ../configs/custom-dataset.yaml
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset


class Stripes(Dataset):
    """Colour images of noisy stripes; the class is their orientation (4 classes).

    Args:
        n: number of samples.
        size: images are ``[3, size, size]``.
        noise: standard deviation of the pixel noise added to each image.
        seed: samples are a pure function of (seed, index): the same every epoch and in every process.
    """

    classes = ("horizontal", "vertical", "diagonal", "anti-diagonal")  # lrsweep reads the class count here

    def __init__(self, n: int, size: int = 16, noise: float = 0.5, seed: int = 0):
        self.n, self.size, self.noise, self.seed = n, size, noise, seed
        ys, xs = torch.meshgrid(
            torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
        )
        self.coords = torch.stack([ys, xs, xs + ys, xs - ys])  # one coordinate per orientation

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label = int(torch.randint(len(self.classes), (1,), generator=g))
        period = 3.0 + 5.0 * float(torch.rand(1, generator=g))
        phase = 2 * math.pi * float(torch.rand(1, generator=g))
        wave = torch.sin(2 * math.pi * self.coords[label] / period + phase)  # [size, size]
        colour = torch.rand(3, 1, 1, generator=g) + 0.5
        image = wave * colour + self.noise * torch.randn(3, self.size, self.size, generator=g)
        return image, label


def stripes(n_train: int = 2000, n_test: int = 500, size: int = 16, noise: float = 0.5, seed: int = 0):
    """The factory lrsweep calls: (train, test) Datasets. Its keyword arguments are ``data:`` keys."""
    return Stripes(n_train, size, noise, seed), Stripes(n_test, size, noise, seed + 1)


def stripes_tensors(n_train: int = 2000, n_test: int = 500, size: int = 16, noise: float = 0.5, seed: int = 0):
    """The same samples, materialised as ``(train_x, train_y, test_x, test_y)`` tensors (to compare)."""
    out = []
    for ds in stripes(n_train, n_test, size, noise, seed):
        xs, ys = zip(*(ds[i] for i in range(len(ds))))
        out += [torch.stack(xs), torch.tensor(ys, dtype=torch.int64)]
    return tuple(out)
