"""Download faults against servers on 127.0.0.1 the tests start: a mirror that drips, stale partial files,
a gzip bomb with a matching md5, SIGTERM mid-download."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest
import yaml
from helpers import ROOT

import lrsweep.data.download as download
from lrsweep.data.download import fetch, remove_stale_parts
from lrsweep.data.idx import FILES, MAX_IDX_BYTES, parse_idx
from lrsweep.errors import DataError, DownloadError


class _Drip:
    """Promises a megabyte and sends one byte every ``every`` seconds, forever."""

    def __init__(self, every: float = 0.05):
        self.every, self.stop = every, threading.Event()
        drip = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                try:
                    while not drip.stop.wait(drip.every):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_dripping_mirror_is_abandoned_at_the_files_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "DEADLINE_S", 1.0)
    with _Drip() as server:
        started = time.monotonic()
        with pytest.raises(DownloadError, match="abandoned: not complete after 1s"):
            fetch([f"{server.url}/data.bin"], tmp_path / "data.bin", None, timeout=5)
        assert time.monotonic() - started < 4  # before: never (each byte came within the read timeout)
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_files_are_removed_live_ones_kept(tmp_path):
    dest = tmp_path / "data.bin"
    stale, live, other = (
        tmp_path / ".data.bin.old1.part",
        tmp_path / ".data.bin.new1.part",
        tmp_path / ".other.bin.old.part",
    )
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert remove_stale_parts(dest, older_than=600) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_fetch_cleans_stale_parts_of_its_file(tmp_path, monkeypatch):
    stale = tmp_path / ".data.bin.x.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    with pytest.raises(DownloadError):
        fetch(["not-a-url"], tmp_path / "data.bin", None)
    assert not stale.exists()


def _idx_header(dims):
    return struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims)


def test_a_gzip_bomb_stops_at_the_size_its_header_declares():
    bomb = gzip.compress(_idx_header([100]) + bytes(100) + bytes(200 << 20))  # 200 MiB past the declared 100
    assert len(bomb) < 1 << 20
    started = time.monotonic()
    with pytest.raises(DataError, match=r"decompresses past the 108 bytes its header declares"):
        parse_idx(bomb, "bomb.gz")
    assert time.monotonic() - started < 2  # it stopped; it did not inflate 200 MiB
    honest = gzip.compress(_idx_header([3]) + b"\x01\x02\x03")
    assert parse_idx(honest, "ok.gz").tolist() == [1, 2, 3]


def test_a_header_declaring_too_much_is_refused_before_inflating():
    huge = gzip.compress(_idx_header([1 << 16, 1 << 16]) + bytes(10))
    with pytest.raises(DataError, match=f"past the {MAX_IDX_BYTES >> 20} MiB"):
        parse_idx(huge, "huge.gz")


def test_sigterm_during_a_download_exits_130_and_leaves_no_part_file(tmp_path):
    root = tmp_path / "data"
    with _Drip(every=0.2) as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "name": "dl",
                    "device": "cpu",
                    "lr": [0.1],
                    "train": {"epochs": 1},
                    "model": {"name": "linear"},
                    "data": {
                        "name": "mnist",
                        "root": str(root),
                        "mirrors": [server.url],
                        "md5s": {name: hashlib.md5(b"").hexdigest() for name in FILES},
                    },
                }
            )
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "lrsweep", "grid", str(config), "--out", str(tmp_path / "runs")],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not list(root.rglob("*.part")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert list(root.rglob("*.part")), "the download never started"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert list(root.rglob("*.part")) == []
