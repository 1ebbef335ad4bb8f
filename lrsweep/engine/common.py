"""What every engine shares: the job description, per-epoch records, results and callbacks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias

import torch

from lrsweep.data.streamed import DatasetColumn
from lrsweep.engine.losses import elementwise, is_classification, predicted_class
from lrsweep.engine.losses import loss_fn as loss_fn  # callers have always found it here
from lrsweep.engine.metrics import Scores
from lrsweep.engine.stopping import StopRule

STATUS_DONE = "done"
STATUS_DIVERGED = "diverged"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"
FINISHED = (STATUS_DONE, STATUS_DIVERGED)  # a resumed sweep does not run these again

# A finite loss past this multiple of the loss at initialisation is a blow-up, not training: a
# variant that learns never ends an epoch 10x worse than where it started (cross-entropy from
# ln(10) = 2.3 would be 23; the blow-ups seen were 1e20-1e34 on regressions), while noise in a
# first mini-batch's loss and early spikes of large LRs stay well inside it.
BLOWUP_FACTOR = 10.0
EVAL_CHUNK = 4096  # rows per forward pass when evaluating (no gradients, so bigger than a batch)

Column: TypeAlias = torch.Tensor | DatasetColumn  # a split's x or y: resident rows, or a streamed view of them


@dataclass(frozen=True)
class TrainSpec:
    """What all variants of a sweep share."""

    model_name: str
    model_options: dict
    input_shape: tuple[int, ...]
    output_size: int
    epochs: int
    batch_size: int
    loss: str  # cross_entropy | bce_with_logits | mse | l1 | huber | smooth_l1 (see engine.losses)
    augment: Any = None  # config.AugmentConfig for training batches; None: no augmentation
    num_workers: int = 0  # DataLoader workers when the training data is a streamed Dataset
    precision: str = "32"  # train.precision (resolved per device by engine.precision)
    grad_clip: float | None = None  # train.grad_clip: max gradient norm per variant
    compile: bool = False  # train.compile
    weights: str = "none"  # final state_dicts results carry: none | best (the retrain's) | all; from config's save
    loss_options: dict = field(default_factory=dict)  # the loss's keyword argument: delta, beta or label_smoothing
    metrics: tuple[str, ...] = ()  # train.metrics, computed on every evaluated split (val_f1, test_f1, ...)
    early_stopping: StopRule | None = None  # train.early_stopping on the selection metric

    @property
    def classes(self) -> int | None:
        """Classes of a classification dataset (two for bce_with_logits's one output), else None."""
        if not is_classification(self.loss):
            return None
        return 2 if self.loss == "bce_with_logits" else self.output_size


def spec_for(spec: TrainSpec, variants) -> TrainSpec:
    """``spec`` with the batch size the variants name (``data.batch_size`` as a sweep axis), if they do.

    Raises ValueError for variants of different batch sizes: they never share a trainer.
    """
    sizes = {int(v.batch_size) for v in variants if getattr(v, "batch_size", None) is not None}
    if len(sizes) > 1:
        raise ValueError(f"variants of different batch sizes cannot train together: {sorted(sizes)}")
    return replace(spec, batch_size=sizes.pop()) if sizes else spec


def prefixed(split: str, metrics: dict[str, float]) -> dict[str, float | None]:
    """``{"f1": 0.9}`` -> ``{"val_f1": 0.9}`` (``split`` val or test)."""
    return {f"{split}_{name}": value for name, value in metrics.items()}


STANDARD_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


@dataclass
class EpochRecord:
    """One epoch of one variant: the standard numbers every engine reports, and any others by name."""

    epoch: int  # 1-based
    lr: float | None  # the learning rate at the start of the epoch (None: a trial that did not say)
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    seconds: float
    metrics: dict[str, float | None] = field(default_factory=dict)  # further metrics: val_f1, eval_bleu, ...

    def as_row(self) -> dict:
        """One metrics.csv row: the standard columns, then the further metrics."""
        row = {name: getattr(self, name) for name in STANDARD_COLUMNS}
        row.update(self.metrics)
        return row

    @classmethod
    def from_row(cls, row: dict) -> EpochRecord:
        """The record of a metrics.csv row (or of :meth:`as_row`): unknown columns are further metrics."""
        extra = {k: v for k, v in row.items() if k not in STANDARD_COLUMNS}
        return cls(
            epoch=int(row["epoch"]),
            lr=row.get("lr"),
            train_loss=row.get("train_loss"),
            train_acc=row.get("train_acc"),
            val_loss=row.get("val_loss"),
            val_acc=row.get("val_acc"),
            seconds=float(row.get("seconds") or 0.0),
            metrics=extra,
        )

    def value(self, metric: str) -> float | None:
        """The value of a standard or further metric this epoch (None when not reported)."""
        if metric in STANDARD_COLUMNS:
            return getattr(self, metric)
        return self.metrics.get(metric)


@dataclass
class VariantResult:
    variant_id: str
    status: str
    epochs: list[EpochRecord] = field(default_factory=list)
    lr_steps: list[float] = field(default_factory=list)  # per optimizer step, for per-step schedules
    error: str | None = None
    traceback: str | None = None
    test_loss: float | None = None
    test_acc: float | None = None
    test_metrics: dict[str, float | None] = field(default_factory=dict)  # test_f1, ... (the retrain's)
    stopped_early: bool = False  # train.early_stopping ended it (status done) before its last epoch
    seconds: float = 0.0
    weights: dict | None = None  # the final state_dict, on the CPU, when the spec asks for it (never written here)
    computed: dict | None = None  # how it was computed (engine, pack, threads, device, resumed from): see executors


class Callbacks(Protocol):
    """How an engine reports; it never prints or writes files itself."""

    def on_epoch(self, variant_id: str, record: EpochRecord) -> None: ...


class NoCallbacks:
    def on_epoch(self, variant_id: str, record: EpochRecord) -> None:
        pass


def diverged(loss: float | None, reference: float | None) -> bool:
    """Whether an epoch's loss means the variant diverged: not finite, or past BLOWUP_FACTOR x ``reference``.

    ``reference`` is the loss at initialisation (every engine takes the first training batch's loss,
    before any step: the same for every variant of one seed); None or non-positive skips the ratio.
    A missing loss (no validation split) never counts.
    """
    if loss is None:
        return False
    if not math.isfinite(loss):
        return True
    return reference is not None and math.isfinite(reference) and reference > 0 and loss > BLOWUP_FACTOR * reference


def cpu_state(state: dict) -> dict:
    """A copy of a state_dict on the CPU: what a result carries back to the parent (across processes too)."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in state.items()}


Evaluation: TypeAlias = tuple[float, float | None, dict[str, float]]  # mean loss, accuracy, further metrics


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: Column, y: Column, loss: str, options: dict | None = None) -> tuple:
    """Mean loss (and accuracy for classification) over a whole split, in large chunks."""
    return evaluate_all(model, x, y, loss, options)[:2]


@torch.no_grad()
def evaluate_all(
    model: torch.nn.Module,
    x: Column,
    y: Column,
    loss: str,
    options: dict | None = None,
    metrics: tuple[str, ...] = (),
    classes: int | None = None,
) -> Evaluation:
    """Mean loss, accuracy (classification) and ``metrics`` (train.metrics, see engine.metrics) over a split."""
    if len(x) == 0:
        return float("nan"), None, {}
    was_training = model.training
    model.eval()
    fn = elementwise(loss, options)
    classification = is_classification(loss)
    scores = Scores(metrics, 1, loss, classes)
    total = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for start in range(0, len(x), EVAL_CHUNK):
        out = model(x[start : start + EVAL_CHUNK])
        target = y[start : start + EVAL_CHUNK]
        total += fn(out, target).double().sum()  # float64 over rows: chunking changes nothing
        if classification:
            correct += (predicted_class(out, loss) == target).sum()
        scores.add(out.unsqueeze(0), target)
    model.train(was_training)
    n = len(x) * (1 if classification else y[0].numel())
    mean = (total / n).item()
    acc = (correct.double() / len(x)).item() if classification else None
    return mean, acc, scores.result()[0]


def batch_orders(n: int, seed: int, device: torch.device) -> BatchOrders:
    """One permutation of the training rows per epoch, forever (``next()`` gives the next epoch's).

    The same seed gives every variant (in any engine) the same batches in the same order.
    """
    return BatchOrders(n, seed, device)


class BatchOrders:
    """The batch-order stream of one seed; its position is :meth:`state` (a checkpoint resumes it)."""

    def __init__(self, n: int, seed: int, device: torch.device):
        self.n, self.device = n, device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.generator).to(self.device)

    def state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)
