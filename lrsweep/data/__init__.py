"""Dataset registry: load a dataset by name, check it, and split off a seeded validation set.

Built in: mnist, fashion-mnist, cifar10, cifar100, mnist-sample (bundled, offline), synthetic-regression,
synthetic-classification, csv, npz; or any ``package.module:function`` returning a Dataset,
``(train_x, train_y, test_x, test_y)``, or map-style torch Datasets ``(train, test)`` (streamed, see
:mod:`lrsweep.data.streamed`).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from lrsweep.errors import ConfigError, DataError, shown
from lrsweep.registry import Registry, call_user, check_import_spec, check_kwargs, imports_allowed, signature_defaults

TASKS = ("classification", "regression")
COMMON_KEYS = (
    "name",
    "root",
    "download",
    "val_fraction",
    "batch_size",
    "augment",
    "num_workers",
)  # owned by the config


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

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def output_size(self) -> int:
        """Number of classes, or the width of the regression target."""
        return self.num_classes if self.task == "classification" else int(self.train_y.shape[1])

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

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset", allow_import=True)


def default_root() -> Path:
    """Where datasets live: $LRSWEEP_DATA, else $XDG_CACHE_HOME/lrsweep, else ~/.cache/lrsweep."""
    if os.environ.get("LRSWEEP_DATA"):
        return Path(os.environ["LRSWEEP_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "lrsweep"


# --- option checks shared by the built-in factories (by option name, so each rule is written once)


def _integer(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ConfigError(f"must be an integer, got {shown(value)}", key=key)
    if value < minimum:
        raise ConfigError(f"must be >= {minimum}, got {key.rpartition('.')[2]}={value!r}", key=key)
    return int(value)


def _number(key: str, value: Any, low: float, high: float | None = None, open_low: bool = False) -> float:
    name = key.rpartition(".")[2]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {shown(value)}", key=key)
    if value < low or (open_low and value == low) or (high is not None and value >= high):
        bounds = f"{'>' if open_low else '>='} {low}" + (f" and < {high}" if high is not None else "")
        raise ConfigError(f"must be {bounds}, got {name}={value!r}", key=key)
    return float(value)


def _task(key: str, value: Any) -> str:
    if value not in ("auto", *TASKS):
        raise ConfigError(f"must be one of auto, classification, regression; got {shown(value)}", key=key)
    return value


def _string_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"must be a non-empty list of URLs, got {shown(value)}", key=key)
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"must be a list of URL strings, got {shown(value)}", key=key)
    return list(value)


def _md5_table(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"must map file names to md5 strings, got {shown(value)}", key=key)
    return {k: v.lower() for k, v in value.items()}


def _nonempty_string(key: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(f"must be a non-empty string, got {shown(value)}", key=key)
    return value


def _delimiter(key: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ConfigError(f"must be a single character, got {shown(value)}", key=key)
    return value


_RULES: dict[str, Callable[[str, Any], Any]] = {
    "n_samples": lambda k, v: _integer(k, v, 2),
    "n_test": lambda k, v: _integer(k, v, 1),
    "n_features": lambda k, v: _integer(k, v, 1),
    "n_classes": lambda k, v: _integer(k, v, 2),
    "seed": lambda k, v: _integer(k, v, 0),
    "noise": lambda k, v: _number(k, v, 0.0),
    "separation": lambda k, v: _number(k, v, 0.0),
    "test_fraction": lambda k, v: _number(k, v, 0.0, 1.0, open_low=True),
    "task": _task,
    "mirrors": _string_list,
    "md5s": _md5_table,
    "path": _nonempty_string,
    "target": _nonempty_string,
    "delimiter": _delimiter,
}


def _check_values(factory: Callable, options: dict[str, Any], key: str) -> dict[str, Any]:
    """Range-check a built-in factory's options; returns them coerced (None only where the default is None)."""
    defaults = signature_defaults(factory, skip=("root", "download"))
    checked = dict(options)
    for name, value in options.items():
        if name in _RULES and not (value is None and defaults.get(name, 0) is None):
            checked[name] = _RULES[name](f"{key}.{name}", value)
    return checked


# --- the public entry points


def check_options(name: str, options: dict[str, Any], key: str = "data") -> dict[str, Any]:
    """Validate a data section's dataset-specific keys against the factory for ``name``.

    Keys in COMMON_KEYS are ignored (the config owns them). Returns the dataset-specific options,
    type-checked (and, for built-in datasets, range-checked).

    Raises:
        ConfigError: unknown dataset (``data.name``, with the valid names), unknown or bad option.
    """
    specific = {k: v for k, v in options.items() if k not in COMMON_KEYS}
    if DATASETS.is_import(name) and not imports_allowed():
        check_import_spec(name, key=f"{key}.name")
        return specific  # checked against the factory's signature only when it may be imported
    factory = DATASETS.get(name, key=f"{key}.name")
    if not callable(factory):
        raise ConfigError(f"'{name}' is not a function", key=f"{key}.name")
    checked = check_kwargs(factory, specific, key, skip=("root", "download"), extra=COMMON_KEYS)
    return checked if DATASETS.is_import(name) else _check_values(factory, checked, key)


def planned_size(name: str, options: dict[str, Any]) -> tuple[int, int, int | None] | None:
    """(rows, features, classes) a generated dataset will have, known before it is made; None for files."""
    if DATASETS.is_import(name) or DATASETS.canonical(name) not in GENERATED:
        return None
    factory = DATASETS.get(name)
    values = {**signature_defaults(factory, skip=("root", "download")), **options}
    rows = int(values["n_samples"]) + int(values["n_test"])
    classes = values.get("n_classes")
    return rows, int(values["n_features"]), None if classes is None else int(classes)


