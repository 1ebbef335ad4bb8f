"""The run directory: the only module that knows its layout. Every file is written atomically.

    runs/<name>-<YYYYmmdd-HHMMSS>/
      config.yaml  meta.json  summary.csv  summary.json
      variants/<id>/metrics.csv  status.json  lr_steps.csv  model.pt (save: all)
      retrain/metrics.csv  status.json  model.pt (save: best | all)
      plots/*.png
    runs/<name>-find-<YYYYmmdd-HHMMSS>/      (lrsweep find)
      config.yaml  meta.json  find.csv  find.json  plots/find.png
    runs/<name>-tune-<YYYYmmdd-HHMMSS>/      (lrsweep tune)
      config.yaml  meta.json  tune.json  summary.csv  summary.json  variants/...  retrain/  plots/tune.png
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import yaml

from lrsweep.errors import RunDirError

RETRAIN_ID = "retrain"  # the best variant retrained on train+val lives in <run>/retrain/
MODEL_FILE = "model.pt"  # final weights of a variant or of the retrain (see lrsweep.weights)
FIND_COLUMNS = ("step", "lr", "loss", "smoothed")
METRIC_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; results should read like any other file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def create_text_once(path: Path, text: str) -> bool:
    """Write ``path`` whole, unless it exists; False when another writer got there first (atomic:
    readers see no file or the whole file, and of several racing writers exactly one wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if path exists, unlike rename
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


def to_plain(value: Any) -> Any:
    """Tuples to lists and non-finite floats to None, recursively: YAML/JSON-safe data."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(to_plain(data), indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"missing file: {path}") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"unreadable JSON in {path}: {exc}") from None


def csv_text(rows: Iterable[dict], columns: Iterable[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict]:
    """Rows with numbers parsed back (empty cells -> None)."""
    with path.open(newline="") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        as_float = float(text)
    except ValueError:
        return {"True": True, "False": False}.get(text, text)
    return int(as_float) if text.lstrip("-").isdigit() else as_float


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, out: Path, name: str, stamp: datetime | None = None) -> "RunStore":
        """A new, empty run directory ``<out>/<name>-<YYYYmmdd-HHMMSS>`` (suffixed if taken)."""
        stamp = (stamp or datetime.now()).strftime("%Y%m%d-%H%M%S")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}-{stamp}"
        n = 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = out / f"{name}-{stamp}-{n}"
        return cls(path)

    @classmethod
    def shared(cls, out: Path, name: str, fingerprint: str) -> "RunStore":
        """The run directory ``<out>/<name>-<fingerprint>`` that every shard of one config shares."""
        path = Path(out) / f"{name}-{fingerprint}"
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> "RunStore":
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"run directory not found: {path}")
        if not (path / "config.yaml").exists():
            raise RunDirError(f"not a run directory (no config.yaml): {path}")
        return cls(path)

    # ---- whole-run files
    def write_config(self, config: dict) -> None:
        atomic_write_text(self.path / "config.yaml", yaml.safe_dump(to_plain(config), sort_keys=False))

    def read_config(self) -> dict:
        return yaml.safe_load((self.path / "config.yaml").read_text())

    def create_config(self, config: dict) -> bool:
        """config.yaml, unless it exists already (another shard wrote it): True if this call wrote it."""
        return create_text_once(self.path / "config.yaml", yaml.safe_dump(to_plain(config), sort_keys=False))

    def create_meta(self, meta: dict) -> bool:
        """meta.json, unless it exists already: True if this call wrote it."""
        return create_text_once(self.path / "meta.json", json.dumps(to_plain(meta), indent=2) + "\n")

    def write_meta(self, meta: dict) -> None:
        write_json(self.path / "meta.json", meta)

    def read_meta(self) -> dict:
        return read_json(self.path / "meta.json") if (self.path / "meta.json").exists() else {}

    def write_summary(self, summary: dict, columns: Iterable[str]) -> None:
        atomic_write_text(self.path / "summary.csv", csv_text(summary["variants"], columns))
        write_json(self.path / "summary.json", summary)

    def read_summary(self) -> dict | None:
        path = self.path / "summary.json"
        return read_json(path) if path.exists() else None

    # ---- per shard (--shard I/N): each shard writes only its own folder
    def shard_dir(self, label: str) -> Path:
        return self.path / "shards" / label

    def write_shard_meta(self, label: str, meta: dict) -> None:
        write_json(self.shard_dir(label) / "meta.json", meta)

    def read_shard_meta(self, label: str) -> dict:
        path = self.shard_dir(label) / "meta.json"
        return read_json(path) if path.exists() else {}

    def write_shard_summary(self, label: str, summary: dict, columns: Iterable[str]) -> None:
        atomic_write_text(self.shard_dir(label) / "summary.csv", csv_text(summary["variants"], columns))
        write_json(self.shard_dir(label) / "summary.json", summary)

    def shard_labels(self) -> list[str]:
        """The shards that have run here (``I-of-N``), in shard order."""
        root = self.path / "shards"
        found = [re.fullmatch(r"(\d+)-of-(\d+)", p.name) for p in root.iterdir()] if root.exists() else []
        return [m.group(0) for m in sorted(filter(None, found), key=lambda m: (int(m.group(2)), int(m.group(1))))]

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    def write_plot(self, name: str, png: bytes) -> Path:
        path = self.plots_dir / name
        atomic_write_bytes(path, png)
        return path

    # ---- the LR range test
    def write_find(self, rows: list[dict], result: dict) -> None:
        atomic_write_text(self.path / "find.csv", csv_text((to_plain(r) for r in rows), FIND_COLUMNS))
        write_json(self.path / "find.json", result)

    def read_find(self) -> dict | None:
        """find.json of a range-test directory (None for a sweep's directory)."""
        path = self.path / "find.json"
        return read_json(path) if path.exists() else None

    # ---- lrsweep tune: its stages, cost and pick (the variants live under variants/ as in a sweep)
    def write_tune(self, result: dict) -> None:
        write_json(self.path / "tune.json", result)

    def read_tune(self) -> dict | None:
        """tune.json of a tune run's directory (None for other directories)."""
        path = self.path / "tune.json"
        return read_json(path) if path.exists() else None

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard event files, one folder per variant (``tensorboard --logdir runs/`` finds them)."""
        return self.path / "tensorboard"

    # ---- per variant
    def variant_dir(self, variant_id: str) -> Path:
        if variant_id == RETRAIN_ID:
            return self.path / RETRAIN_ID
        return self.path / "variants" / variant_id

    def write_metrics(self, variant_id: str, rows: list[dict]) -> None:
        atomic_write_text(self.variant_dir(variant_id) / "metrics.csv", csv_text(rows, METRIC_COLUMNS))

    def read_metrics(self, variant_id: str) -> list[dict]:
        path = self.variant_dir(variant_id) / "metrics.csv"
        return read_csv(path) if path.exists() else []

    def write_lr_steps(self, variant_id: str, lrs: list[float]) -> None:
        rows = ({"step": i, "lr": lr} for i, lr in enumerate(lrs, start=1))
        atomic_write_text(self.variant_dir(variant_id) / "lr_steps.csv", csv_text(rows, ("step", "lr")))

    def read_lr_steps(self, variant_id: str) -> list[dict]:
        """Per optimizer step ``{step, lr}`` rows (only variants with a per-step schedule have them)."""
        path = self.variant_dir(variant_id) / "lr_steps.csv"
        return read_csv(path) if path.exists() else []

    def write_status(self, variant_id: str, status: dict) -> None:
        write_json(self.variant_dir(variant_id) / "status.json", status)

    def read_status(self, variant_id: str) -> dict | None:
        path = self.variant_dir(variant_id) / "status.json"
        return read_json(path) if path.exists() else None

    def variant_ids(self) -> list[str]:
        root = self.path / "variants"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []

    # ---- final weights (lrsweep.weights builds and checks the payload)
    def write_model(self, variant_id: str, payload: dict) -> Path:
        """``model.pt`` of a variant (or ``retrain``), written atomically with torch.save."""
        import torch

        buffer = io.BytesIO()
        torch.save(payload, buffer)
        path = self.variant_dir(variant_id) / MODEL_FILE
        atomic_write_bytes(path, buffer.getvalue())
        return path

    def has_model(self, variant_id: str) -> bool:
        return (self.variant_dir(variant_id) / MODEL_FILE).exists()

    def read_model(self, variant_id: str) -> dict:
        """The payload of ``model.pt``, loaded with ``weights_only=True`` onto the CPU; RunDirError when it is
        missing or is not a model file lrsweep wrote."""
        import pickle

        import torch

        from lrsweep.weights import check_payload

        path = self.variant_dir(variant_id) / MODEL_FILE
        if not path.exists():
            raise RunDirError(f"no saved weights: {path} does not exist (the run kept weights with save: "
                              f"{'all' if variant_id != RETRAIN_ID else 'best or all, and retrain: true'})")
        try:
            payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunDirError(f"unreadable model file {path}: {first}") from None
        return check_payload(payload, str(path))
