"""CIFAR-10 and CIFAR-100 from the canonical python-version tarballs (the pickled batches).

Layout: ``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/`` with ``data_batch_1`` .. ``_5``,
``test_batch`` and ``batches.meta``; ``cifar-100-python.tar.gz`` holds ``cifar-100-python/`` with
``train``, ``test`` and ``meta``. Each batch is a Python 2 pickle (protocol 2) of a dict: ``data``
(uint8 [N, 3072], the red, green and blue 32x32 planes of each image in turn), ``labels`` (CIFAR-10)
or ``fine_labels`` and ``coarse_labels`` (CIFAR-100), ``batch_label`` and ``filenames``.

The pickles are read by an unpickler that admits only the globals those files contain (numpy's array
reconstruction, ``ndarray`` and ``dtype``): any other global is refused before it is imported.
Images become float32 [N, 3, 32, 32], scaled to [0, 1] and normalised by the published per-channel
mean and std of each training set (fixed constants, as for MNIST, so every split is scaled alike).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrsweep.data.dataset import Dataset
from lrsweep.data.download import ensure_files
from lrsweep.errors import ConfigError, DataError

try:  # numpy >= 2 moved the module; pickles name the old path, which maps here
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    # The same function under its numpy 1.x path; mypy sees both imports and calls the second a redefinition.
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)  # the canonical (and only official) host
MAX_MEMBER_BYTES = 512 * 2**20  # larger than any real member (CIFAR-100 train: 155 MB); a bigger header is refused
IMAGE_SHAPE = (3, 32, 32)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One CIFAR tarball: where it lives, what it must contain, how its labels and pixels are read."""

    name: str  # dataset name, and the folder under the data root
    filename: str
    md5: str
    folder: str  # the directory inside the tarball
    train: tuple[str, ...]
    test: str
    meta: str
    labels: dict[str, tuple[str, int]]  # label option -> (pickle key, number of classes)
    mean: tuple[float, float, float]  # per channel, after scaling to [0, 1]
    std: tuple[float, float, float]

    @property
    def members(self) -> tuple[str, ...]:
        return (*self.train, self.test, self.meta)


