"""Write CIFAR-format tarballs: for a private mirror, a test, or a benchmark on CIFAR-shaped data.

The batches are written as the originals were: Python 2 pickles, protocol 2, byte-string keys and
values, the image array as numpy's ``_reconstruct`` + ``ndarray`` + ``dtype`` globals. Python 3's
pickler cannot do that itself (it writes ``bytes`` through ``_codecs.encode``), so the opcodes are
emitted here directly.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.data.cifar import ARCHIVES, Archive

_BATCH = 1000  # items per MARK ... APPENDS / SETITEMS, as Python 2's cPickle batches them


def _string(s: str | bytes) -> bytes:
    raw = s.encode("latin1") if isinstance(s, str) else s
    if len(raw) < 256:
        return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(raw)) + raw  # BINSTRING


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])  # BININT1
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)  # BININT2
    return b"J" + struct.pack("<i", v)  # BININT


def _array(a: np.ndarray) -> bytes:
    """A uint8 ndarray as numpy (of the Python 2 era) pickled it."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    dtype = b"cnumpy\ndtype\n" + _string("u1") + _int(0) + _int(1) + b"\x87R"  # dtype('u1', 0, 1)
    dtype += b"(" + _int(3) + _string("|") + b"NNN" + _int(-1) + _int(-1) + _int(0) + b"tb"
    shape = b"(" + b"".join(_int(d) for d in a.shape) + b"t"
    head = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _int(0) + b"\x85" + _string("b") + b"\x87R"
    return head + b"(" + _int(1) + shape + dtype + b"\x89" + _string(a.tobytes()) + b"tb"


def _value(v: Any) -> bytes:
    if isinstance(v, np.ndarray):
        return _array(v)
    if isinstance(v, (str, bytes)):
        return _string(v)
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, list):
        out = b"]"
        for i in range(0, len(v), _BATCH):
            out += b"(" + b"".join(_value(x) for x in v[i : i + _BATCH]) + b"e"
        return out
    raise TypeError(f"cannot write {type(v).__name__} in a CIFAR batch")


def python2_pickle(obj: dict) -> bytes:
    """A dict of str keys -> str / int / list / uint8 ndarray, as Python 2 pickled it (protocol 2)."""
    items = list(obj.items())
    out = b"\x80\x02}"
    for i in range(0, len(items), _BATCH):
        out += b"(" + b"".join(_string(k) + _value(v) for k, v in items[i : i + _BATCH]) + b"u"
    return out + b"."


def _batches(archive: Archive, train: tuple, test: tuple) -> dict[str, dict]:
    """Member name -> the dict pickled in it, the training images spread over the training members."""
    (train_x, *train_labels), (test_x, *test_labels) = train, test
    keys = [key for key, _n in archive.labels.values()]
    parts = np.array_split(np.arange(len(train_x)), len(archive.train))
    members = {}
    for i, (member, rows) in enumerate(zip(archive.train, parts)):
        members[member] = _batch(
            f"training batch {i + 1} of {len(archive.train)}",
            train_x[rows],
            {k: lab[rows] for k, lab in zip(keys, train_labels)},
        )
    members[archive.test] = _batch("testing batch 1 of 1", test_x, dict(zip(keys, test_labels)))
    if archive.name == "cifar10":
        names = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": len(parts[0]), "num_vis": 3072}
    else:
        names = {
            "fine_label_names": [f"fine{i}" for i in range(100)],
            "coarse_label_names": [f"coarse{i}" for i in range(20)],
        }
    members[archive.meta] = names
    return members


def _batch(label: str, images: np.ndarray, labels: dict[str, np.ndarray]) -> dict:
    images = np.asarray(images, dtype=np.uint8).reshape(len(images), 3072)
    batch: dict[str, Any] = {"batch_label": label}
    batch.update({k: [int(v) for v in lab] for k, lab in labels.items()})
    batch["data"] = images
    batch["filenames"] = [f"image_{i:05d}.png" for i in range(len(images))]
    return batch


def write_tarball(directory: Path, name: str, train: tuple, test: tuple) -> tuple[Path, str]:
    """Write ``name``'s tarball (``cifar10`` or ``cifar100``) into ``directory``; returns (path, md5).

    Args:
        train, test: ``(images, labels)`` for CIFAR-10, ``(images, fine, coarse)`` for CIFAR-100; images
            uint8 [N, 3, 32, 32] (or [N, 3072]), labels integer arrays [N].
    """
    archive = ARCHIVES[name]
    path = Path(directory) / archive.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add(tar, archive.folder, None)
        for member, obj in _batches(archive, train, test).items():
            _add(tar, f"{archive.folder}/{member}", python2_pickle(obj))
        _add(tar, f"{archive.folder}/readme.html", b"<html>CIFAR-format test data</html>\n")
    path.write_bytes(buffer.getvalue())
    return path, hashlib.md5(buffer.getvalue()).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
