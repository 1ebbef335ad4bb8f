"""CIFAR-10/100: the reader, the restricted unpickler, download and extraction, on small tarballs in the
exact format (Python 2 protocol-2 pickles) served from 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, FileServer

from lrsweep.cli import app
from lrsweep.data import cifar, load_dataset, split
from lrsweep.data.cifar import CIFAR10, CIFAR100, read_batch
from lrsweep.data.cifar_write import python2_pickle, write_tarball
from lrsweep.errors import ConfigError, DataError, DownloadError


def _images(rng, n):
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


@pytest.fixture
def cifar10_tarball(tmp_path, monkeypatch):
    """A 60/20-image CIFAR-10 tarball; the module's table points at its md5 and at a local server."""
    rng = np.random.default_rng(0)
    train, test = (_images(rng, 60), np.arange(60) % 10), (_images(rng, 20), np.arange(20) % 10)
    path, md5 = write_tarball(tmp_path / "served", "cifar10", train, test)
    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(CIFAR10, md5=md5))
    return path, train, test


def _serve(monkeypatch, body: bytes, name: str = CIFAR10.filename):
    server = FileServer({f"/kriz/{name}": body})
    monkeypatch.setattr(cifar, "MIRRORS", (server.url + "/missing/", server.url + "/kriz/"))
    return server


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_downloads_verifies_extracts_and_reads_the_exact_pixels(tmp_path, monkeypatch, cifar10_tarball):
    path, (train_x, train_y), (test_x, test_y) = cifar10_tarball
    with _serve(monkeypatch, path.read_bytes()) as server:
        ds = load_dataset("cifar10", {}, root=tmp_path / "root")
    assert server.requests == [f"/missing/{CIFAR10.filename}", f"/kriz/{CIFAR10.filename}"]  # mirrors in turn
    assert ds.train_x.shape == (60, 3, 32, 32) and ds.test_x.shape == (20, 3, 32, 32) and ds.num_classes == 10
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert torch.equal(ds.train_y, torch.from_numpy(train_y)) and torch.equal(ds.test_y, torch.from_numpy(test_y))
    mean, std = torch.tensor(CIFAR10.mean).view(1, 3, 1, 1), torch.tensor(CIFAR10.std).view(1, 3, 1, 1)
    pixels = (ds.train_x * std + mean) * 255  # undo the documented scaling: the original bytes, plane by plane
    assert torch.allclose(pixels, torch.from_numpy(train_x).float(), atol=1e-3)
    folder = tmp_path / "root" / "cifar10"
    assert _leftovers(folder) == sorted([CIFAR10.filename, CIFAR10.folder])  # no .part file or temp folder left
    assert _leftovers(folder / CIFAR10.folder) == sorted(CIFAR10.members)  # readme.html not extracted


def test_extracted_folder_is_read_offline_without_the_tarball(tmp_path, monkeypatch, cifar10_tarball):
    path = cifar10_tarball[0]
    with _serve(monkeypatch, path.read_bytes()):
        first = load_dataset("cifar10", {}, root=tmp_path)
    (tmp_path / "cifar10" / CIFAR10.filename).unlink()
    again = load_dataset("cifar10", {}, root=tmp_path, download=False)
    assert torch.equal(first.train_x, again.train_x)


