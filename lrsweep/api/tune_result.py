"""What ``lrsweep tune`` is told (:class:`TuneSettings`, every default of the command) and what it finds
(:class:`TuneResult`, also RUN_DIR/tune.json, from which a resume reads it back).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lrsweep.errors import UsageError

STAGES = ("range", "scout", "rung", "refine", "final")  # a variant's stage: scout (cut at a rung) or rung (went on)


@dataclass(frozen=True)
class TuneSettings:
    """How ``lrsweep tune`` spends its budget; every default of the command lives here."""

    budget: float = 8.0  # full-training equivalents: variant-epochs / train.epochs, every seed, range test included
    time_budget: float | None = None  # wall seconds: no stage is started that the measured pack costs say overruns
    resolution: float = 1.5  # refinement stops once the incumbent's neighbours are within this ratio of LRs
    scouts: int = 8  # log-spaced LRs between the range test's bounds
    grace_fraction: float = 1 / 3  # share of train.epochs every scout trains before the first cut
    reduction: int = 3  # successive halving keeps the best 1/reduction at each rung
    finalists: int = 2  # LRs that get every seed of the config in the finals
    range_steps: int = 100  # optimizer steps of the range test, at most ...
    range_share: float = 0.5  # ... and at most this share of one training's steps (but MIN_RANGE_STEPS)
    schedule_aware: bool = True  # False: scouts cut at the grace period whatever the schedule (the rule before #19)

    def check(self) -> None:
        rules = (
            (self.budget > 0, f"budget must be > 0 trainings, got {self.budget}"),
            (self.resolution > 1, f"resolution must be a ratio of LRs > 1, got {self.resolution}"),
            (self.scouts >= 3, f"scouts must be >= 3, got {self.scouts}"),
            (0 < self.grace_fraction <= 1, f"grace_fraction must be in (0, 1], got {self.grace_fraction}"),
            (self.reduction >= 2, f"reduction must be >= 2, got {self.reduction}"),
            (self.finalists >= 1, f"finalists must be >= 1, got {self.finalists}"),
            (self.time_budget is None or self.time_budget > 0, f"time_budget must be > 0 s, got {self.time_budget}"),
        )
        for ok, message in rules:
            if not ok:
                raise UsageError(message)


class Entry(dict):
    """A dict whose keys also read as attributes: ``result.best.lr`` is ``result.best["lr"]`` (tune.json as it is)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class TuneResult:
    """What ``lrsweep tune`` found and what it cost (also in RUN_DIR/tune.json)."""

    run_dir: str
    best: dict | None  # as grid's best (lr, mean, std, n, ids, ...); result.best.lr reads it too
    band: dict | None  # {low, high}: LRs indistinguishable from the best within seed noise (result.band.low)
    cost: dict  # {trainings, variant_epochs, range_test_steps, budget, seconds, time_budget} (result.cost.trainings)
    stages: list[dict]  # per stage: what it tried, what it cost, why it stopped
    retrain: dict | None = None
    status: str = "finished"  # finished | interrupted
    settings: dict = field(default_factory=dict)
    range_test: dict | None = None
    batch_sizes: dict | None = None  # several batch sizes: one TuneResult (as a dict) per batch size, by its str
    scaling: dict | None = None  # ... and each batch size's pick against lr_scaling's rule (select.scaling)
    fidelity: dict | None = None  # how scouts were compared under the schedule: {mode, grace_epochs, schedule, reason}
    pack_costs: dict | None = None  # seconds per step of a pack of 1, of k, and of the finals' seeds mixed (mixed)

    def __post_init__(self) -> None:
        for name in ("best", "band", "cost"):
            value = getattr(self, name)
            if isinstance(value, dict) and not isinstance(value, Entry):
                setattr(self, name, Entry(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
