"""Datasets that stream: map-style ``torch.utils.data.Dataset`` pairs ``(train, test)`` from a factory.

Nothing is loaded up front. The splits hand out :class:`DatasetColumn` views (``train_x``, ``train_y``,
...) that behave like the resident tensors where code only indexes them (the range test, evaluation,
``len``): a slice or an index tensor loads those samples, in this process. Training goes through a
DataLoader instead (:class:`lrsweep.engine.batches.StreamedBatches`), one per pack.

The validation split is by index (``Subset``), drawn exactly as :func:`lrsweep.data.split` draws
rows from tensors, so the same data as tensors or as a Dataset gives the same splits and batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from functools import partial
from typing import Any, cast

import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Subset, default_collate

from lrsweep.errors import DataError


class StreamedDataset:
    """A dataset as a factory returned it: two map-style Datasets, inspected through their first samples."""

    def __init__(self, name: str, train: TorchDataset, test: TorchDataset):
        self.name, self.train, self.test = name, train, test
        where = f"dataset '{name}'"
        for part, ds in (("train", train), ("test", test)):
            if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
                raise DataError(f"{where}: the {part} Dataset must be map-style (__getitem__ and __len__)")
            if len(ds) == 0:
                raise DataError(f"{where}: the {part} Dataset is empty")
        x, y = _sample(where, "train", train)
        test_x, test_y = _sample(where, "test", test)
        if x.shape != test_x.shape or torch.as_tensor(y).shape != torch.as_tensor(test_y).shape:
            raise DataError(
                f"{where}: train and test samples differ in shape: x {list(x.shape)} vs {list(test_x.shape)}"
            )
        self.input_shape = tuple(x.shape)
        self.num_classes: int | None  # set for classification only
        if _is_label(y):
            self.task, self.num_classes = "classification", _num_classes(where, train)
            self.target_width = 1
        else:
            self.task, self.num_classes = "regression", None
            self.target_width = int(torch.as_tensor(y).numel())


def _sample(where: str, part: str, ds: TorchDataset) -> tuple[torch.Tensor, Any]:
    try:
        item = ds[0]
    except Exception as exc:  # noqa: BLE001 - the user's __getitem__; name it
        raise DataError(f"{where}: reading {part}[0] failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DataError(f"{where}: {part}[0] must be a pair (x, y), got {type(item).__name__}")
    x, y = item
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or x.dim() < 1:
        got = f"{x.dtype} {list(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataError(f"{where}: {part}[0]: x must be a float32 tensor of at least one dimension, got {got}")
    if not (_is_label(y) or (isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.dim() == 1)):
        raise DataError(
            f"{where}: {part}[0]: y must be an integer class label, or a float32 tensor [k] "
            f"for regression, got {y!r:.60}"
        )
    return x, y


def _is_label(y: Any) -> bool:
    if isinstance(y, torch.Tensor):
        return y.dim() == 0 and y.dtype == torch.int64
    return isinstance(y, int) and not isinstance(y, bool)


def _num_classes(where: str, ds: TorchDataset) -> int:
    n = getattr(ds, "num_classes", None)
    classes = getattr(ds, "classes", None)
    if n is None and classes is not None:
        n = len(classes)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise DataError(
            f"{where}: integer labels need the number of classes: give the train Dataset a "
            f"'num_classes' attribute (or a 'classes' list), got {n!r}"
        )
    return n


class Rows:
    """Samples of one Dataset loaded by index onto a device, the last request kept (x then y reuse it)."""

    def __init__(self, dataset: TorchDataset, task: str, device: torch.device | str = "cpu"):
        self.dataset, self.task, self.device = dataset, task, torch.device(device)
        self._last: tuple[Any, tuple[torch.Tensor, torch.Tensor]] | None = None

    def __len__(self) -> int:
        # torch's Dataset does not declare __len__; StreamedDataset refused any Dataset without one.
        return len(cast(Sized, self.dataset))

    def take(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples at ``index`` (a slice, an int sequence or an index tensor), collated."""
        key = (index.start, index.stop, index.step) if isinstance(index, slice) else index
        if self._last is not None and (self._last[0] is key or (isinstance(index, slice) and self._last[0] == key)):
            return self._last[1]
        rows = range(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index).reshape(-1).tolist()
        x, y = self.collate([self.dataset[i] for i in rows])
        result = (x.to(self.device), y.to(self.device))
        self._last = (key, result)
        return result

    @property
    def collate(self) -> Callable[[list], tuple[torch.Tensor, torch.Tensor]]:
        """The collate function for this task (a picklable partial: DataLoader workers get it)."""
        return partial(collate, task=self.task)

    def moved(self, device) -> Rows:
        return Rows(self.dataset, self.task, device)


def collate(samples: list, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples -> (x [B, ...] float32, y [B] int64 or [B, k] float32), as training expects them."""
    if not samples:
        raise DataError("no samples to collate")
    x, y = default_collate(samples)
    return x, (y.long() if task == "classification" else y.float())


class DatasetColumn:
    """``x`` or ``y`` of a streamed split, indexable like the tensor it stands for."""

    def __init__(self, rows: Rows, which: int, shape: tuple[int, ...]):
        self.rows, self.which, self._shape = rows, which, shape

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> torch.Tensor:
        return self.rows.take(index)[self.which]

    @property
    def device(self) -> torch.device:
        return self.rows.device

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self._shape))


def columns(rows: Rows, source: StreamedDataset) -> tuple[DatasetColumn, DatasetColumn]:
    target = () if source.task == "classification" else (source.target_width,)
    return DatasetColumn(rows, 0, source.input_shape), DatasetColumn(rows, 1, target)


class StreamedSplits:
    """Train / validation / test of a streamed dataset, shaped like :class:`lrsweep.data.Splits`."""

    def __init__(
        self,
        source: StreamedDataset,
        train_index: torch.Tensor,
        val_index: torch.Tensor,
        device: torch.device | str = "cpu",
    ):
        self.source, self.train_index, self.val_index = source, train_index, val_index
        self.task, self.num_classes = source.task, source.num_classes
        self.device = torch.device(device)
        self.train_x, self.train_y = self._columns(Subset(source.train, train_index.tolist()))
        self.val_x, self.val_y = self._columns(Subset(source.train, val_index.tolist()))
        self.test_x, self.test_y = self._columns(source.test)

    def _columns(self, dataset: TorchDataset) -> tuple[DatasetColumn, DatasetColumn]:
        return columns(Rows(dataset, self.source.task, self.device), self.source)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.source.input_shape

    @property
    def output_size(self) -> int:
        return self.num_classes if self.num_classes is not None else self.source.target_width  # None: regression

    def to(self, device: torch.device | str) -> StreamedSplits:
        """The same splits, delivering batches on ``device``."""
        return StreamedSplits(self.source, self.train_index, self.val_index, device)

    def train_plus_val(self) -> tuple[DatasetColumn, DatasetColumn]:
        """Training then validation samples (the order ``Splits.train_plus_val`` concatenates them in)."""
        index = torch.cat([self.train_index, self.val_index]).tolist()
        return self._columns(Subset(self.source.train, index))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_x), "val": len(self.val_x), "test": len(self.test_x)}


def is_dataset_pair(result: Any) -> bool:
    """Whether a factory returned ``(train, test)`` map-style Datasets."""
    return isinstance(result, (tuple, list)) and len(result) == 2 and all(isinstance(d, TorchDataset) for d in result)
