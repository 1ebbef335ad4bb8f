"""The sequential engine: one variant, the plain PyTorch loop, data resident on the device."""

from __future__ import annotations

import math
import time

import torch

from lrsweep.engine import checkpoint
from lrsweep.engine.batches import as_batches
from lrsweep.engine.common import (
    STATUS_DIVERGED,
    STATUS_DONE,
    Callbacks,
    Column,
    EpochRecord,
    NoCallbacks,
    TrainSpec,
    VariantResult,
    diverged,
    evaluate_all,
    prefixed,
    spec_for,
)
from lrsweep.engine.losses import is_classification, loss_fn, predicted_class
from lrsweep.engine.precision import Amp, maybe_compile
from lrsweep.engine.stopping import should_stop
from lrsweep.models import build_model
from lrsweep.optim import build_optimizer

DIVERGENCE_CHECK_EVERY = 16  # batches between NaN checks (each check syncs with the device)


def steps_per_epoch(n_rows: int, batch_size: int) -> int:
    return max(1, math.ceil(n_rows / batch_size))


def initial_state(spec: TrainSpec, optimizer_config, lr: float, seed: int, device):
    """The model and optimizer a variant starts from, in every engine and in the range test.

    The same seed gives the same initial weights; the global RNG is seeded too, for dropout.
    """
    torch.manual_seed(seed)
    model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed)
    model = model.to(device).train()
    optimizer = build_optimizer(optimizer_config.name, model.parameters(), lr, optimizer_config.options)
    return model, optimizer


