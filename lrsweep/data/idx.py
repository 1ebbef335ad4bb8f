"""IDX files (the MNIST format) and the datasets stored in them: mnist, fashion-mnist, mnist-sample.

Layout: big-endian magic (two zero bytes, a type code, the number of dimensions), one big-endian
int32 per dimension, then the payload; usually gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from lrsweep.data.dataset import Dataset
from lrsweep.data.download import ensure_files
from lrsweep.errors import ConfigError, DataError

IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Mirrors and md5s as torchvision.datasets.MNIST / FashionMNIST list them.
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")  # fmt: skip
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_MD5 = ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
               "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")  # fmt: skip
# The bundled 5k sample (lrsweep/data/sample/README.md).
SAMPLE_MD5 = ("2c5a33043a383db47253af7c524dc87c", "a29ce3f310fa78c12383503b88061546",
              "6f01c1818f4e926e39ba5e4f38322b58", "8aa4602db16fd26561e750f67e4532e1")  # fmt: skip
MAX_IDX_BYTES = 1 << 30  # decompressed size an IDX file may declare; MNIST's largest is 47 MB
MNIST_STATS = (0.1307, 0.3081)  # pixel mean, std after scaling to [0, 1]
FASHION_STATS = (0.2860, 0.3530)


def gunzip_idx(raw: bytes, source: str) -> bytes:
    """Decompress gzip'd IDX bytes, never past the size its header declares (a gzip bomb stops there)."""
    stream = zlib.decompressobj(wbits=31)
    head = _inflate(stream, raw, 4)
    if len(head) < 4:
        return head  # parse_idx says it is truncated
    head += _inflate(stream, stream.unconsumed_tail, 4 * head[3])
    if len(head) < 4 + 4 * head[3]:
        return head
    dims = struct.unpack(f">{head[3]}I", head[4 : 4 + 4 * head[3]])
    size = len(head) + math.prod(dims) * np.dtype(_TYPES.get(head[2], ">u1")).itemsize
    if size > MAX_IDX_BYTES:
        raise DataError(
            f"{source}: its header declares {size} bytes (dimensions {list(dims)}), past the "
            f"{MAX_IDX_BYTES >> 20} MiB an IDX file may hold"
        )
    body = _inflate(stream, stream.unconsumed_tail, size - len(head) + 1)
    if len(head) + len(body) == size and not stream.eof:
        body += _inflate(stream, stream.unconsumed_tail, 1)  # the trailer (CRC, length), or more data
    if len(head) + len(body) > size:
        raise DataError(
            f"{source}: decompresses past the {size} bytes its header declares (dimensions "
            f"{list(dims)}): not an IDX file"
        )
    if not stream.eof:
        raise EOFError("the gzip stream ends before its end-of-stream marker")
    return head + body


def _inflate(stream, data: bytes, n: int) -> bytes:
    """Up to ``n`` more decompressed bytes."""
    out = b""
    while len(out) < n:
        piece = stream.decompress(data, n - len(out))
        data = stream.unconsumed_tail
        if not piece:
            break
        out += piece
    return out


