"""The dataset registry: a name (or ``package.module:function``) to a factory, its options checked, the
dataset loaded and checked; what a remote dataset still has to download.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lrsweep.data import cifar, idx, streamed, synthetic, tabular
from lrsweep.data.checks import check_values
from lrsweep.data.dataset import Dataset, Splits, validate
from lrsweep.errors import ConfigError, DataError
from lrsweep.registry import Registry, call_user, check_import_spec, check_kwargs, imports_allowed, signature_defaults

COMMON_KEYS = (
    "name",
    "root",
    "download",
    "val_fraction",
    "batch_size",
    "augment",
    "num_workers",
)  # owned by the config

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset", allow_import=True)
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


def default_root() -> Path:
    """Where datasets live: $LRSWEEP_DATA, else $XDG_CACHE_HOME/lrsweep, else ~/.cache/lrsweep."""
    if os.environ.get("LRSWEEP_DATA"):
        return Path(os.environ["LRSWEEP_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "lrsweep"


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
    return checked if DATASETS.is_import(name) else check_values(factory, checked, key)


# Argument names of a dataset factory that size what it makes, read before calling it: the rows it makes are
# the sum of ROW_ARGS, the numbers per row the product of FEATURE_ARGS, the classes CLASS_ARGS.
ROW_ARGS = ("n_samples", "n_test", "n_train", "n_val", "num_samples", "n_rows", "num_rows", "rows", "samples")
FEATURE_ARGS = ("n_features", "num_features", "features", "n_inputs", "input_dim", "dim", "n_dims")
CLASS_ARGS = ("n_classes", "num_classes", "classes")


def planned_size(name: str, options: dict[str, Any]) -> tuple[int, int, int | None] | None:
    """(rows, numbers per row, classes) a generated dataset will have, read from the factory's arguments
    before it is called; None for files, and for a factory without size arguments (or not imported)."""
    if DATASETS.is_import(name):
        if not imports_allowed():
            return None
        factory = DATASETS.get(name)
    elif DATASETS.canonical(name) in GENERATED:
        factory = DATASETS.get(name)
    else:
        return None
    values = {**signature_defaults(factory, skip=("root", "download")), **options}
    counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
    rows = sum(counts.get(k, 0) for k in ROW_ARGS)
    features = math.prod(counts.get(k, 1) for k in FEATURE_ARGS)
    classes = next((counts[k] for k in CLASS_ARGS if k in counts), None)
    if not rows and not any(k in counts for k in FEATURE_ARGS + CLASS_ARGS):
        return None
    return max(rows, 1), features, classes


def check_returned_size(name: str, dataset: Dataset | streamed.StreamedDataset, max_values: int | None) -> None:
    """Refuse a dataset a factory returned with more numbers than ``limits.max_data_values``, before it is
    split, standardized or copied to a device."""
    if max_values is None or not isinstance(dataset, Dataset):
        return
    total = sum(x.numel() for x in (dataset.train_x, dataset.test_x) if isinstance(x, torch.Tensor))
    if total > max_values:
        raise ConfigError(
            f"dataset factory '{name}' returned {total:,} input values, more than limits.max_data_values="
            f"{max_values:,} (raise it with --set limits.max_data_values=N)",
            key="data",
        )


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


def not_downloaded(name: str, root: Path, options: dict[str, Any] | None = None) -> Remote | None:
    """For a dataset that downloads its files (MNIST, Fashion-MNIST, CIFAR-10/100): what is missing under
    ``root`` (None: all there, or not remote). ``options``: the data section's (CIFAR-100's ``label``)."""
    if DATASETS.is_import(name):
        return None
    name = DATASETS.canonical(name)
    if name in idx.IDX_SIZES:
        directory, files = idx.remote_files(name, root)
        missing = tuple(f for f in files if not (directory / f).is_file())
        n_train, n_test = idx.IDX_SIZES[name]
        return Remote(name, directory, missing, (1, 28, 28), n_train, n_test, 10) if missing else None
    if name in cifar.ARCHIVES:
        archive = cifar.ARCHIVES[name]
        missing = cifar.missing_files(archive, root)
        classes = cifar.label_classes(archive, str((options or {}).get("label", "fine")))
        return Remote(name, Path(root) / name, missing, cifar.IMAGE_SHAPE, *cifar.SIZES, classes) if missing else None
    return None


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


def load_dataset(
    name: str, options: dict[str, Any], root: Path | None = None, download: bool = True, max_values: int | None = None
) -> Dataset | streamed.StreamedDataset:
    """Load dataset ``name`` with its options; ``root`` defaults to :func:`default_root`; a user factory's
    result holding more than ``max_values`` numbers is refused (``limits.max_data_values``).

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
    dataset = _as_dataset(name, call_user(factory, options, f"dataset factory '{name}'", key="data.name"))
    check_returned_size(name, dataset, max_values)
    return validate(dataset)


def _as_dataset(name: str, result: Any) -> Dataset | streamed.StreamedDataset:
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
