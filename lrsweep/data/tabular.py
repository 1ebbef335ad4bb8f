"""Datasets from the user's own data: a CSV file, an .npz file, or arrays a user factory returns."""

from __future__ import annotations

import csv
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrsweep.data.dataset import Dataset
from lrsweep.errors import DataError
from lrsweep.registry import nearest

# task: auto reads a whole-number CSV target as class labels only when it has few distinct values:
CLASS_LIMIT = 20  # at most this many distinct values (digits, grades, ratings) ...
CLASS_SHARE = 0.05  # ... or distinct values at most this share of the rows (labels repeat; measurements rarely do)


def dataset_from_arrays(
    name: str, train_x: Any, train_y: Any, test_x: Any, test_y: Any, task: str = "auto", note: str | None = None
) -> Dataset:
    """A Dataset from arrays or tensors.

    x becomes float32 ([N] is read as [N, 1]). With task "auto", integer or string y means
    classification (integers are class indices, num_classes = max + 1; strings are mapped to
    0..K-1 in sorted order) and float y means regression ([N] becomes [N, 1]).
    """
    xs = [_features(name, f"{part}_x", v) for part, v in (("train", train_x), ("test", test_x))]
    arrays = [_array(name, f"{part}_y", v) for part, v in (("train", train_y), ("test", test_y))]
    if task == "auto":
        task = "regression" if arrays[0].dtype.kind == "f" else "classification"
        other = "classification" if task == "regression" else "regression"
        note = note or f"inferred from y's dtype {arrays[0].dtype} (set data.task: {other} to override)"
    ys: list[torch.Tensor]
    num_classes: int | None
    if task == "regression":
        ys, num_classes = [_regression_targets(name, f, y) for f, y in zip(("train_y", "test_y"), arrays)], None
    else:
        ys, num_classes = _class_labels(name, arrays)
    return Dataset(name, xs[0], ys[0], xs[1], ys[1], task, num_classes, task_note=note)


