"""IDX parsing and the IDX datasets read from disk (downloads are in test_data_download.py)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from lrsweep.data import idx
from lrsweep.data.idx import (
    FILES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    mnist,
    mnist_sample,
    parse_idx,
    read_idx,
    write_idx,
    write_idx_files,
)
from lrsweep.errors import DataError


def _fake_files(folder, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    return write_idx_files(
        folder,
        rng.integers(0, 256, (n_train, 28, 28)),
        np.arange(n_train) % 10,
        rng.integers(0, 256, (n_test, 28, 28)),
        np.arange(n_test) % 10,
    )


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_write_then_read_round_trips(tmp_path, suffix, dtype):
    array = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    back = read_idx(write_idx(tmp_path / f"a{suffix}", array))
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_header_is_the_mnist_layout(tmp_path):
    raw = gzip.decompress(write_idx(tmp_path / "l.gz", np.array([7, 1, 2], dtype=np.uint8)).read_bytes())
    assert raw == struct.pack(">II", LABELS_MAGIC, 3) + bytes([7, 1, 2])


def test_bad_magic_names_the_file(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(DataError, match=r"labels.gz: bad IDX magic 0x00000801, expected 0x00000803"):
        read_idx(path, magic=IMAGES_MAGIC)
    with pytest.raises(DataError, match="junk.bin: not an IDX file"):
        parse_idx(b"PK\x03\x04rest", "junk.bin")


def test_truncated_and_overlong_files_are_refused():
    header = struct.pack(">IIII", IMAGES_MAGIC, 2, 2, 2)
    with pytest.raises(DataError, match="f.idx: truncated: dimensions \\[2, 2, 2\\] need 8 data bytes, found 5"):
        parse_idx(header + bytes(5), "f.idx")
    with pytest.raises(DataError, match="too long"):
        parse_idx(header + bytes(9), "f.idx")
    with pytest.raises(DataError, match="truncated IDX header"):
        parse_idx(header[:10], "f.idx")
    with pytest.raises(DataError, match="f.gz: corrupt gzip data"):
        parse_idx(gzip.compress(header + bytes(8))[:-6], "f.gz")


def test_sample_is_4000_train_1000_test_ten_classes():
    ds = mnist_sample()
    assert ds.train_x.shape == (4000, 1, 28, 28) and ds.test_x.shape == (1000, 1, 28, 28)
    assert ds.num_classes == 10 and ds.name == "mnist-sample"
    assert torch.equal(ds.train_y.bincount(), torch.full((10,), 400))
    assert torch.equal(ds.test_y.bincount(), torch.full((10,), 100))
    # normalised with the MNIST statistics: close to zero mean, unit std
    assert abs(float(ds.train_x.mean())) < 0.05 and abs(float(ds.train_x.std()) - 1) < 0.05


def test_images_are_scaled_then_normalised(tmp_path):
    folder = tmp_path / "mnist"
    md5s = write_idx_files(
        folder,
        np.full((2, 28, 28), 255),
        [3, 4],
        np.zeros((1, 28, 28)),
        [9],
    )
    ds = mnist(tmp_path, download=False, md5s=md5s)
    mean, std = idx.MNIST_STATS
    assert torch.allclose(ds.train_x, torch.full((2, 1, 28, 28), (1 - mean) / std))
    assert torch.allclose(ds.test_x, torch.full((1, 1, 28, 28), -mean / std))
    assert ds.train_y.tolist() == [3, 4] and ds.test_y.tolist() == [9]


def test_missing_files_without_download_name_files_and_folder(tmp_path):
    md5s = _fake_files(tmp_path / "mnist")
    (tmp_path / "mnist" / FILES[3]).unlink()
    with pytest.raises(DataError) as err:
        mnist(tmp_path, download=False, md5s=md5s)
    assert FILES[3] in str(err.value) and FILES[0] not in str(err.value)
    assert str(tmp_path / "mnist") in str(err.value) and "download" in str(err.value)


def test_present_file_with_wrong_md5_is_refused(tmp_path):
    md5s = _fake_files(tmp_path / "mnist")
    with pytest.raises(DataError, match=f"{FILES[0]} has md5 {md5s[FILES[0]]}, expected 0+"):
        mnist(tmp_path, download=False, md5s={**md5s, FILES[0]: "0" * 32})


def test_image_and_label_counts_must_agree(tmp_path):
    folder = tmp_path / "mnist"
    md5s = _fake_files(folder)
    md5s.update(write_idx_files(folder, np.zeros((3, 28, 28)), [1, 2], np.zeros((1, 28, 28)), [0]))
    with pytest.raises(DataError, match="has 3 images but .*has 2 labels"):
        mnist(tmp_path, download=False, md5s=md5s)


def test_official_checksums_are_the_torchvision_ones():
    # Spot-check against torchvision.datasets.MNIST / FashionMNIST.resources.
    assert dict(zip(FILES, idx.MNIST_MD5))["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert dict(zip(FILES, idx.FASHION_MD5))["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
