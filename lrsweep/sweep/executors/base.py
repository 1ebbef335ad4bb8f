"""The seam between the runner and the executors: the job, the sink, sessions."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lrsweep.engine.common import EpochRecord, TrainSpec, VariantResult


@dataclass(frozen=True)
class Job:
    """What a sweep's packs need: the config (workers reload the data from it), the shared spec, and
    the parent's data (the local executor trains on it; other executors never ship it)."""

    config: Any  # lrsweep.config.Config
    spec: TrainSpec | None  # None for trials of your own code (command:, function:)
    splits: Any = None  # lrsweep.data.Splits, in the parent
    function: Any = None  # function: the callable itself, when given from Python (else imported by name)


class Sink(Protocol):
    """The runner's side: it alone writes the run directory and talks to the progress display."""

    def on_pack_start(self, pack: list, device: str) -> None: ...
    def on_epoch(self, variant_id: str, record: EpochRecord) -> None: ...
    def on_result(self, variant, result: VariantResult, device: str) -> None: ...  # paused at a rung, or ended
    def on_notice(self, message: str) -> None: ...
    def trial_paths(self, variant_id: str) -> tuple[Path, Path, Path, Path]: ...  # trials: dir, logs, run dir


class Session(Protocol):
    """One sweep on an executor: packs in, results out through the sink."""

    def train(self, packs: list[list], sink: Sink, until: int | None = None) -> None:
        """Train every pack up to epoch ``until`` (default: the last); every variant gets ``on_result``."""

    def release(self, variant_ids: list[str]) -> None:
        """These variants are finished (pruned): drop whatever training state is kept for them."""

    def retrain(self, variant, callbacks) -> tuple[VariantResult, str]:
        """Train ``variant`` on train+val, score it on test; the result and where it ran."""


class Executor:
    """Where packs train; a context manager that releases what it started (workers, a Ray instance)."""

    backend: str  # local | devices | ray: recorded beside each variant's result

    @property
    def parallelism(self) -> int:
        """How many packs it trains at once (the runner makes at least this many packs); one by default."""
        return 1

    def session(self, job: Job, notice: Callable[[str], None]) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started; nothing by default."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def load_data(config, device: str = "cpu"):
    """The splits of ``config`` on ``device``, as the parent loaded them (same split seed): what a worker
    process or a Ray task does instead of receiving tensors."""
    from lrsweep.data import default_root, load_dataset, split

    root = Path(config.data.root).expanduser() if config.data.root else default_root()
    dataset = load_dataset(
        config.data.name,
        config.data.options,
        root=root,
        download=config.data.download,
        max_values=config.limits.max_data_values,
    )
    return split(dataset, config.data.val_fraction, seed=config.seeds[0]).to(device)


def evaluation_split(splits):
    """The validation tensors, or None when the config holds none out."""
    return (splits.val_x, splits.val_y) if len(splits.val_x) else None
