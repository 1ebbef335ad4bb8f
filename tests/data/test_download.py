"""Downloads against a local HTTP server on 127.0.0.1 that the tests start themselves."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
from helpers import FileServer

from lrsweep.data import load_dataset
from lrsweep.data.download import ensure_files, fetch
from lrsweep.data.idx import FILES, write_idx_files
from lrsweep.errors import DataError, DownloadError

PAYLOAD = b"the real file\n" * 100
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (a port just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_downloads_and_verifies(tmp_path):
    with FileServer({"/m/data.bin": PAYLOAD}) as server:
        dest = fetch([f"{server.url}/m/data.bin"], tmp_path / "d" / "data.bin", PAYLOAD_MD5, timeout=5)
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path / "d") == ["data.bin"]  # no temporary file left


def test_corrupt_file_is_a_checksum_error_and_leaves_nothing(tmp_path):
    with FileServer({"/data.bin": PAYLOAD[:-1] + b"X"}) as server:
        with pytest.raises(DownloadError) as err:
            fetch([f"{server.url}/data.bin"], tmp_path / "data.bin", PAYLOAD_MD5, timeout=5)
    message = str(err.value)
    assert f"expected md5 {PAYLOAD_MD5}, got {hashlib.md5(PAYLOAD[:-1] + b'X').hexdigest()}" in message
    assert f"{server.url}/data.bin" in message
    assert _leftovers(tmp_path) == []


def test_first_mirror_404_falls_back_to_the_second(tmp_path):
    with FileServer({"/second/data.bin": PAYLOAD}) as server:
        urls = [f"{server.url}/first/data.bin", f"{server.url}/second/data.bin"]
        fetch(urls, tmp_path / "data.bin", PAYLOAD_MD5, timeout=5)
    assert server.requests == ["/first/data.bin", "/second/data.bin"]
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_corrupt_first_mirror_falls_back_to_a_good_one(tmp_path):
    with FileServer({"/bad/data.bin": b"garbage", "/good/data.bin": PAYLOAD}) as server:
        fetch([f"{server.url}/bad/data.bin", f"{server.url}/good/data.bin"], tmp_path / "data.bin", PAYLOAD_MD5)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_server_down_lists_every_url_with_its_error(tmp_path, closed_port_url):
    with FileServer({}) as server:
        urls = [f"{closed_port_url}/data.bin", f"{server.url}/data.bin"]
        with pytest.raises(DownloadError) as err:
            fetch(urls, tmp_path / "data.bin", PAYLOAD_MD5, timeout=5)
    message = str(err.value)
    assert f"{closed_port_url}/data.bin: " in message and "refused" in message.lower()
    assert f"{server.url}/data.bin: HTTP 404" in message
    assert _leftovers(tmp_path) == []


def test_malformed_url_is_reported_not_raised(tmp_path):
    with pytest.raises(DownloadError, match="not-a-url: ValueError: unknown url type"):
        fetch(["not-a-url"], tmp_path / "data.bin", None)
    assert _leftovers(tmp_path) == []


def test_existing_file_is_not_fetched_again(tmp_path):
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    with FileServer({}) as server:
        ensure_files("thing", tmp_path, {"data.bin": PAYLOAD_MD5}, [server.url], download=True)
    assert server.requests == []


def _fake_mnist(folder):
    rng = np.random.default_rng(0)
    return write_idx_files(
        folder,
        rng.integers(0, 256, (40, 28, 28)),
        np.arange(40) % 10,
        rng.integers(0, 256, (10, 28, 28)),
        np.arange(10) % 10,
    )


def test_mnist_downloads_from_a_mirror_then_loads_offline(tmp_path):
    md5s = _fake_mnist(tmp_path / "served")
    files = {f"/mnist/{name}": (tmp_path / "served" / name).read_bytes() for name in FILES}
    with FileServer(files) as server:
        options = {"mirrors": [f"{server.url}/missing/", f"{server.url}/mnist/"], "md5s": md5s}
        ds = load_dataset("mnist", options, root=tmp_path / "root")
    assert ds.train_x.shape == (40, 1, 28, 28) and ds.test_y.shape == (10,)
    assert _leftovers(tmp_path / "root" / "mnist") == sorted(FILES)
    again = load_dataset("mnist", options, root=tmp_path / "root", download=False)  # server gone
    assert np.array_equal(again.train_x.numpy(), ds.train_x.numpy())


def test_mnist_offline_error_says_where_to_put_the_files(tmp_path, closed_port_url):
    with pytest.raises(DownloadError) as err:
        load_dataset("mnist", {"mirrors": [closed_port_url + "/a/", closed_port_url + "/b"]}, root=tmp_path)
    message = str(err.value)
    assert all(name in message for name in FILES)
    assert f"{closed_port_url}/a/{FILES[0]}: " in message and f"{closed_port_url}/b/{FILES[0]}: " in message
    assert f"put these files in {tmp_path / 'mnist'}/" in message
    assert _leftovers(tmp_path / "mnist") == []


def test_mnist_checksum_mismatch_from_mirror(tmp_path):
    md5s = _fake_mnist(tmp_path / "served")
    files = {f"/{name}": (tmp_path / "served" / name).read_bytes() for name in FILES}
    with FileServer(files) as server:
        with pytest.raises(DownloadError, match="checksum mismatch: expected md5 f68b3c2d"):
            load_dataset("mnist", {"mirrors": [server.url]}, root=tmp_path / "root")  # official md5s
    assert _leftovers(tmp_path / "root" / "mnist") == []
    assert md5s[FILES[0]] != "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def test_no_download_means_no_request(tmp_path):
    with FileServer({}) as server:
        with pytest.raises(DataError, match="missing"):
            load_dataset("fashion-mnist", {"mirrors": [server.url]}, root=tmp_path, download=False)
    assert server.requests == []