# md5s as published on https://www.cs.toronto.edu/~kriz/cifar.html; stats of each training set.
CIFAR10 = Archive(
    "cifar10", "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta", {"fine": ("labels", 10)},
    (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
)  # fmt: skip
CIFAR100 = Archive(
    "cifar100", "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
    ("train",), "test", "meta", {"fine": ("fine_labels", 100), "coarse": ("coarse_labels", 20)},
    (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
)  # fmt: skip
ARCHIVES = {a.name: a for a in (CIFAR10, CIFAR100)}


# --- the restricted unpickler


class _BatchUnpickler(pickle.Unpickler):
    """Admits exactly the globals a CIFAR batch references; anything else is refused unimported."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR batch") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a CIFAR batch")


def read_batch(path: Path) -> dict:
    """Unpickle one CIFAR batch (or meta) file with the restricted unpickler; keys become ``str``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _BatchUnpickler(f, encoding="latin1").load()  # latin1: Python 2 byte strings, as written
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a malformed pickle raises, name the file
        raise DataError(f"{path}: not a CIFAR batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR batch (a {type(obj).__name__}, expected a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _images_and_labels(batch: dict, path: Path, label_key: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be uint8 [N, 3072], got {found}")
    if not isinstance(labels, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        raise DataError(f"{path}: '{label_key}' must be a list of integers")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels in '{label_key}'")
    array = np.asarray(labels, dtype=np.int64)
    if len(array) and (array.min() < 0 or array.max() >= n_classes):
        raise DataError(f"{path}: labels span {array.min()}..{array.max()}, outside 0..{n_classes - 1}")
    return data, array


def images_to_tensor(data: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 [N, 3072] -> float32 [N, 3, 32, 32], scaled to [0, 1] then normalised per channel."""
    x = torch.from_numpy(np.ascontiguousarray(data)).view(-1, *IMAGE_SHAPE).float().div_(255.0)
    return x.sub_(torch.tensor(mean).view(1, 3, 1, 1)).div_(torch.tensor(std).view(1, 3, 1, 1))


def dataset_from_folder(archive: Archive, folder: Path, label: str = "fine") -> Dataset:
    """The Dataset from an extracted CIFAR folder (the members of ``archive``)."""
    key, n_classes = archive.labels[label]
    parts = {}
    for split_name, members in (("train", archive.train), ("test", (archive.test,))):
        pairs = [_images_and_labels(read_batch(folder / m), folder / m, key, n_classes) for m in members]
        parts[split_name] = (np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    read_batch(folder / archive.meta)  # present and readable; its class names are not needed to train
    for split_name, (images, _labels) in parts.items():
        if len(images) == 0:
            raise DataError(f"{folder}: the {split_name} split holds no images")
    return Dataset(
        name=archive.name,
        train_x=images_to_tensor(parts["train"][0], archive.mean, archive.std),
        train_y=torch.from_numpy(parts["train"][1]),
        test_x=images_to_tensor(parts["test"][0], archive.mean, archive.std),
        test_y=torch.from_numpy(parts["test"][1]),
        task="classification",
        num_classes=n_classes,
    )


# --- the tarball: fetched, verified, extracted atomically


def extract(tarball: Path, directory: Path, archive: Archive) -> Path:
    """Extract the members ``archive`` needs into ``directory/archive.folder``; returns that folder.

    Only the expected regular files are written (no paths from the tarball are trusted), into a
    temporary sibling that is renamed into place once complete: the folder appears whole or not at all.
    A folder already complete is used as it is.
    """
    target = Path(directory) / archive.folder
    if _complete(target, archive):
        return target
    try:
        tmp = Path(tempfile.mkdtemp(dir=directory, prefix=f".{archive.folder}.", suffix=".part"))
    except OSError as exc:
        raise DataError(f"cannot write to {directory}: {exc}") from None
    try:
        _extract_members(tarball, tmp, archive)
        _install(tmp, target, archive)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _complete(folder: Path, archive: Archive) -> bool:
    return all((folder / m).is_file() for m in archive.members)


SIZES = (50_000, 10_000)  # train / test images, CIFAR-10 and CIFAR-100 alike


def missing_files(archive: Archive, root: Path) -> tuple[str, ...]:
    """What a run would download: the tarball, unless it or its extracted folder is already under ``root``."""
    directory = Path(root) / archive.name
    if _complete(directory / archive.folder, archive) or (directory / archive.filename).is_file():
        return ()
    return (archive.filename,)


def label_classes(archive: Archive, label: str) -> int:
    """The number of classes of ``label`` (``fine`` or, for CIFAR-100, ``coarse``)."""
    if label not in archive.labels:
        raise ConfigError(f"must be one of {', '.join(archive.labels)}, got {label!r}", key="data.label")
    return archive.labels[label][1]


def _extract_members(tarball: Path, out: Path, archive: Archive) -> None:
    wanted = {f"{archive.folder}/{m}": m for m in archive.members}
    found = set()
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for info in tar:
                member = wanted.get(info.name.removeprefix("./"))
                if member is None:
                    continue  # readme.html and the like
                if not info.isfile():
                    raise DataError(f"{tarball}: {info.name} is not a regular file")
                if info.size > MAX_MEMBER_BYTES:
                    raise DataError(f"{tarball}: {info.name} claims {info.size} bytes, more than any CIFAR file")
                _copy(tar.extractfile(info), out / member, info.size)
                found.add(member)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"{tarball}: corrupt or truncated tarball ({type(exc).__name__}: {exc}); delete it to download it again"
        ) from None
    missing = [m for m in archive.members if m not in found]
    if missing:
        raise DataError(f"{tarball}: missing {', '.join(f'{archive.folder}/{m}' for m in missing)}")


def _copy(source, dest: Path, size: int) -> None:
    """Copy exactly ``size`` bytes (what the tar header declares, already bounded)."""
    with source, open(dest, "wb") as out:
        left = size
        while left:
            chunk = source.read(min(_CHUNK, left))
            if not chunk:
                raise EOFError(f"{dest.name} ends early")
            out.write(chunk)
            left -= len(chunk)
        out.flush()
        os.fsync(out.fileno())


def _install(tmp: Path, target: Path, archive: Archive) -> None:
    """Rename the finished folder into place; a concurrent extraction that got there first wins."""
    if target.exists() and not _complete(target, archive):
        shutil.rmtree(target, ignore_errors=True)  # a folder left incomplete by hand
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if not _complete(target, archive):
            raise DataError(f"cannot create {target}: {exc}") from None


def _load(
    archive: Archive,
    root: Path,
    download: bool,
    mirrors: Sequence[str] | None,
    md5s: dict[str, str] | None,
    label: str,
) -> Dataset:
    label_classes(archive, label)
    unknown = sorted(set(md5s or {}) - {archive.filename})
    if unknown:
        raise ConfigError(f"unknown file(s) {', '.join(unknown)} (files: {archive.filename})", key="data.md5s")
    directory = Path(root) / archive.name
    folder = directory / archive.folder
    if not _complete(folder, archive):
        md5 = (md5s or {}).get(archive.filename, archive.md5)
        ensure_files(archive.name, directory, {archive.filename: md5}, mirrors or MIRRORS, download)
        folder = extract(directory / archive.filename, directory, archive)
    return dataset_from_folder(archive, folder, label)


def cifar10(
    root: Path, download: bool = True, mirrors: Sequence[str] | None = None, md5s: dict[str, str] | None = None
) -> Dataset:
    """CIFAR-10, 50,000 train / 10,000 test colour images, 32x32, 10 classes; kept in root/cifar10/.

    Args:
        mirrors: base URLs to try in turn (default: the Toronto host).
        md5s: expected md5 of the tarball by file name, replacing the official one (private mirrors).
    """
    return _load(CIFAR10, root, download, mirrors, md5s, "fine")


def cifar100(
    root: Path,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    md5s: dict[str, str] | None = None,
    label: str = "fine",
) -> Dataset:
    """CIFAR-100, 50,000 / 10,000 colour images, 32x32; kept in root/cifar100/.

    Args:
        label: ``fine`` (100 classes) or ``coarse`` (the 20 superclasses).
        mirrors: base URLs to try in turn (default: the Toronto host).
        md5s: expected md5 of the tarball by file name, replacing the official one (private mirrors).
    """
    return _load(CIFAR100, root, download, mirrors, md5s, label)
