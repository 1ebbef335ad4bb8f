"""The run directory: the only module that knows its layout. Every file is written atomically.

runs/<name>-<YYYYmmdd-HHMMSS>/
  config.yaml  meta.json  summary.csv  summary.json
  variants/<id>/metrics.csv  status.json  lr_steps.csv  model.pt (save: all)
  variants/<id>/checkpoint.pt   a variant trained alone: its last finished epoch, while unfinished
  variants/<id>/pack.json       a pack's member: the pack it trains in (members, device)
  variants/<id>/stdout.log  stderr.log   a trial of your own code: its output (lrsweep.run.logs)
  packs/<key>/checkpoint.pt     a pack's last finished epoch (one file for all its members)
  retrain/metrics.csv  status.json  model.pt (save: best | all)
  plots/*.png
runs/<name>-find-<YYYYmmdd-HHMMSS>/      (lrsweep find)
  config.yaml  meta.json  find.csv  find.json  plots/find.png (with --plot)
runs/<name>-tune-<YYYYmmdd-HHMMSS>/      (lrsweep tune)
  config.yaml  meta.json  tune.json  summary.csv  summary.json  variants/...  retrain/  plots/tune.png
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Collection, Iterable
from datetime import datetime
from pathlib import Path

import yaml

from lrsweep.errors import RunDirError
from lrsweep.run import integrity as checks
from lrsweep.run import lock as runlock
from lrsweep.run.files import (
    atomic_write_bytes,
    atomic_write_text,
    create_text_once,
    csv_text,
    read_csv,
    read_json,
    read_yaml,
    to_plain,
    write_json,
)

RETRAIN_ID = "retrain"  # the best variant retrained on train+val lives in <run>/retrain/
MODEL_FILE = "model.pt"  # final weights of a variant or of the retrain (see lrsweep.run.weights)
FIND_COLUMNS = ("step", "lr", "loss", "smoothed")
PREVIEW_JSON = "preview.json"  # what marks lrsweep schedule --preview's folder
# metrics.csv: these columns first, then any further metric the variant reported (val_f1, eval_bleu, ...)
METRIC_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def os_cause(exc: OSError) -> str:
    """The cause of an OSError in words (``No space left on device``), without the repr noise."""
    return exc.strerror or str(exc)


def _out_dir(out: Path) -> Path:
    """``--out``, created if missing; a RunDirError naming it when it cannot hold run directories."""
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise RunDirError(f"--out {out} is a dangling symbolic link (to {os.readlink(out)})")
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create --out {out}: {os_cause(exc)}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunDirError(f"--out {out} is not writable")
    return out


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.keep_checkpoints = False  # grid --keep-checkpoints: a finished variant's checkpoint stays

    @classmethod
    def create(cls, out: Path, name: str, stamp: datetime | None = None) -> RunStore:
        """A new, empty run directory ``<out>/<name>-<YYYYmmdd-HHMMSS>`` (suffixed if taken)."""
        label = (stamp or datetime.now()).strftime("%Y%m%d-%H%M%S")
        out = _out_dir(out)
        path = out / f"{name}-{label}"
        n = 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = out / f"{name}-{label}-{n}"
            except OSError as exc:
                raise RunDirError(f"cannot create the run directory {path}: {os_cause(exc)}") from None
        return cls(path)

    @classmethod
    def shared(cls, out: Path, name: str, fingerprint: str) -> RunStore:
        """The run directory ``<out>/<name>-<fingerprint>`` that every shard of one config shares."""
        path = _out_dir(out) / f"{name}-{fingerprint}"
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create the run directory {path}: {os_cause(exc)}") from None
        if not path.is_dir() or path.is_symlink():
            raise RunDirError(f"{path} exists and is not a run directory")
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> RunStore:
        """A run directory lrsweep made (config.yaml, and meta.json with lrsweep's version), whose
        files and variant folders are its own (no symbolic links out of it)."""
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"run directory not found: {path}")
        if (path / PREVIEW_JSON).is_file() and not (path / "config.yaml").exists():
            raise RunDirError(
                f"{path} is a schedule preview ({PREVIEW_JSON} and its PNG), not a run: nothing was trained there"
            )
        if not (path / "config.yaml").exists() and not (path / "config.yaml").is_symlink():
            raise RunDirError(f"not a run directory (no config.yaml): {path}")
        store = cls(path)
        store._check_layout()
        if not (path / "meta.json").exists():
            raise RunDirError(f"not a run directory lrsweep made (no meta.json): {path}")
        checks.check_meta(read_json(path / "meta.json"), path / "meta.json")
        return store

    def _check_layout(self) -> None:
        """Refuse symbolic links where the run's own files and folders belong: writes would land outside it."""
        top = [
            "config.yaml",
            "meta.json",
            "summary.csv",
            "summary.json",
            "variants",
            RETRAIN_ID,
            "shards",
            "plots",
            "lock",
            "find.json",
            "find.csv",
        ]
        linked = [self.path / name for name in top if (self.path / name).is_symlink()]
        variants = self.path / "variants"
        if variants.is_dir() and not variants.is_symlink():
            linked += [p for p in variants.iterdir() if p.is_symlink()]
            strays = [p for p in variants.iterdir() if not p.is_symlink() and not p.is_dir()]
            if strays:
                raise RunDirError(f"{strays[0]} is not a variant folder: the run directory was edited")
        if linked:
            raise RunDirError(
                f"{linked[0]} is a symbolic link (to {os.readlink(linked[0])}): a run directory "
                "holds its own files, and writes through it would land outside the run"
            )

    # ---- whole-run files
    def write_config(self, config: dict) -> None:
        atomic_write_text(self.path / "config.yaml", yaml.safe_dump(to_plain(config), sort_keys=False))

    def read_config(self) -> dict:
        path = self.path / "config.yaml"
        return checks.expect_dict(read_yaml(path), path)

    def create_config(self, config: dict) -> bool:
        """config.yaml, unless it exists already (another shard wrote it): True if this call wrote it."""
        return create_text_once(self.path / "config.yaml", yaml.safe_dump(to_plain(config), sort_keys=False))

    def create_meta(self, meta: dict) -> bool:
        """meta.json, unless it exists already: True if this call wrote it."""
        return create_text_once(self.path / "meta.json", json.dumps(to_plain(meta), indent=2) + "\n")

    def write_meta(self, meta: dict) -> None:
        write_json(self.path / "meta.json", meta)

    def read_meta(self) -> dict:
        path = self.path / "meta.json"
        return checks.expect_dict(read_json(path), path) if path.exists() else {}

    def write_summary(self, summary: dict, columns: Iterable[str]) -> None:
        atomic_write_text(self.path / "summary.csv", csv_text(summary["variants"], columns))
        write_json(self.path / "summary.json", summary)

    def read_summary(self) -> dict | None:
        path = self.path / "summary.json"
        return checks.check_summary(read_json(path), path) if path.exists() else None

    # ---- the lock of the process writing the run (a shard locks only its own folder)
    def lock_path(self, shard: str | None = None) -> Path:
        return (self.shard_dir(shard) if shard else self.path) / "lock"

    def lock(self, shard: str | None = None) -> str | None:
        """Take the run's lock (a notice when a dead process's lock was taken over); RunDirError if in use."""
        path = self.lock_path(shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        return runlock.acquire(path, f"run {self.path}" + (f" (shard {shard})" if shard else ""))

    def unlock(self, shard: str | None = None) -> None:
        runlock.release(self.lock_path(shard))

    def writers(self) -> list[dict]:
        """The live processes writing this run now (the run's, then each shard's)."""
        paths = [self.lock_path()] + [self.lock_path(label) for label in self.shard_labels()]
        return [holder for holder in map(runlock.live_holder, paths) if holder]

    # ---- per shard (--shard I/N): each shard writes only its own folder
    def shard_dir(self, label: str) -> Path:
        return self.path / "shards" / label

    def write_shard_meta(self, label: str, meta: dict) -> None:
        write_json(self.shard_dir(label) / "meta.json", meta)

    def read_shard_meta(self, label: str) -> dict:
        path = self.shard_dir(label) / "meta.json"
        return checks.expect_dict(read_json(path), path) if path.exists() else {}

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
        return checks.check_find(read_json(path), path) if path.exists() else None

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
        atomic_write_text(self.variant_dir(variant_id) / "metrics.csv", csv_text(rows, metric_columns(rows)))

    def read_metrics(self, variant_id: str) -> list[dict]:
        """Every epoch's row; every cell a number (or empty), the further metrics' too."""
        path = self.variant_dir(variant_id) / "metrics.csv"
        if not path.exists():
            return []
        rows = read_csv(path)
        columns = tuple(rows[0]) if rows else METRIC_COLUMNS
        return checks.check_metrics(rows, path, tuple(c for c in columns if c is not None))

    def write_lr_steps(self, variant_id: str, lrs: list[float]) -> None:
        rows = ({"step": i, "lr": lr} for i, lr in enumerate(lrs, start=1))
        atomic_write_text(self.variant_dir(variant_id) / "lr_steps.csv", csv_text(rows, ("step", "lr")))

    def read_lr_steps(self, variant_id: str) -> list[dict]:
        """Per optimizer step ``{step, lr}`` rows (only variants with a per-step schedule have them)."""
        path = self.variant_dir(variant_id) / "lr_steps.csv"
        return read_csv(path, ("step", "lr")) if path.exists() else []

    def write_status(self, variant_id: str, status: dict) -> None:
        write_json(self.variant_dir(variant_id) / "status.json", status)

    def read_status(self, variant_id: str) -> dict | None:
        path = self.variant_dir(variant_id) / "status.json"
        return checks.check_status(read_json(path), path) if path.exists() else None

    def in_progress(self, finished: Collection[str]) -> list[dict]:
        """Variants with epochs on disk whose status is not one of ``finished``: ``{id, epochs, last}``
        (``last`` the newest metrics.csv row), what ``show`` reports of a run that is training."""
        rows = []
        for vid in self.variant_ids():
            if (self.read_status(vid) or {}).get("status") in finished:
                continue
            metrics = self.read_metrics(vid)
            if metrics:
                rows.append({"id": vid, "epochs": len(metrics), "last": metrics[-1]})
        return rows

    def variant_ids(self) -> list[str]:
        root = self.path / "variants"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []

    # ---- final weights (lrsweep.run.weights builds and checks the payload)
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

        from lrsweep.run.weights import check_payload

        path = self.variant_dir(variant_id) / MODEL_FILE
        if not path.exists():
            raise RunDirError(
                f"no saved weights: {path} does not exist (the run kept weights with save: "
                f"{'all' if variant_id != RETRAIN_ID else 'best or all, and retrain: true'})"
            )
        try:
            payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunDirError(f"unreadable model file {path}: {first}") from None
        return check_payload(payload, str(path))

    # ---- checkpoints (lrsweep.run.checkpoints encodes and checks them): only while a variant is unfinished
    def checkpoint_path(self, members: list[str]) -> Path:
        """A variant alone keeps its checkpoint in its own folder; a pack's lives under packs/<key>/."""
        if len(members) == 1:
            return self.variant_dir(members[0]) / "checkpoint.pt"
        return self.path / "packs" / pack_key(members) / "checkpoint.pt"

    def write_checkpoint(self, members: list[str], data: bytes) -> None:
        atomic_write_bytes(self.checkpoint_path(members), data)

    def read_checkpoint(self, members: list[str]) -> bytes | None:
        path = self.checkpoint_path(members)
        try:
            return path.read_bytes() if path.is_file() else None
        except OSError:
            return None

    def delete_checkpoint(self, members: list[str]) -> None:
        path = self.checkpoint_path(members)
        path.unlink(missing_ok=True)
        if len(members) > 1:
            try:
                path.parent.rmdir()
            except OSError:
                pass

    def write_pack_record(self, variant_id: str, record: dict) -> None:
        write_json(self.variant_dir(variant_id) / "pack.json", record)

    def read_pack_record(self, variant_id: str) -> dict | None:
        path = self.variant_dir(variant_id) / "pack.json"
        try:
            record = json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("members"), list) else None


def pack_key(members: list[str]) -> str:
    """A pack's folder name: a digest of its members, in order."""
    import hashlib

    return hashlib.sha1("\n".join(members).encode()).hexdigest()[:12]


def metric_columns(rows: list[dict]) -> list[str]:
    """metrics.csv's header: the standard columns, then further metrics in the order they first appear."""
    columns = list(METRIC_COLUMNS)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return columns
