"""The dataset registry: every dataset through one contract, names and aliases, options, user factories."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import torch

from lrsweep.data import (
    COMMON_KEYS,
    DATASETS,
    Dataset,
    check_options,
    default_root,
    load_dataset,
    split,
)
from lrsweep.data.cifar_write import write_tarball
from lrsweep.data.idx import write_idx_files
from lrsweep.errors import ConfigError, DataError


def _fake_mirror(tmp_path, name):
    """A directory of small IDX files, reachable as a file:// mirror, and its md5 table."""
    rng = np.random.default_rng(0)
    folder = tmp_path / f"{name}-mirror"
    md5s = write_idx_files(
        folder,
        rng.integers(0, 256, (60, 28, 28)),
        np.arange(60) % 10,
        rng.integers(0, 256, (20, 28, 28)),
        np.arange(20) % 10,
    )
    return {"mirrors": [folder.as_uri() + "/"], "md5s": md5s}


def _fake_cifar(tmp_path, name):
    """A small CIFAR-format tarball, reachable as a file:// mirror, and its md5 table."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 3, 32, 32), dtype=np.uint8)
    labels = [np.arange(50) % 10] if name == "cifar10" else [np.arange(50) % 100, np.arange(50) % 20]
    path, md5 = write_tarball(
        tmp_path / f"{name}-mirror",
        name,
        (images[:40], *[lab[:40] for lab in labels]),
        (images[40:], *[lab[40:] for lab in labels]),
    )
    return {"mirrors": [path.parent.as_uri() + "/"], "md5s": {path.name: md5}}


def _small_options(name, tmp_path):
    """Small options that make each registered dataset load quickly and offline."""
    rng = np.random.default_rng(1)
    if name == "csv":
        path = tmp_path / "table.csv"
        rows = ["a,b,label"] + [f"{rng.normal():.3f},{rng.normal():.3f},{i % 3}" for i in range(40)]
        path.write_text("\n".join(rows) + "\n")
        return {"path": str(path), "target": "label"}
    if name == "npz":
        path = tmp_path / "arrays.npz"
        np.savez(path, x=rng.normal(size=(40, 5)), y=rng.normal(size=40))
        return {"path": str(path)}
    return {
        "mnist": lambda: _fake_mirror(tmp_path, name),
        "fashion-mnist": lambda: _fake_mirror(tmp_path, name),
        "cifar10": lambda: _fake_cifar(tmp_path, name),
        "cifar100": lambda: _fake_cifar(tmp_path, name),
        "mnist-sample": dict,
        "synthetic-regression": lambda: {"n_samples": 50, "n_test": 10, "n_features": 3},
        "synthetic-classification": lambda: {"n_samples": 60, "n_test": 15, "n_features": 4},
    }[name]()


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_meets_the_contract(name, tmp_path):
    ds = load_dataset(name, _small_options(name, tmp_path), root=tmp_path / "root")
    assert isinstance(ds, Dataset) and ds.task in ("classification", "regression")
    assert ds.train_x.dtype == ds.test_x.dtype == torch.float32
    assert ds.train_x.shape[1:] == ds.test_x.shape[1:] and ds.train_x.dim() >= 2
    assert len(ds.train_x) == len(ds.train_y) > 0 and len(ds.test_x) == len(ds.test_y) > 0
    if ds.task == "classification":
        assert ds.train_y.dtype == torch.int64 and ds.train_y.dim() == 1
        assert 0 <= int(ds.train_y.min()) and int(ds.train_y.max()) < ds.num_classes
    else:
        assert ds.num_classes is None and ds.train_y.dtype == torch.float32 and ds.train_y.dim() == 2
    assert torch.isfinite(ds.train_x).all()

    first, again, other = split(ds, 0.25, seed=3), split(ds, 0.25, seed=3), split(ds, 0.25, seed=4)
    assert torch.equal(first.val_x, again.val_x) and torch.equal(first.train_y, again.train_y)
    assert not torch.equal(first.val_x, other.val_x)
    assert first.sizes()["train"] + first.sizes()["val"] == len(ds.train_x)
    rows = {tuple(r.flatten().tolist()) for r in first.train_x}
    assert not any(tuple(r.flatten().tolist()) in rows for r in first.val_x)  # disjoint
    assert first.input_shape == tuple(ds.train_x.shape[1:])
    assert first.output_size == (ds.num_classes if ds.task == "classification" else ds.train_y.shape[1])


def test_mnist_variants_keep_their_own_folders(tmp_path):
    load_dataset("fmnist", _fake_mirror(tmp_path, "fashion-mnist"), root=tmp_path)
    assert (tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert not (tmp_path / "mnist").exists()


def test_unknown_dataset_lists_valid_names_and_suggests():
    with pytest.raises(ConfigError) as err:
        check_options("mnst", {})
    assert err.value.key == "data.name"
    assert "did you mean 'mnist'?" in str(err.value)
    assert "synthetic-regression" in str(err.value) and "npz" in str(err.value)


def test_aliases_resolve():
    assert DATASETS.canonical("fashion_mnist") == DATASETS.canonical("FMNIST") == "fashion-mnist"
    assert DATASETS.canonical("sample") == "mnist-sample"


def test_check_options_ignores_common_keys_and_rejects_typos():
    common = {k: None for k in COMMON_KEYS}
    assert check_options("synthetic-regression", {**common, "noise": 0.5}) == {"noise": 0.5}
    with pytest.raises(ConfigError, match="did you mean 'noise'") as err:
        check_options("synthetic-regression", {"nosie": 0.5})
    assert err.value.key == "data.nosie"


def test_csv_requires_path_and_target():
    with pytest.raises(ConfigError, match="missing required key.*path, target"):
        check_options("csv", {})


def test_default_root_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LRSWEEP_DATA", str(tmp_path / "data"))
    assert default_root() == tmp_path / "data"
    monkeypatch.delenv("LRSWEEP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "lrsweep"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_root() == tmp_path / ".cache" / "lrsweep"


# --- user factories ("package.module:function")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """An importable module of user dataset factories, good and bad."""
    (tmp_path / "my_factories.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import torch
            from lrsweep.data import Dataset

            def arrays(n=30, scale=1.0):
                x = np.random.default_rng(0).normal(size=(n, 4)) * scale
                return x, np.arange(n) % 4, x[:8], np.arange(8) % 4

            def tagged(n_samples="all", noise=-1.0, task="spam"):  # names the built-in datasets' rules check
                x = torch.zeros(6, 2)
                return x, torch.arange(6) % 2, x, torch.arange(6) % 2

            def regression(n=30):
                x = torch.randn(n, 2)
                return x, x.sum(1), x[:5], x[:5].sum(1)

            def with_root(root, download, n=12):
                x = torch.zeros(n, 3)
                y = torch.zeros(n, dtype=torch.int64)
                return Dataset(f"from {root.name}", x, y, x, y, "classification", 1)

            def wrong_type():
                return {"x": 1}

            def ragged():
                x, y = torch.zeros(5, 2), torch.zeros(4, dtype=torch.int64)
                return x, y, x[:2], y[:2]

            def bad_labels():
                x = torch.zeros(4, 2)
                y = torch.zeros(4, dtype=torch.int64)
                return Dataset("bad", x, torch.tensor([0, 1, 2, 5]), x, y, "classification", 3)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_factories"
    sys.modules.pop("my_factories", None)


def test_user_factory_tuple_infers_classification(user_module):
    ds = load_dataset(f"{user_module}:arrays", {"n": 20})
    assert ds.task == "classification" and ds.num_classes == 4 and ds.train_x.shape == (20, 4)
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert ds.name == f"{user_module}:arrays"


def test_user_factory_tuple_infers_regression(user_module):
    ds = load_dataset(f"{user_module}:regression", {})
    assert ds.task == "regression" and ds.num_classes is None and ds.train_y.shape == (30, 1)


def test_user_factory_receives_root_and_download_when_it_asks(user_module, tmp_path):
    ds = load_dataset(f"{user_module}:with_root", {"n": 5}, root=tmp_path / "here")
    assert ds.name == "from here" and len(ds.train_x) == 5


def test_user_factory_keeps_option_names_the_built_in_datasets_range_check(user_module):
    options = {"n_samples": "every row", "noise": -2.0, "task": "eggs"}  # out of range for synthetic-*, not here
    assert check_options(f"{user_module}:tagged", options) == options
    with pytest.raises(ConfigError, match="must be a string"):
        check_options(f"{user_module}:tagged", {"n_samples": 3})  # its own signature still holds


def test_user_factory_options_are_checked_against_its_signature(user_module):
    with pytest.raises(ConfigError, match="did you mean 'scale'") as err:
        check_options(f"{user_module}:arrays", {"scael": 2.0})
    assert err.value.key == "data.scael"
    with pytest.raises(ConfigError, match="cannot import module"):
        check_options("no_such_module_xyz:make", {})


@pytest.mark.parametrize(
    "factory, message",
    [
        ("wrong_type", "must return a Dataset or .*got dict"),
        ("ragged", "train_x has 5 rows, train_y has 4"),
        ("bad_labels", "labels span 0..5, outside 0..2"),
    ],
)
def test_malformed_user_datasets_are_refused(user_module, factory, message):
    with pytest.raises(DataError, match=message):
        load_dataset(f"{user_module}:{factory}", {})
