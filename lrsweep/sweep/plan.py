"""The plan: a Config expanded into Variants (lr × scheduler × optimizer × batch size × seed) with stable ids."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lrsweep.config import Config, OptimizerConfig
from lrsweep.config.metrics import REGRESSION_METRICS, metric_task, top_k
from lrsweep.config.sections import CLASSIFICATION_LOSSES, LOSS_OPTIONS, REGRESSION_LOSSES
from lrsweep.errors import ConfigError, UsageError


@dataclass(frozen=True)
class Variant:
    """One training run of the sweep.

    ``batch_size`` is set when ``data.batch_size`` is a sweep axis (a list), else None (the config's one batch
    size; ids stay as they were before batch size was an axis). ``base_lr`` is the lr of the grid that
    ``lr_scaling`` scaled to ``lr``. ``stop_epoch`` tells a retrain to stop after that epoch (the epoch the
    variant was scored at); it is not part of what the variant is.
    """

    lr: float
    optimizer: OptimizerConfig
    scheduler: Any  # SchedulerSpec
    seed: int
    batch_size: int | None = None
    base_lr: float | None = None
    stop_epoch: int | None = None

    @property
    def id(self) -> str:
        """Stable across runs and machines: readable prefix + hash of everything that defines it."""
        defined = {"lr": self.lr, "opt": self.optimizer.to_dict(), "sched": self.scheduler.to_dict(), "seed": self.seed}
        if self.batch_size is not None:
            defined["batch_size"] = self.batch_size
        digest = hashlib.sha1(json.dumps(defined, sort_keys=True, default=str).encode()).hexdigest()[:6]
        size = f"-b{self.batch_size}" if self.batch_size is not None else ""
        return f"lr{self.lr:.3g}{size}-{self.optimizer.name}-{self.scheduler.type}-s{self.seed}-{digest}"

    @property
    def group(self) -> str:
        """The variant without its seed: what seed statistics aggregate over."""
        size = f" b={self.batch_size}" if self.batch_size is not None else ""
        return f"lr={self.lr:g}{size} {self.optimizer.label} {self.scheduler.label}"

    def describe(self) -> dict:
        described = {
            "id": self.id,
            "lr": self.lr,
            "optimizer": self.optimizer.label,
            "scheduler": self.scheduler.label,
            "seed": self.seed,
        }
        if self.batch_size is not None:
            described["batch_size"] = self.batch_size
        if self.base_lr is not None:
            described["base_lr"] = self.base_lr
        return described


def expand(config: Config) -> list[Variant]:
    """Every variant of the sweep, in a stable order (seed innermost; each batch size's lrs scaled by lr_scaling).

    Your own code (``command:``, ``function:``) has no optimizer or schedule of lrsweep's: its variants are
    lr × seed, their optimizer slot naming the kind (``command``), their schedule ``none``.
    """
    if config.kind == "engine":
        optimizers, schedulers = config.optimizers, config.schedulers or (_no_schedule(),)
    else:
        optimizers, schedulers = (OptimizerConfig(config.kind),), (_no_schedule(),)
    sizes: tuple[int | None, ...] = config.batch_sizes if config.batch_axis else (None,)
    scaled = config.lr_scaling.active
    return [
        Variant(lr, opt, sched, seed, batch_size=size, base_lr=base if scaled else None)
        for opt in optimizers
        for sched in schedulers
        for size in sizes
        for base, lr in zip(config.lrs, config.lrs_for(size or config.batch_sizes[0]))
        for seed in config.seeds
    ]


def _no_schedule():
    from lrsweep.optim.schedulers import parse_scheduler

    return parse_scheduler(None)


def check_task(config: Config, task: str, classes: int | None = None) -> str:
    """The loss for the dataset's task (and ``classes``); refuses combinations that cannot work, before training."""
    loss = resolved_loss(config, task)
    if task == "regression" and loss in CLASSIFICATION_LOSSES:
        raise ConfigError(
            f"{loss} needs a classification dataset; this one is regression (use {', '.join(REGRESSION_LOSSES)})",
            key="train.loss",
        )
    if task == "classification" and loss in REGRESSION_LOSSES:
        raise ConfigError(
            f"{loss} needs a regression dataset; this one is classification (use cross_entropy, or "
            "set data.task: regression for a csv or npz file)",
            key="train.loss",
        )
    if loss == "bce_with_logits" and classes is not None and classes != 2:
        raise ConfigError(
            f"bce_with_logits needs binary targets (two classes); this dataset has {classes} (use cross_entropy)",
            key="train.loss",
        )
    if config.train.loss.label_smoothing and loss != "cross_entropy":
        raise ConfigError(f"label_smoothing is an option of cross_entropy, not of {loss}", key="train.loss")
    if task == "regression" and config.select.metric == "val_acc":
        raise ConfigError(
            "val_acc needs a classification dataset; this one is regression (use val_loss)", key="select.metric"
        )
    for i, name in enumerate(config.train.metrics):
        check_metric_task(name, task, classes, loss, key=f"train.metrics[{i}]")
    return loss


def resolved_loss(config: Config, task: str) -> str:
    """train.loss's name, ``auto`` made cross_entropy (classification) or mse (regression)."""
    loss = config.train.loss.name
    if loss == "auto":
        return "cross_entropy" if task == "classification" else "mse"
    return loss


def loss_options(config: Config, loss: str) -> dict:
    """The option of train.loss that the resolved ``loss`` takes (``{"delta": 2.0}``), if any."""
    option = LOSS_OPTIONS.get(loss)
    return {option: getattr(config.train.loss, option)} if option else {}


def check_metric_task(name: str, task: str, classes: int | None, loss: str, key: str) -> None:
    """A train.metrics entry the dataset's task (and classes, and loss) can compute."""
    if metric_task(name) != task:
        valid = REGRESSION_METRICS if task == "regression" else ("f1", "auroc", "top<k>")
        raise ConfigError(
            f"{name} needs a {metric_task(name)} dataset; this one is {task} (valid here: {', '.join(valid)})", key=key
        )
    k = top_k(name)
    if k is not None and loss == "bce_with_logits":
        raise ConfigError(f"{name} needs one output per class; bce_with_logits has one (use f1 or auroc)", key=key)
    if k is not None and classes is not None and k >= classes:
        raise ConfigError(f"{name} needs more than {k} classes; this dataset has {classes}", key=key)


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``: ``--shard 2/8``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, sep, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = None
        if not sep or shard is None or not 1 <= shard.index <= shard.count:
            raise UsageError(f"--shard expects I/N with 1 <= I <= N (e.g. 2/8), got {text!r}")
        return shard

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_order(variants: list[Variant]) -> list[Variant]:
    """A machine-independent order that keeps pack-mates (same optimizer and batch size) next to each other.

    Seed by seed, as when a pack held one seed: the slices stay those that shards of older runs trained.
    """
    return sorted(
        variants,
        key=lambda v: (v.optimizer.name, v.seed, v.batch_size or 0, v.optimizer.label, v.scheduler.label, v.lr, v.id),
    )


def shard_variants(variants: list[Variant], shard: Shard) -> list[Variant]:
    """The shard's slice: a contiguous run of :func:`shard_order`, sizes differing by at most one.

    The same config gives the same slices on every machine; together the slices are every variant once.
    """
    ordered = shard_order(variants)
    n, i = len(ordered), shard.index - 1
    mine = {v.id for v in ordered[i * n // shard.count : (i + 1) * n // shard.count]}
    return [v for v in variants if v.id in mine]


def shard_of(variant: Variant, variants: list[Variant], count: int) -> Shard:
    """Which of ``count`` shards trains ``variant``."""
    position = [v.id for v in shard_order(variants)].index(variant.id)
    return Shard(next(i for i in range(1, count + 1) if position < i * len(variants) // count), count)
