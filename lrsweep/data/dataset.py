"""A dataset as loaded (:class:`Dataset`), checked (:func:`validate`), and split into the train /
validation / test tensors training uses (:class:`Splits`, :func:`split`)."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, replace
from typing import cast

import torch

from lrsweep.data import streamed
from lrsweep.data.checks import number
from lrsweep.errors import ConfigError, DataError, shown


@dataclass(frozen=True)
class Dataset:
    """A dataset as loaded, CPU tensors: images [N, 1, 28, 28] or features [N, F]."""

    name: str
    train_x: torch.Tensor  # float32
    train_y: torch.Tensor  # int64 [N] (classification) or float32 [N, k] (regression)
    test_x: torch.Tensor
    test_y: torch.Tensor
    task: str  # "classification" | "regression"
    num_classes: int | None  # classification only
    task_note: str | None = None  # how the task was inferred, when it was (shown by validate)
    features: tuple[str, ...] | None = None  # the input columns by name (a CSV's), when they have names
    notes: tuple[str, ...] = ()  # what loading changed in the data (a dropped index column), for the user


@dataclass(frozen=True)
class Splits:
    """Train / validation / test tensors, as training uses them."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    task: str
    num_classes: int | None
    task_note: str | None = None  # the dataset's, passed through
    features: tuple[str, ...] | None = None  # the dataset's, passed through
    notes: tuple[str, ...] = ()  # the dataset's, passed through

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def output_size(self) -> int:
        """Number of classes, or the width of the regression target."""
        if self.task == "classification":
            assert self.num_classes is not None, "validate() requires num_classes for classification"
            return self.num_classes
        return int(self.train_y.shape[1])

    def to(self, device: torch.device | str) -> Splits:
        """A copy with every tensor on ``device``."""
        # Asynchronous only host -> GPU: a non-blocking copy back to the host could be read too early.
        non_blocking = torch.device(device).type != "cpu"
        moved = {f: getattr(self, f).to(device, non_blocking=non_blocking) for f in _TENSOR_FIELDS}
        return replace(self, **moved)

    def train_plus_val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training and validation data concatenated, for retraining the chosen variant."""
        return torch.cat([self.train_x, self.val_x]), torch.cat([self.train_y, self.val_y])

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_x), "val": len(self.val_x), "test": len(self.test_x)}


_TENSOR_FIELDS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")


def validate(dataset: Dataset | streamed.StreamedDataset) -> Dataset | streamed.StreamedDataset:
    """Check shapes, dtypes and labels of a loaded dataset; returns it unchanged."""
    if isinstance(dataset, streamed.StreamedDataset):
        return dataset  # checked on its first samples when it was made
    d, where = dataset, f"dataset '{dataset.name}'"
    tensors = {f: getattr(d, f) for f in ("train_x", "train_y", "test_x", "test_y")}
    for field, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            raise DataError(f"{where}: {field} must be a torch.Tensor, got {type(value).__name__}")
    for part in ("train", "test"):
        x, y = tensors[f"{part}_x"], tensors[f"{part}_y"]
        if x.dtype != torch.float32 or x.dim() < 2:
            raise DataError(f"{where}: {part}_x must be float32 [N, ...], got {_describe(x)}")
        if len(x) == 0 or len(x) != len(y):
            raise DataError(f"{where}: {part}_x has {len(x)} rows, {part}_y has {len(y)}; need the same, >= 1")
        if not torch.isfinite(x).all():
            raise DataError(f"{where}: {part}_x contains NaN or infinite values")
        _check_targets(d, where, f"{part}_y", y)
    if d.train_x.shape[1:] != d.test_x.shape[1:] or d.train_y.shape[1:] != d.test_y.shape[1:]:
        raise DataError(
            f"{where}: train and test shapes differ: x {_describe(d.train_x)} vs {_describe(d.test_x)}, "
            f"y {_describe(d.train_y)} vs {_describe(d.test_y)}"
        )
    return dataset


def _check_targets(d: Dataset, where: str, field: str, y: torch.Tensor) -> None:
    if d.task == "regression":
        if y.dtype != torch.float32 or y.dim() != 2:
            raise DataError(f"{where}: regression {field} must be float32 [N, k], got {_describe(y)}")
        if d.num_classes is not None:
            raise DataError(f"{where}: num_classes must be None for regression, got {d.num_classes}")
        if not torch.isfinite(y).all():
            raise DataError(f"{where}: {field} contains NaN or infinite values")
    elif d.task == "classification":
        if y.dtype != torch.int64 or y.dim() != 1:
            raise DataError(f"{where}: classification {field} must be int64 [N], got {_describe(y)}")
        if not isinstance(d.num_classes, int) or d.num_classes < 1:
            raise DataError(f"{where}: num_classes must be a positive integer, got {shown(d.num_classes)}")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= d.num_classes:
            raise DataError(f"{where}: {field} labels span {low}..{high}, outside 0..{d.num_classes - 1}")
    else:
        raise DataError(f"{where}: task must be classification or regression, got {shown(d.task)}")


def _describe(t: torch.Tensor) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {list(t.shape)}"


def split(
    dataset: Dataset | streamed.StreamedDataset, val_fraction: float, seed: int
) -> Splits | streamed.StreamedSplits:
    """Split a seeded random ``val_fraction`` of the training data off for validation.

    The same (dataset, val_fraction, seed) always gives the same split; 0 gives empty validation
    tensors; the test split is passed through untouched.
    """
    if isinstance(dataset, streamed.StreamedDataset):
        # torch's Dataset does not declare __len__; StreamedDataset refused any Dataset without one.
        n_train = len(cast(Sized, dataset.train))
        return streamed.StreamedSplits(dataset, *split_indices(n_train, val_fraction, seed))
    train, val = split_indices(len(dataset.train_x), val_fraction, seed)
    return Splits(
        train_x=dataset.train_x[train],
        train_y=dataset.train_y[train],
        val_x=dataset.train_x[val],
        val_y=dataset.train_y[val],
        test_x=dataset.test_x,
        test_y=dataset.test_y,
        task=dataset.task,
        num_classes=dataset.num_classes,
        task_note=dataset.task_note,
        features=dataset.features,
        notes=dataset.notes,
    )


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (train, val) row indices :func:`split` takes: a seeded permutation, validation first."""
    val_fraction = number("data.val_fraction", val_fraction, 0.0, 1.0)
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
        if n < 2:
            raise ConfigError(f"cannot split a validation set off {n} training row(s)", key="data.val_fraction")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return order[n_val:], order[:n_val]
