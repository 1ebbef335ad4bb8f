"""Dataset registry: load a dataset by name, check it, and split off a seeded validation set.

Built in: mnist, fashion-mnist, cifar10, cifar100, mnist-sample (bundled, offline), synthetic-regression,
synthetic-classification, csv, npz; or any ``package.module:function`` returning a Dataset,
``(train_x, train_y, test_x, test_y)``, or map-style torch Datasets ``(train, test)`` (streamed, see
:mod:`lrsweep.data.streamed`).
"""

from lrsweep.data.checks import TASKS
from lrsweep.data.dataset import Dataset, Splits, split, split_indices, validate
from lrsweep.data.registry import (
    COMMON_KEYS,
    DATASETS,
    GENERATED,
    Remote,
    check_options,
    default_root,
    load_dataset,
    not_downloaded,
    planned_size,
    standin_splits,
)

__all__ = [
    "COMMON_KEYS",
    "DATASETS",
    "GENERATED",
    "TASKS",
    "Dataset",
    "Remote",
    "Splits",
    "check_options",
    "default_root",
    "load_dataset",
    "not_downloaded",
    "planned_size",
    "split",
    "split_indices",
    "standin_splits",
    "validate",
]