def parse_idx(raw: bytes, source: str, magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes (gzip or plain) into an array; ``magic`` if given must match exactly.

    Raises:
        DataError: naming ``source``, for a bad gzip stream, a bad magic, or a wrong length.
    """
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gunzip_idx(raw, source)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{source}: corrupt gzip data ({exc})") from None
    if len(raw) < 4:
        raise DataError(f"{source}: truncated IDX file ({len(raw)} bytes)")
    (found,) = struct.unpack(">I", raw[:4])
    if magic is not None and found != magic:
        raise DataError(f"{source}: bad IDX magic 0x{found:08x}, expected 0x{magic:08x}")
    if found >> 16 or raw[2] not in _TYPES:
        raise DataError(f"{source}: not an IDX file (magic 0x{found:08x})")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DataError(f"{source}: truncated IDX header (needs {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_TYPES[raw[2]])
    count = math.prod(dims)
    expected, found_bytes = count * dtype.itemsize, len(raw) - header
    if found_bytes != expected:
        state = "truncated" if found_bytes < expected else "too long"
        raise DataError(f"{source}: {state}: dimensions {list(dims)} need {expected} data bytes, found {found_bytes}")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)  # native order; no copy for uint8


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or plain); errors name the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_idx(raw, str(path), magic)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed (deterministically) if ``path`` ends in .gz."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"IDX cannot store dtype {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", (code << 8) | array.ndim, *array.shape)
    raw = header + array.astype(np.dtype(_TYPES[code]), copy=False).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


def write_idx_files(directory: Path, train_images, train_labels, test_images, test_labels) -> dict[str, str]:
    """Write uint8 arrays as the four MNIST-layout files in ``directory``; returns {file name: md5}.

    For a private mirror or a test: serve the directory, pass its URL as ``mirrors`` and the
    returned table as ``md5s`` to ``mnist`` / ``fashion-mnist``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (train_images, train_labels, test_images, test_labels)
    md5s = {}
    for filename, array in zip(FILES, arrays):
        path = write_idx(directory / filename, np.asarray(array, dtype=np.uint8))
        md5s[filename] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5s


def images_to_tensor(images: np.ndarray, stats: tuple[float, float]) -> torch.Tensor:
    """uint8 [N, H, W] -> float32 [N, 1, H, W], scaled to [0, 1] then normalised by (mean, std)."""
    mean, std = stats
    x = torch.from_numpy(images.astype(np.float32))
    return x.div_(255.0).sub_(mean).div_(std).unsqueeze(1)


def dataset_from_idx(name: str, raws: Sequence[bytes], sources: Sequence[str], stats: tuple[float, float]) -> Dataset:
    """A 10-class image Dataset from the bytes of the four files, in :data:`FILES` order."""
    magics = (IMAGES_MAGIC, LABELS_MAGIC, IMAGES_MAGIC, LABELS_MAGIC)
    arrays = [parse_idx(raw, src, magic) for raw, src, magic in zip(raws, sources, magics)]
    for (images, labels), (img_src, lbl_src) in ((arrays[:2], sources[:2]), (arrays[2:], sources[2:])):
        if len(images) != len(labels):
            raise DataError(f"{img_src} has {len(images)} images but {lbl_src} has {len(labels)} labels")
    return Dataset(
        name=name,
        train_x=images_to_tensor(arrays[0], stats),
        train_y=torch.from_numpy(arrays[1].astype(np.int64)),
        test_x=images_to_tensor(arrays[2], stats),
        test_y=torch.from_numpy(arrays[3].astype(np.int64)),
        task="classification",
        num_classes=10,
    )


def _from_directory(
    name: str,
    directory: Path,
    official_md5: Sequence[str],
    md5s: dict[str, str] | None,
    mirrors: Sequence[str],
    download: bool,
    stats: tuple[float, float],
) -> Dataset:
    table = dict(zip(FILES, official_md5))
    unknown = sorted(set(md5s or {}) - set(FILES))
    if unknown:
        raise ConfigError(f"unknown file(s) {', '.join(unknown)} (files: {', '.join(FILES)})", key="data.md5s")
    table.update(md5s or {})
    ensure_files(name, directory, table, mirrors, download)
    paths = [directory / f for f in FILES]
    return dataset_from_idx(name, [p.read_bytes() for p in paths], [str(p) for p in paths], stats)


IDX_SIZES = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000)}  # train / test rows of each


def remote_files(name: str, root: Path) -> tuple[Path, tuple[str, ...]]:
    """Where ``mnist`` / ``fashion-mnist`` keep their files under ``root``, and the file names."""
    return Path(root) / name, FILES


def mnist(
    root: Path, download: bool = True, mirrors: Sequence[str] | None = None, md5s: dict[str, str] | None = None
) -> Dataset:
    """MNIST digits, 60,000 train / 10,000 test, 28x28, 10 classes; kept in root/mnist/.

    Args:
        mirrors: base URLs to try in turn (default: torchvision's MNIST mirrors).
        md5s: expected md5 per file name, replacing the official ones (for private mirrors).
    """
    return _from_directory(
        "mnist", Path(root) / "mnist", MNIST_MD5, md5s, mirrors or MNIST_MIRRORS, download, MNIST_STATS
    )


def fashion_mnist(
    root: Path, download: bool = True, mirrors: Sequence[str] | None = None, md5s: dict[str, str] | None = None
) -> Dataset:
    """Fashion-MNIST clothing images, 60,000 / 10,000, 28x28, 10 classes; kept in root/fashion-mnist/.

    Args:
        mirrors: base URLs to try in turn (default: Zalando's S3 bucket).
        md5s: expected md5 per file name, replacing the official ones (for private mirrors).
    """
    return _from_directory(
        "fashion-mnist", Path(root) / "fashion-mnist", FASHION_MD5, md5s, mirrors or FASHION_MIRRORS, download,
        FASHION_STATS,
    )  # fmt: skip


def mnist_sample(root: Path | None = None, download: bool = False) -> Dataset:
    """5,000 real MNIST digits bundled with lrsweep (4,000 train / 1,000 test, 10 classes); no network."""
    folder = resources.files("lrsweep.data").joinpath("sample")
    raws, sources = [], []
    for filename, md5 in zip(FILES, SAMPLE_MD5):
        source = f"lrsweep/data/sample/{filename}"
        try:
            raw = folder.joinpath(filename).read_bytes()
        except OSError:
            raise DataError(f"bundled sample file {source} is missing; reinstall lrsweep") from None
        if hashlib.md5(raw).hexdigest() != md5:
            raise DataError(f"bundled sample file {source} is corrupt (md5 mismatch); reinstall lrsweep")
        raws.append(raw)
        sources.append(source)
    return dataset_from_idx("mnist-sample", raws, sources, MNIST_STATS)