def _array(name: str, field: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biufUS" or array.ndim == 0:
        raise DataError(
            f"dataset '{name}': {field} must be a numeric (or label) array [N, ...], "
            f"got {array.dtype} {list(array.shape)}"
        )
    return array


def _features(name: str, field: str, value: Any) -> torch.Tensor:
    array = _array(name, field, value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"dataset '{name}': {field} must be numeric, got dtype {array.dtype}")
    array = array.reshape(-1, 1) if array.ndim == 1 else array
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _regression_targets(name: str, field: str, y: np.ndarray) -> torch.Tensor:
    if y.dtype.kind not in "biuf":
        raise DataError(f"dataset '{name}': regression {field} must be numeric, got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise DataError(f"dataset '{name}': regression {field} must be [N] or [N, k], got shape {list(y.shape)}")
    return torch.from_numpy(np.ascontiguousarray(y.reshape(len(y), -1), dtype=np.float32))


def _class_labels(name: str, ys: list[np.ndarray]) -> tuple[list[torch.Tensor], int]:
    fields = ("train_y", "test_y")
    for field, y in zip(fields, ys):
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise DataError(f"dataset '{name}': class labels {field} must be [N], got shape {list(y.shape)}")
    ys = [y.reshape(-1) for y in ys]
    if any(y.dtype.kind in "US" for y in ys):
        classes, inverse = np.unique(np.concatenate([y.astype(str) for y in ys]), return_inverse=True)
        return list(map(torch.from_numpy, np.split(inverse.astype(np.int64), [len(ys[0])]))), len(classes)
    for field, y in zip(fields, ys):
        bad = y[~(np.isfinite(y) & (y == np.round(y)))] if y.dtype.kind == "f" else []
        if len(bad):
            raise DataError(f"dataset '{name}': class labels {field} must be integers, got {float(bad[0])}")
        if len(y) and y.min() < 0:
            raise DataError(f"dataset '{name}': class labels {field} must be >= 0, got {y.min()}")
    labels = [torch.from_numpy(y.astype(np.int64)) for y in ys]
    return labels, max((int(y.max()) + 1 for y in labels if len(y)), default=1)


def _split_indices(n: int, test_fraction: float, seed: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, test) row indices with about ``test_fraction`` of the rows in test."""
    if n < 2:
        raise DataError(f"{source}: need at least 2 rows to split off a test set, got {n}")
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed))).numpy()
    return order[n_test:], order[:n_test]


def _standardized(ds: Dataset) -> Dataset:
    """Each feature scaled to zero mean, unit variance using the training statistics."""
    mean = ds.train_x.mean(dim=0)
    std = ds.train_x.std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant feature stays constant
    train_x, test_x = (ds.train_x - mean) / std, (ds.test_x - mean) / std
    return replace(ds, train_x=train_x, test_x=test_x)


# --- CSV


def csv_dataset(
    root: Path | None = None,
    download: bool = True,
    *,
    path: str,
    target: str,
    test_fraction: float = 0.2,
    task: str = "auto",
    seed: int = 0,
    delimiter: str = ",",
    standardize: bool = True,
) -> Dataset:
    """A CSV file with a header row: the ``target`` column is y, every other column a numeric feature.

    Args:
        path: the file.
        target: the column to predict.
        test_fraction: share of rows held out (seeded) as the test split.
        task: auto (text, or whole numbers with few distinct values -> classification; other numbers ->
            regression; validate says which and why) | classification | regression. Class labels map to 0..K-1.
        seed: seeds the test split.
        delimiter: the field separator.
        standardize: scale features to zero mean / unit variance with training statistics.
    """
    file = Path(path).expanduser()
    header, lines, cells = _read_csv(file, delimiter)
    header, cells, notes = _drop_row_numbers(file, header, lines, cells)
    if target not in header:
        guess = nearest(target, header)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise DataError(f"{file}: no column '{target}'{hint} (columns: {', '.join(header)})")
    t = header.index(target)
    features = [i for i in range(len(header)) if i != t]
    if not features:
        raise DataError(f"{file}: no feature columns besides the target '{target}'")
    x = _numeric(file, [header[i] for i in features], lines, cells[:, features])
    y, task, note = _csv_target(file, target, lines, cells[:, t], task)
    train, test = _split_indices(len(x), test_fraction, seed, str(file))
    ds = dataset_from_arrays(file.name, x[train], y[train], x[test], y[test], task, note)
    ds = replace(ds, features=tuple(header[i] for i in features), notes=notes)
    return _standardized(ds) if standardize else ds


UNNAMED_INDEX = ("", "Unnamed: 0")  # how pandas' to_csv heads its row index (and how read_csv renames it)


def _drop_row_numbers(
    file: Path, header: list[str], lines: list[int], cells: np.ndarray
) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """pandas' default ``to_csv`` writes the row index as an unnamed first column: row numbers, not a feature.
    It is dropped with a notice; any other unnamed first column is refused (name it, or drop it)."""
    if not header or header[0] not in UNNAMED_INDEX:
        return header, cells, ()
    try:
        numbers = cells[:, 0].astype(np.float64)
    except ValueError:
        numbers = np.array([np.nan])  # text: no row numbers
    whole = np.isfinite(numbers).all() and (numbers == np.round(numbers)).all()
    if not (whole and len(np.unique(numbers)) == len(numbers)):
        raise DataError(
            f"{file}: column 1 has no name in the header (line 1); name it, or remove it if it is not a feature"
        )
    span = f"{numbers.min():.0f}..{numbers.max():.0f}"
    note = (
        f"{file.name}: column 1 has no name and holds the row numbers {span} (the index pandas' to_csv writes): "
        "dropped, not a feature (write the file with to_csv(index=False) to leave it out)"
    )
    return header[1:], cells[:, 1:], (note,)


def _read_csv(file: Path, delimiter: str) -> tuple[list[str], list[int], np.ndarray]:
    """Header, the line number of each data row, and the cells as a [rows, columns] string array."""
    if not file.is_file():
        raise DataError(f"csv file not found: {file}")
    try:
        with open(file, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank line
                if len(row) != len(header):
                    raise DataError(
                        f"{file}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                    )
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read csv file {file}: {exc}") from None
    if not header or not rows:
        raise DataError(f"{file}: needs a header row and at least one data row")
    return header, lines, np.array(rows, dtype=str)


def _numeric(file: Path, names: list[str], lines: list[int], cells: np.ndarray) -> np.ndarray:
    """Cells as float64; a bad cell is reported by column name and line."""
    try:
        values = cells.astype(np.float64)
        if np.isfinite(values).all():
            return values
    except ValueError:
        pass
    for j, name in enumerate(names):
        for i, cell in enumerate(cells[:, j]):
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise DataError(f"{file}: column '{name}', line {lines[i]}: {str(cell)!r} is not a finite number")
    raise AssertionError("unreachable")  # pragma: no cover


def _csv_target(
    file: Path, target: str, lines: list[int], column: np.ndarray, task: str
) -> tuple[np.ndarray, str, str | None]:
    """Regression values (float) or class labels 0..K-1, the resolved task, and how it was inferred."""
    empty = np.flatnonzero(column == "")
    if len(empty):
        raise DataError(f"{file}: column '{target}', line {lines[empty[0]]}: empty target value")
    try:
        values = column.astype(np.float64)
    except ValueError:
        values = None
    note = None
    if task == "auto":
        task, note = infer_task(target, values)
    if task == "regression":
        return _numeric(file, [target], lines, column[:, None])[:, 0], task, note
    _, labels = np.unique(values if values is not None else column, return_inverse=True)
    return labels.astype(np.int64), task, note


def infer_task(target: str, values: np.ndarray | None) -> tuple[str, str]:
    """classification or regression for a CSV target column (None: not all numbers), and why."""
    if values is None:
        return (
            "classification",
            f"inferred: column '{target}' holds text, read as class labels (set data.task: regression to override)",
        )
    whole = bool(np.isfinite(values).all() and (values == np.round(values)).all())
    distinct = len(np.unique(values)) if whole else 0  # counted (and shown) only for whole numbers
    few = whole and (distinct <= CLASS_LIMIT or distinct <= CLASS_SHARE * len(values))
    if few:
        return "classification", (
            f"inferred: column '{target}' holds {distinct} distinct whole numbers in "
            f"{len(values)} rows, read as class labels (set data.task: regression to override)"
        )
    why = (
        (
            f"{distinct} distinct whole numbers in {len(values)} rows, too many for class labels (at most "
            f"{CLASS_LIMIT}, or {CLASS_SHARE:.0%} of the rows)"
        )
        if whole
        else "numbers that are not all whole"
    )
    return "regression", f"inferred: column '{target}' holds {why} (set data.task: classification to override)"


# --- NPZ


def npz_dataset(
    root: Path | None = None,
    download: bool = True,
    *,
    path: str,
    test_fraction: float = 0.2,
    task: str = "auto",
    seed: int = 0,
    standardize: bool = False,
) -> Dataset:
    """An .npz file with arrays ``x`` and ``y``, and optionally ``x_test`` and ``y_test``.

    Args:
        path: the file (numpy.savez).
        test_fraction: share of rows held out (seeded) when there is no x_test / y_test.
        task: auto (integer or string y -> classification, float y -> regression) | classification | regression.
        seed: seeds the test split.
        standardize: scale each feature to zero mean / unit variance with training statistics.
    """
    file = Path(path).expanduser()
    arrays = _read_npz(file)
    if "x_test" in arrays:
        parts = (arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"])
    else:
        x, y = arrays["x"], arrays["y"]
        if len(x) != len(y):
            raise DataError(f"{file}: x has {len(x)} rows, y has {len(y)}")
        train, test = _split_indices(len(x), test_fraction, seed, str(file))
        parts = (x[train], y[train], x[test], y[test])
    ds = dataset_from_arrays(file.name, *parts, task=task)
    return _standardized(ds) if standardize else ds


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise DataError(f"npz file not found: {file}")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, AttributeError, TypeError) as exc:
        raise DataError(f"cannot read npz file {file}: {exc}") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing or ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(
            f"{file}: needs arrays x and y, and x_test with y_test or neither; found {', '.join(arrays) or 'none'}"
        )
    for key, array in arrays.items():
        if array.ndim == 0:
            raise DataError(f"{file}: array '{key}' must have a row dimension, got a scalar")
    return arrays
