"""The plan: a Config expanded into Variants (lr × scheduler × optimizer × seed) with stable ids."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lrsweep.config import Config, OptimizerConfig
from lrsweep.errors import ConfigError, UsageError


@dataclass(frozen=True)
class Variant:
    """One training run of the sweep."""

    lr: float
    optimizer: OptimizerConfig
    scheduler: Any  # SchedulerSpec
    seed: int

    @property
    def id(self) -> str:
        """Stable across runs and machines: readable prefix + hash of everything that defines it."""
        blob = json.dumps(
            {"lr": self.lr, "opt": self.optimizer.to_dict(), "sched": self.scheduler.to_dict(), "seed": self.seed},
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha1(blob.encode()).hexdigest()[:6]
        return f"lr{self.lr:.3g}-{self.optimizer.name}-{self.scheduler.type}-s{self.seed}-{digest}"

    @property
    def group(self) -> str:
        """The variant without its seed: what seed statistics aggregate over."""
        return f"lr={self.lr:g} {self.optimizer.label} {self.scheduler.label}"

    def describe(self) -> dict:
        return {
            "id": self.id,
            "lr": self.lr,
            "optimizer": self.optimizer.label,
            "scheduler": self.scheduler.label,
            "seed": self.seed,
        }


def expand(config: Config) -> list[Variant]:
    """Every variant of the sweep, in a stable order (seed innermost).

    Your own code (``command:``, ``function:``) has no optimizer or schedule of lrsweep's: its variants are
    lr × seed, their optimizer slot naming the kind (``command``), their schedule ``none``.
    """
    if config.kind == "engine":
        optimizers, schedulers = config.optimizers, config.schedulers or (_no_schedule(),)
    else:
        optimizers, schedulers = (OptimizerConfig(config.kind),), (_no_schedule(),)
    return [
        Variant(lr=lr, optimizer=opt, scheduler=sched, seed=seed)
        for opt in optimizers
        for sched in schedulers
        for lr in config.lrs
        for seed in config.seeds
    ]


def _no_schedule():
    from lrsweep.optim.schedulers import parse_scheduler

    return parse_scheduler(None)


def check_task(config: Config, task: str) -> str:
    """The loss for the dataset's task; refuses combinations that cannot work, before training."""
    loss = config.train.loss
    if loss == "auto":
        loss = "cross_entropy" if task == "classification" else "mse"
    if task == "regression" and loss == "cross_entropy":
        raise ConfigError(
            "cross_entropy needs a classification dataset; this one is regression (use mse)", key="train.loss"
        )
    if task == "classification" and loss == "mse":
        raise ConfigError(
            "mse needs a regression dataset; this one is classification (use cross_entropy, or "
            "set data.task: regression for a csv or npz file)",
            key="train.loss",
        )
    if task == "regression" and config.select.metric == "val_acc":
        raise ConfigError(
            "val_acc needs a classification dataset; this one is regression (use val_loss)", key="select.metric"
        )
    return loss


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
    """A machine-independent order that keeps pack-mates (same optimizer and seed) next to each other."""
    return sorted(variants, key=lambda v: (v.optimizer.name, v.seed, v.optimizer.label, v.scheduler.label, v.lr, v.id))


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