@dataclass(frozen=True)
class Remote:
    """A dataset fetched on first use, not all on disk yet: what validate reports instead of downloading."""

    name: str
    directory: Path
    missing: tuple[str, ...]
    input_shape: tuple[int, ...]
    n_train: int
    n_test: int
    num_classes: int

    def note(self, download: bool) -> str:
        files = ", ".join(self.missing)
        if download:
            return (
                f"{self.name}: {files} not in {self.directory}/ yet: downloaded on first run (validate never downloads)"
            )
        return f"{self.name}: {files} missing in {self.directory}/ and data.download is false"


def not_downloaded(name: str, root: Path) -> Remote | None:
    """For a dataset that downloads its files: what is missing under ``root`` (None: all there, or not remote)."""
    if DATASETS.is_import(name) or DATASETS.canonical(name) not in idx.IDX_SIZES:
        return None
    name = DATASETS.canonical(name)
    directory, files = idx.remote_files(name, root)
    missing = tuple(f for f in files if not (directory / f).is_file())
    if not missing:
        return None
    n_train, n_test = idx.IDX_SIZES[name]
    return Remote(name, directory, missing, (1, 28, 28), n_train, n_test, 10)


def standin_splits(remote: Remote, val_fraction: float) -> Splits:
    """Splits of the right shapes and sizes that hold no data (zero-stride views): for checks only."""
    n_val = min(max(round(remote.n_train * val_fraction), 1), remote.n_train - 1) if val_fraction > 0 else 0

    def x(n: int) -> torch.Tensor:
        return torch.zeros((1, *remote.input_shape)).expand(n, *remote.input_shape)

    def y(n: int) -> torch.Tensor:
        return torch.zeros(1, dtype=torch.int64).expand(n)

    n_fit = remote.n_train - n_val
    return Splits(
        x(n_fit), y(n_fit), x(n_val), y(n_val), x(remote.n_test), y(remote.n_test), "classification", remote.num_classes
    )


def load_dataset(name: str, options: dict[str, Any], root: Path | None = None, download: bool = True) -> Dataset:
    """Load dataset ``name`` with its options; ``root`` defaults to :func:`default_root`.

    Raises:
        ConfigError: bad name or options.
        DataError: files missing or unreadable, or a user factory returned something malformed.
        DownloadError: a download failed.
    """
    options = check_options(name, options)
    root = Path(root).expanduser() if root is not None else default_root()
    factory = DATASETS.get(name)
    if not DATASETS.is_import(name):
        return validate(factory(root=root, download=download, **options))
    params = inspect.signature(factory).parameters
    if "root" in params:
        options["root"] = root
    if "download" in params:
        options["download"] = download
    return validate(_as_dataset(name, call_user(factory, options, f"dataset factory '{name}'", key="data.name")))


def _as_dataset(name: str, result: Any) -> Dataset:
    if isinstance(result, Dataset):
        return result
    if streamed.is_dataset_pair(result):  # map-style torch Datasets (train, test): streamed, never loaded whole
        return streamed.StreamedDataset(name, *result)
    if isinstance(result, (tuple, list)) and len(result) == 4:
        return tabular.dataset_from_arrays(name, *result)
    raise DataError(
        f"dataset factory '{name}' must return a Dataset or (train_x, train_y, test_x, test_y) or "
        f"(train, test) torch Datasets, "
        f"got {type(result).__name__}"
    )


def validate(dataset: Dataset) -> Dataset:
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


def split(dataset: Dataset, val_fraction: float, seed: int) -> Splits:
    """Split a seeded random ``val_fraction`` of the training data off for validation.

    The same (dataset, val_fraction, seed) always gives the same split; 0 gives empty validation
    tensors; the test split is passed through untouched.
    """
    if isinstance(dataset, streamed.StreamedDataset):
        return streamed.StreamedSplits(dataset, *split_indices(len(dataset.train), val_fraction, seed))
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
    )


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (train, val) row indices :func:`split` takes: a seeded permutation, validation first."""
    val_fraction = _number("data.val_fraction", val_fraction, 0.0, 1.0)
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
        if n < 2:
            raise ConfigError(f"cannot split a validation set off {n} training row(s)", key="data.val_fraction")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return order[n_val:], order[:n_val]


# Factories register here; the modules import Dataset from this (already defined) package.
from lrsweep.data import cifar, idx, streamed, synthetic, tabular  # noqa: E402

DATASETS.add("mnist", idx.mnist)
DATASETS.add("cifar10", cifar.cifar10, aliases=("cifar-10",))
DATASETS.add("cifar100", cifar.cifar100, aliases=("cifar-100",))
DATASETS.add("fashion-mnist", idx.fashion_mnist, aliases=("fashion_mnist", "fmnist"))
DATASETS.add("mnist-sample", idx.mnist_sample, aliases=("mnist_sample", "sample"))
DATASETS.add("synthetic-regression", synthetic.regression, aliases=("synthetic_regression",))
DATASETS.add("synthetic-classification", synthetic.classification, aliases=("synthetic_classification",))
DATASETS.add("csv", tabular.csv_dataset)
GENERATED = ("synthetic-regression", "synthetic-classification")  # sizes known from their options
DATASETS.add("npz", tabular.npz_dataset)

__all__ = [
    "COMMON_KEYS",
    "DATASETS",
    "Dataset",
    "Splits",
    "check_options",
    "default_root",
    "load_dataset",
    "split",
    "validate",
]
