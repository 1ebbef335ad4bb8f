"""The data files of benchmarks/selection.py's tasks: generated (seeded) from the bundled MNIST sample or
from formulas into a cache folder ($LRSWEEP_DATA or ~/.cache/lrsweep, /selection-bench), never committed.

Each function returns the file's path; a file already there is reused (it is a function of its name).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    root = Path(os.environ.get("LRSWEEP_DATA", Path.home() / ".cache" / "lrsweep")) / "selection-bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _write_npz(path: Path, **arrays) -> str:
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return str(path)


def _write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    if not path.exists():
        header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["target"])
        rows = "\n".join(",".join(f"{v:.6g}" for v in (*xr, yr)) for xr, yr in zip(x, y))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".csv")
        with os.fdopen(fd, "w") as handle:
            handle.write(header + "\n" + rows + "\n")
        os.replace(tmp, path)
    return str(path)


def _mnist_arrays(n_train: int, n_test: int) -> dict[str, np.ndarray]:
    from lrsweep.data import load_dataset

    ds = load_dataset("mnist-sample", {})
    return {
        "x": ds.train_x[:n_train].numpy(),
        "y": ds.train_y[:n_train].numpy(),
        "x_test": ds.test_x[:n_test].numpy(),
        "y_test": ds.test_y[:n_test].numpy(),
    }


def mnist_subset(n_train: int, n_test: int) -> str:
    """The first ``n_train`` / ``n_test`` images of the bundled MNIST sample (normalized, [1, 28, 28])."""
    path = data_dir() / f"mnist-{n_train}-{n_test}.npz"
    if not path.exists():
        _write_npz(path, **_mnist_arrays(n_train, n_test))
    return str(path)


def mnist_noisy(n_train: int, n_test: int, flip: float, seed: int = 5) -> str:
    """:func:`mnist_subset` with a seeded ``flip`` share of the training labels replaced by another class
    (uniformly among the other nine); the test labels are left clean."""
    path = data_dir() / f"mnist-{n_train}-{n_test}-flip{flip:g}-s{seed}.npz"
    if not path.exists():
        arrays = _mnist_arrays(n_train, n_test)
        rng = np.random.default_rng(seed)
        y = arrays["y"].copy()
        flipped = rng.random(len(y)) < flip
        y[flipped] = (y[flipped] + rng.integers(1, 10, size=int(flipped.sum()))) % 10
        _write_npz(path, **{**arrays, "y": y})
    return str(path)


def tabular_nonlinear() -> str:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(800, 8))
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3] ** 2 - x[:, 4] + 0.2 * rng.normal(size=800)
    return _write_csv(data_dir() / "tabular-nonlinear.csv", x, y)


def tabular_raw_scales() -> str:
    """A diabetes-like regression: features on very different, unstandardized scales, and an offset target."""
    rng = np.random.default_rng(11)
    scales = np.array([0.05, 1.0, 3.0, 8.0, 0.5, 2.0])
    x = rng.normal(size=(500, 6)) * scales + np.array([0.0, 1.0, -2.0, 5.0, 0.0, 3.0])
    y = x @ np.array([3.0, -1.0, 0.5, 0.2, 1.0, -0.3]) + 2.0 + 0.3 * rng.normal(size=500)
    return _write_csv(data_dir() / "tabular-raw-scales.csv", x, y)


def friedman1(n: int = 1000, noise: float = 1.0) -> str:
    """Friedman's #1 regression (1991): 10 uniform features of which 5 matter, y = 10 sin(pi x0 x1) +
    20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise (y's spread about 5, so a val MSE near noise^2 is good)."""
    rng = np.random.default_rng(13)
    x = rng.uniform(size=(n, 10))
    y = (
        10 * np.sin(np.pi * x[:, 0] * x[:, 1])
        + 20 * (x[:, 2] - 0.5) ** 2
        + 10 * x[:, 3]
        + 5 * x[:, 4]
        + noise * rng.normal(size=n)
    )
    return _write_csv(data_dir() / f"friedman1-{n}-{noise:g}.csv", x, y)
