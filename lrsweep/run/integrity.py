"""What a run directory's readers (:mod:`lrsweep.run.files`) accept: files lrsweep could have written.

A run directory may have been edited, truncated, or tampered with (a directory where a file should
be, a file linked to ``/dev/zero``, a symlink out of the run). Every read goes through here: the
size is capped, the text must be UTF-8, the data must have the shape lrsweep writes; anything else is
a :class:`~lrsweep.errors.RunDirError` naming the file, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrsweep.errors import RunDirError

MAX_JSON_BYTES = 64 * 1024 * 1024  # config, meta, status, summary: far past any real sweep's
MAX_CSV_BYTES = 256 * 1024 * 1024  # metrics.csv, lr_steps.csv: millions of rows
STATUSES = ("done", "diverged", "pruned", "failed", "interrupted", "pending")


def read_text(path: Path, limit: int = MAX_JSON_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (FileNotFoundError when absent, else RunDirError)."""
    path = Path(path)
    if not path.is_file():
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(path)
        raise RunDirError(
            f"{path} is not a regular file (a directory, a device or a broken link): not a file lrsweep wrote"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise RunDirError(f"{path} is larger than {limit // (1024 * 1024)} MiB: not a file lrsweep wrote")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path} is not UTF-8 text (byte {exc.start}): edited or damaged") from None


def bad(path: Path, what: str) -> RunDirError:
    return RunDirError(f"{path}: {what}; it was edited or damaged (lrsweep does not write it so)")


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def expect_dict(data: Any, path: Path) -> dict:
    if not isinstance(data, dict):
        raise bad(path, f"expected a mapping at the top, found {type(data).__name__}")
    return data


def check_metrics(rows: list[dict], path: Path, columns: tuple[str, ...]) -> list[dict]:
    """Every cell of ``columns`` a number (or empty); epochs/steps whole numbers."""
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise bad(path, f"line {line} has more cells than the header")
        for key in columns:
            value = row.get(key)
            if not _number(value) or (key in ("epoch", "step") and not isinstance(value, int)):
                raise bad(path, f"line {line}: {key} is {str(value)[:40]!r}, not a number")
    return rows


def check_status(data: Any, path: Path) -> dict:
    data = expect_dict(data, path)
    if data.get("status") not in STATUSES:
        raise bad(path, f"status is {str(data.get('status'))[:40]!r}, not one of {', '.join(STATUSES)}")
    variant = data.get("variant", {})
    if not isinstance(variant, dict):
        raise bad(path, "variant is not a mapping")
    _check_variant(variant, path)
    for key in ("epochs_run", "final_lr", "seconds", "test_loss", "test_acc"):
        if not _number(data.get(key)):
            raise bad(path, f"{key} is not a number")
    return data


def _check_variant(variant: dict, path: Path) -> None:
    if "id" in variant and not isinstance(variant["id"], str):
        raise bad(path, "the variant id is not a string")
    if "lr" in variant and (not _number(variant["lr"]) or variant["lr"] is None):
        raise bad(path, "the variant's lr is not a number")
    if "seed" in variant and not (isinstance(variant["seed"], int) and not isinstance(variant["seed"], bool)):
        raise bad(path, "the variant's seed is not an integer")
    for key in ("optimizer", "scheduler"):
        if key in variant and not isinstance(variant[key], str):
            raise bad(path, f"the variant's {key} is not a string")


ROW_NUMBERS = (
    "epochs_run",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "best_val_loss",
    "best_val_acc",
    "final_lr",
    "seconds",
    "rank",
)
GROUP_NUMBERS = ("lr", "mean", "std", "n")


def check_summary(data: Any, path: Path) -> dict:
    data = expect_dict(data, path)
    variants, groups = data.get("variants"), data.get("groups")
    if not isinstance(variants, list) or not isinstance(groups, list):
        raise bad(path, "variants and groups must be lists")
    if not isinstance(data.get("metric"), str) or data.get("direction") not in ("min", "max"):
        raise bad(path, "metric/direction missing")
    for i, row in enumerate(variants):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or row.get("status") not in STATUSES:
            raise bad(path, f"variants[{i}] is not a variant row")
        _check_variant(row, path)
        if any(not _number(row.get(k)) for k in ROW_NUMBERS) or not isinstance(row.get("seconds", 0), (int, float)):
            raise bad(path, f"variants[{i}] has a number that is not one")
    for i, group in enumerate(groups):
        if (
            not isinstance(group, dict)
            or any(not _number(group.get(k)) for k in GROUP_NUMBERS)
            or any(not isinstance(group.get(k), list) for k in ("seeds", "ids", "statuses"))
        ):
            raise bad(path, f"groups[{i}] is not a seed group")
    for key in ("best", "retrain", "status_counts"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise bad(path, f"{key} is not a mapping")
    best = data.get("best")
    if best and (not _number(best.get("lr")) or not _number(best.get("mean"))):
        raise bad(path, "best has a number that is not one")
    return data


def check_meta(data: Any, path: Path) -> dict:
    data = expect_dict(data, path)
    versions = data.get("versions")
    if not isinstance(versions, dict) or "lrsweep" not in versions:
        raise bad(path, "no lrsweep version: not a run directory lrsweep made")
    for key in ("extensions", "resumes"):
        if key in data and not isinstance(data[key], list):
            raise bad(path, f"{key} is not a list")
    return data


def check_find(data: Any, path: Path) -> dict:
    data = expect_dict(data, path)
    points = data.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, dict) and all(_number(p.get(k)) for k in ("lr", "loss", "smoothed")) for p in points
    ):
        raise bad(path, "points is not a list of {step, lr, loss, smoothed}")
    if not isinstance(data.get("suggestions"), dict) or not isinstance(data.get("settings"), dict):
        raise bad(path, "suggestions/settings missing")
    return data
