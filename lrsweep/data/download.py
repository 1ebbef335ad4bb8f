"""Fetch files from a list of mirrors: md5-verified, written atomically, never left half-written."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from lrsweep._version import __version__
from lrsweep.errors import DataError, DownloadError

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0  # per connection attempt and per read; a stalled mirror is abandoned after this
DEADLINE_S = 900.0  # per file and mirror, all reads together: a mirror that drips bytes is abandoned after this
_CHUNK = 1 << 20


class _Failure(Exception):
    """One URL did not give the file; the message says why."""


def md5_of(path: Path) -> str:
    """The hex md5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def urls_for(filename: str, mirrors: Sequence[str]) -> list[str]:
    """``mirror/filename`` for each mirror, in order."""
    return [mirror.rstrip("/") + "/" + filename for mirror in mirrors]


def fetch(urls: Sequence[str], dest: Path, md5: str | None, timeout: float = TIMEOUT_S) -> Path:
    """Download ``dest`` from the first of ``urls`` that serves it with the expected md5.

    Args:
        urls: where to try, in order; a failure or a checksum mismatch moves on to the next.
        dest: the final path; written via a temporary file in the same directory and ``os.replace``,
            so it either appears complete and verified or not at all.
        md5: the expected hex md5, or None to accept whatever arrives.
        timeout: seconds before a silent connection is abandoned.
    Raises:
        DownloadError: every URL failed; the message lists each URL with its error.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest.parent}: {exc}") from None
    remove_stale_parts(dest)
    failures = []
    for url in urls:
        log.info("downloading %s", url)
        try:
            _download(url, dest, md5, timeout)
            return dest
        except _Failure as exc:
            log.info("failed: %s", exc)
            failures.append(f"  {url}: {exc}")
    tried = "\n".join(failures) or "  (no URLs given)"
    raise DownloadError(f"could not download {dest.name}:\n{tried}")


def remove_stale_parts(dest: Path, older_than: float | None = None) -> list[Path]:
    """Delete the temporary ``.part`` files of ``dest`` left by downloads that were killed (older than the
    per-file deadline, so no live download's file); returns what was removed."""
    older_than = DEADLINE_S + TIMEOUT_S if older_than is None else older_than
    removed = []
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        try:
            if time.time() - part.stat().st_mtime > older_than:
                part.unlink()
                removed.append(part)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    if removed:
        log.info("removed %d stale partial download(s) of %s", len(removed), dest.name)
    return removed


def _download(url: str, dest: Path, md5: str | None, timeout: float) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(f"cannot write to {dest.parent}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            got = _stream(url, out, timeout)
        if md5 is not None and got != md5.lower():
            raise _Failure(f"checksum mismatch: expected md5 {md5}, got {got}")
        os.replace(tmp, dest)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _Failure(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Failure(str(exc.reason)) from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)  # a no-op once os.replace has moved it


def _stream(url: str, out, timeout: float) -> str:
    """Copy the body at ``url`` into the open file ``out``, synced to disk; returns its md5.

    Each read returns what has arrived (``read1``), so the overall deadline is checked however slowly
    the bytes come (overshooting it by at most one read's ``timeout``).
    """
    digest = hashlib.md5()
    request = urllib.request.Request(url, headers={"User-Agent": f"lrsweep/{__version__}"})
    deadline = time.monotonic() + DEADLINE_S
    with urllib.request.urlopen(request, timeout=min(timeout, DEADLINE_S)) as response:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Failure(f"abandoned: not complete after {DEADLINE_S:g}s (too slow; {out.tell()} bytes received)")
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()


def ensure_files(what: str, directory: Path, md5s: Mapping[str, str], mirrors: Sequence[str], download: bool) -> None:
    """Make sure every file of ``md5s`` is in ``directory`` with its md5, downloading what is missing.

    Raises:
        DataError: a file is missing and ``download`` is off, or a file present has the wrong md5.
        DownloadError: a missing file could not be fetched from any mirror.
    """
    directory = Path(directory)
    missing = [name for name in md5s if not (directory / name).is_file()]
    for name in md5s:
        if name not in missing:
            _verify(what, directory / name, md5s[name])
    if missing and not download:
        raise DataError(
            f"{what}: missing {', '.join(missing)} in {directory}/; "
            f"put them there by hand or allow downloading (data.download: true)"
        )
    for i, name in enumerate(missing):
        try:
            fetch(urls_for(name, mirrors), directory / name, md5s[name])
        except DownloadError as exc:
            raise DownloadError(f"{what}: {exc}\n{_by_hand(missing[i:], directory, mirrors)}") from None


def _verify(what: str, path: Path, md5: str) -> None:
    got = md5_of(path)
    if got != md5.lower():
        raise DataError(
            f"{what}: {path} has md5 {got}, expected {md5} (corrupt or a different file); "
            f"delete it to download it again"
        )


def _by_hand(names: Sequence[str], directory: Path, mirrors: Sequence[str]) -> str:
    lines = [f"To install by hand, put these files in {directory}/:"]
    lines += [f"  {name}  (from {' or '.join(urls_for(name, mirrors))})" for name in names]
    return "\n".join(lines)