def test_corrupt_download_is_a_checksum_error_and_leaves_nothing(tmp_path, monkeypatch, cifar10_tarball):
    body = bytearray(cifar10_tarball[0].read_bytes())
    body[len(body) // 2] ^= 0xFF
    with _serve(monkeypatch, bytes(body)):
        with pytest.raises(DownloadError, match=f"checksum mismatch: expected md5 {cifar.CIFAR10.md5}"):
            load_dataset("cifar10", {}, root=tmp_path)
    assert _leftovers(tmp_path / "cifar10") == []


def test_truncated_download_is_refused(tmp_path, monkeypatch, cifar10_tarball):
    body = cifar10_tarball[0].read_bytes()
    with _serve(monkeypatch, body[: len(body) // 2]):
        with pytest.raises(DownloadError, match="checksum mismatch"):
            load_dataset("cifar10", {}, root=tmp_path)
    assert _leftovers(tmp_path / "cifar10") == []


def test_truncated_tarball_with_a_matching_md5_is_a_data_error_and_extracts_nothing(
    tmp_path, monkeypatch, cifar10_tarball
):
    body = cifar10_tarball[0].read_bytes()[:-2000]
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / CIFAR10.filename).write_bytes(body)
    md5s = {CIFAR10.filename: hashlib.md5(body).hexdigest()}
    with pytest.raises(DataError, match="corrupt or truncated tarball"):
        load_dataset("cifar10", {"md5s": md5s}, root=tmp_path, download=False)
    assert _leftovers(tmp_path / "cifar10") == [CIFAR10.filename]  # no half-extracted folder


def test_server_down_is_a_clear_error_naming_the_urls_and_the_folder(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(cifar, "MIRRORS", (f"http://127.0.0.1:{port}/kriz/",))
    with pytest.raises(DownloadError) as err:
        load_dataset("cifar10", {}, root=tmp_path)
    message = str(err.value)
    assert f"http://127.0.0.1:{port}/kriz/{CIFAR10.filename}: " in message
    assert f"put these files in {tmp_path / 'cifar10'}/" in message


def test_offline_without_download_says_what_is_missing(tmp_path):
    with pytest.raises(DataError, match=f"missing {CIFAR10.filename}"):
        load_dataset("cifar10", {}, root=tmp_path, download=False)


def test_cifar100_fine_and_coarse_labels(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    train = (_images(rng, 30), np.arange(30) % 100, np.arange(30) % 20)
    test = (_images(rng, 10), np.arange(10) + 50, np.arange(10) % 20)
    path, md5 = write_tarball(tmp_path / "served", "cifar100", train, test)
    options = {"mirrors": [(tmp_path / "served").as_uri() + "/"], "md5s": {CIFAR100.filename: md5}}
    fine = load_dataset("cifar100", options, root=tmp_path)
    coarse = load_dataset("cifar100", {**options, "label": "coarse"}, root=tmp_path)
    assert fine.num_classes == 100 and coarse.num_classes == 20
    assert torch.equal(fine.test_y, torch.arange(10) + 50) and torch.equal(coarse.train_y, torch.arange(30) % 20)
    assert torch.equal(fine.train_x, coarse.train_x)
    with pytest.raises(ConfigError, match="data.label: must be one of fine, coarse, got 'superclass'"):
        load_dataset("cifar100", {**options, "label": "superclass"}, root=tmp_path)


def test_the_split_is_seeded_as_for_every_dataset(tmp_path, monkeypatch, cifar10_tarball):
    with _serve(monkeypatch, cifar10_tarball[0].read_bytes()):
        ds = load_dataset("cifar10", {}, root=tmp_path)
    a, b = split(ds, 0.2, seed=0), split(ds, 0.2, seed=0)
    assert a.input_shape == (3, 32, 32) and a.sizes() == {"train": 48, "val": 12, "test": 20}
    assert torch.equal(a.val_x, b.val_x)


# --- the restricted unpickler


def _write(tmp_path, raw: bytes):
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    return path


def test_reader_accepts_python2_pickles_and_python3_protocols_3_and_4(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251
    batch = {"batch_label": "b", "labels": [1, 2], "data": data, "filenames": ["a.png", "b.png"]}
    for raw in (python2_pickle(batch), pickle.dumps(batch, protocol=3), pickle.dumps(batch, protocol=4)):
        got = read_batch(_write(tmp_path, raw))
        assert got["labels"] == [1, 2] and got["filenames"] == ["a.png", "b.png"]
        assert np.array_equal(got["data"], data) and got["data"].dtype == np.uint8


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_reader_refuses_any_other_global_before_importing_it(tmp_path, capsys):
    path = _write(tmp_path, pickle.dumps({"data": _Evil()}, protocol=4))
    with pytest.raises(DataError, match="global 'builtins.print' is not allowed in a CIFAR batch"):
        read_batch(path)
    assert "pwned" not in capsys.readouterr().out
    os_system = b"\x80\x02cposix\nsystem\nU\x04trueq\x85R."
    with pytest.raises(DataError, match="global 'posix.system' is not allowed"):
        read_batch(_write(tmp_path, os_system))


@pytest.mark.parametrize("raw, message", [
    (b"not a pickle", "not a CIFAR batch"),
    (pickle.dumps([1, 2, 3]), "a list, expected a dict"),
])  # fmt: skip
def test_reader_names_the_file_for_garbage(tmp_path, raw, message):
    with pytest.raises(DataError, match=message) as err:
        read_batch(_write(tmp_path, raw))
    assert str(tmp_path / "data_batch_1") in str(err.value)


def test_wrong_shapes_and_labels_are_refused_naming_the_member(tmp_path, monkeypatch, cifar10_tarball):
    folder = tmp_path / "cifar10" / CIFAR10.folder
    with _serve(monkeypatch, cifar10_tarball[0].read_bytes()):
        load_dataset("cifar10", {}, root=tmp_path)
    bad = {"batch_label": "x", "labels": [10], "data": np.zeros((1, 3072), np.uint8), "filenames": ["a"]}
    (folder / "data_batch_3").write_bytes(python2_pickle(bad))
    with pytest.raises(DataError, match=r"data_batch_3: labels span 10\.\.10, outside 0\.\.9"):
        load_dataset("cifar10", {}, root=tmp_path)
    (folder / "data_batch_3").write_bytes(python2_pickle({**bad, "labels": [1], "data": np.zeros((1, 100), np.uint8)}))
    with pytest.raises(DataError, match=r"data_batch_3: 'data' must be uint8 \[N, 3072\], got uint8 \[1, 100\]"):
        load_dataset("cifar10", {}, root=tmp_path)


def test_a_sweep_runs_end_to_end_on_a_cifar_format_data_root(
    tmp_path, monkeypatch, cifar10_tarball, runner, write_config
):
    root = tmp_path / "data"
    (root / "cifar10").mkdir(parents=True)
    (root / "cifar10" / CIFAR10.filename).write_bytes(cifar10_tarball[0].read_bytes())  # placed by hand
    monkeypatch.setenv("LRSWEEP_DATA", str(root))
    raw = {
        "name": "c10",
        "seed": 0,
        "device": "cpu",
        "lr": [0.01, 0.1],
        "train": {"epochs": 1},
        "data": {
            "name": "cifar10",
            "download": False,
            "val_fraction": 0.2,
            "batch_size": 16,
            "augment": {"crop": 4, "flip": True},
        },
        "model": {"name": "cnn", "channels": [4], "hidden": [16]},
    }
    result = runner.invoke(app, ["grid", str(write_config(raw)), "--json", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [r["status"] for r in summary["variants"]] == ["done", "done"]
    assert summary["retrain"]["test_acc"] is not None


def test_the_bundled_cifar10_config_runs_end_to_end_on_a_generated_data_root(
    tmp_path, monkeypatch, cifar10_tarball, runner
):
    """configs/cifar10.yaml as written (ResNet-20, crop+flip, OneCycle per step, precision auto), one epoch."""
    root = tmp_path / "data"
    (root / "cifar10").mkdir(parents=True)
    (root / "cifar10" / CIFAR10.filename).write_bytes(cifar10_tarball[0].read_bytes())
    monkeypatch.setenv("LRSWEEP_DATA", str(root))
    config = ROOT / "configs" / "cifar10.yaml"
    result = runner.invoke(
        app,
        [
            "grid",
            str(config),
            "--json",
            "--out",
            str(tmp_path / "runs"),
            "--device",
            "cpu",
            "--set",
            "train.epochs=1",
            "--set",
            "lr=[0.05, 0.2]",
            "--set",
            "data.batch_size=16",
            "--set",
            "data.download=false",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [r["status"] for r in summary["variants"]] == ["done", "done"]
    assert summary["retrain"]["test_acc"] is not None
    assert (Path(summary["run_dir"]) / "retrain" / "model.pt").is_file()