class SequentialTrainer:
    """One variant, trained an epoch at a time (so a caller can stop it at a rung).

    The data must already be on the device the training should run on. Each epoch is
    evaluated on ``evaluation`` when given; a NaN/inf loss ends the variant as ``diverged``.
    """

    def __init__(
        self,
        variant,
        spec: TrainSpec,
        train,
        evaluation: tuple[Column, Column] | None = None,
        callbacks: Callbacks | None = None,
    ):
        from lrsweep.optim.schedulers import ScheduleDriver

        spec = spec_for(spec, [variant])  # its own batch size, when batch size is a sweep axis
        self.variant, self.spec = variant, spec
        self.x, self.y = train
        self.evaluation = evaluation
        self.callbacks = callbacks or NoCallbacks()
        self.model, self.optimizer = initial_state(spec, variant.optimizer, variant.lr, variant.seed, self.x.device)
        self.amp = Amp(spec.precision, self.x.device, spec.grad_clip, self.model.parameters)
        self.forward = maybe_compile(self.model, spec.compile, self.x.device)  # the training pass only
        n_steps = steps_per_epoch(len(self.x), spec.batch_size)
        self.driver = ScheduleDriver(variant.scheduler, self.optimizer, spec.epochs, n_steps, variant.lr)
        self.record_steps = variant.scheduler.interval == "step"
        self.fn = loss_fn(spec.loss, spec.loss_options)
        self.batches = as_batches(train, [variant.seed], spec)  # orders (and augmentation) of this seed
        self.result = VariantResult(variant.id, STATUS_DONE)
        self.reference_loss: float | None = None  # the first batch's loss before any step (see engine.common.diverged)
        self.rng = checkpoint.rng_state(self.x.device)  # seeded by initial_state; run() trains on it

    @property
    def epochs_run(self) -> int:
        return len(self.result.epochs)

    @property
    def finished(self) -> bool:
        result = self.result
        return result.status != STATUS_DONE or result.stopped_early or self.epochs_run >= self.spec.epochs

    def evaluate(self, x, y) -> tuple[float, float | None, dict[str, float]]:
        """Loss, accuracy and train.metrics of the model as it is now, on ``(x, y)``."""
        spec = self.spec
        return evaluate_all(self.model, x, y, spec.loss, spec.loss_options, spec.metrics, spec.classes)

    def run_epoch(self) -> EpochRecord:
        t0 = time.perf_counter()
        epoch_lr = self.optimizer.param_groups[0]["lr"]
        train_loss, train_acc = self._train_epoch(self.batches.epoch())
        val_loss, val_acc, further = self.evaluate(*self.evaluation) if self.evaluation else (None, None, {})
        seconds = time.perf_counter() - t0
        record = EpochRecord(self.epochs_run + 1, epoch_lr, train_loss, train_acc, val_loss, val_acc, seconds)
        record.metrics = prefixed("val", further)
        self.result.epochs.append(record)
        self.result.seconds += seconds
        self.callbacks.on_epoch(self.variant.id, record)
        if diverged(train_loss, self.reference_loss) or diverged(val_loss, self.reference_loss):
            self.result.status = STATUS_DIVERGED
        else:
            self.driver.after_epoch(val_loss if val_loss is not None else train_loss)
            rule = self.spec.early_stopping if self.evaluation else None  # the retrain has no split to watch
            self.result.stopped_early = self.epochs_run < self.spec.epochs and should_stop(self.result.epochs, rule)
        self._report_checkpoint()
        return record

    # ---- checkpoints (see lrsweep.engine.checkpoint)

    def _report_checkpoint(self) -> None:
        if not self.finished:
            checkpoint.report(self.callbacks, [self.variant.id], self.checkpoint_state)

    def checkpoint_state(self) -> dict:
        """Everything the next epoch depends on, as CPU copies (see :mod:`lrsweep.engine.checkpoint`)."""
        return checkpoint.to_cpu(
            {
                "format": checkpoint.STATE_FORMAT,
                "kind": "sequential",
                "variant_ids": [self.variant.id],
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "driver": checkpoint.driver_state(self.driver),
                "rng": checkpoint.rng_state(self.x.device),
                "orders": self.batches.state_dict(),
                "result": checkpoint.result_state(self.result),
                "reference": self.reference_loss,  # the divergence rule's loss at initialisation
                "scaler": self.amp.scaler.state_dict() if self.amp.scaler else None,  # fp16 loss scale
            }
        )

    def restore(self, state: dict) -> None:
        """Carry on from ``state`` (of this variant, by :meth:`checkpoint_state`); ValueError if it is not."""
        checkpoint.check_state(state, "sequential", [self.variant.id])
        device = self.x.device
        self.model.load_state_dict(checkpoint.to_device(state["model"], device))
        self.optimizer.load_state_dict(checkpoint.to_device(state["optimizer"], device))
        checkpoint.set_driver_state(self.driver, state["driver"])
        self.rng = state["rng"]
        self.batches.load_state_dict(state["orders"])
        self.result = checkpoint.result_from_state(state["result"])
        self.reference_loss = state.get("reference")
        if self.amp.scaler is not None and state.get("scaler"):
            self.amp.scaler.load_state_dict(state["scaler"])

    def run(self, until: int | None = None, test: tuple[Column, Column] | None = None) -> VariantResult:
        """Train up to epoch ``until`` (default: all); score ``test`` at the end when given."""
        until = self.spec.epochs if until is None else min(until, self.spec.epochs)
        with checkpoint.own_rng(self, self.x.device):
            while not self.finished and self.epochs_run < until:
                self.run_epoch()
        if test is not None and self.result.status == STATUS_DONE and (self.finished or self.epochs_run >= until):
            self.result.test_loss, self.result.test_acc, further = self.evaluate(*test)
            self.result.test_metrics = prefixed("test", further)
        return self.result

    def _train_epoch(self, batches) -> tuple[float, float | None]:
        """One pass over the epoch's batches; mean loss and accuracy over the epoch."""
        x, spec, optimizer, seed = self.x, self.spec, self.optimizer, self.variant.seed
        lr_steps = self.result.lr_steps if self.record_steps else None
        classification = is_classification(spec.loss)
        total = torch.zeros((), device=x.device)
        correct = torch.zeros((), device=x.device, dtype=torch.int64)
        seen = 0
        for i, batch in enumerate(batches):
            xb, yb = batch.get(seed)
            optimizer.zero_grad(set_to_none=True)
            with self.amp.autocast():
                out = self.forward(xb)
                loss = self.fn(out, yb)
            self.amp.backward(loss)
            if self.reference_loss is None:
                self.reference_loss = float(loss.detach())
            if lr_steps is not None:
                lr_steps.append(optimizer.param_groups[0]["lr"])
            self.amp.step(optimizer)
            self.driver.after_batch()
            total += loss.detach() * len(yb)
            seen += len(yb)
            if classification:
                correct += (predicted_class(out.detach(), spec.loss) == yb).sum()
            if i % DIVERGENCE_CHECK_EVERY == DIVERGENCE_CHECK_EVERY - 1 and not torch.isfinite(total):
                break
        mean = (total / seen).item()
        acc = correct.item() / seen if classification else None
        return mean, acc


def train_variant(
    variant, spec: TrainSpec, train, evaluation=None, callbacks: Callbacks | None = None, test=None
) -> VariantResult:
    """Train one variant for ``spec.epochs`` epochs (see :class:`SequentialTrainer`).

    KeyboardInterrupt propagates; the epochs finished before it were reported to ``callbacks``.
    """
    return SequentialTrainer(variant, spec, train, evaluation, callbacks).run(test=test)
