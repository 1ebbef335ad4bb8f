"""The sequential engine: one variant, the plain PyTorch loop, data resident on the device."""

from __future__ import annotations

import math
import time

import torch

from lrsweep.engine.common import (
    STATUS_DIVERGED, STATUS_DONE, Callbacks, EpochRecord, NoCallbacks, TrainSpec, VariantResult,
    batch_orders, evaluate, loss_fn,
)
from lrsweep.models import build_model
from lrsweep.optim import build_optimizer

DIVERGENCE_CHECK_EVERY = 16  # batches between NaN checks (each check syncs with the device)


def steps_per_epoch(n_rows: int, batch_size: int) -> int:
    return max(1, math.ceil(n_rows / batch_size))


def train_variant(
    variant,
    spec: TrainSpec,
    train: tuple[torch.Tensor, torch.Tensor],
    evaluation: tuple[torch.Tensor, torch.Tensor] | None,
    callbacks: Callbacks | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> VariantResult:
    """Train one variant for ``spec.epochs`` epochs; evaluate on ``evaluation`` after each.

    The data must already be on the device the training should run on. Returns the per-epoch
    records, and the final model's score on ``test`` when given; a NaN/inf loss stops the variant with status ``diverged``. KeyboardInterrupt
    propagates (the caller marks the variant interrupted; its finished epochs were reported).
    """
    from lrsweep.schedulers import ScheduleDriver

    callbacks = callbacks or NoCallbacks()
    x, y = train
    device = x.device
    torch.manual_seed(variant.seed)  # dropout and any other randomness the model draws
    model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, variant.seed)
    model.to(device).train()
    optimizer = build_optimizer(variant.optimizer.name, model.parameters(), variant.lr, variant.optimizer.options)
    n_steps = steps_per_epoch(len(x), spec.batch_size)
    driver = ScheduleDriver(variant.scheduler, optimizer, spec.epochs, n_steps, variant.lr)
    record_steps = variant.scheduler.interval == "step"
    result = VariantResult(variant.id, STATUS_DONE)
    fn = loss_fn(spec.loss)
    orders = batch_orders(len(x), variant.seed, device)
    started = time.perf_counter()
    for epoch in range(1, spec.epochs + 1):
        t0 = time.perf_counter()
        epoch_lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = _train_epoch(model, optimizer, driver, fn, spec, x, y, next(orders),
                                             result.lr_steps if record_steps else None)
        val_loss, val_acc = evaluate(model, *evaluation, spec.loss) if evaluation else (None, None)
        record = EpochRecord(epoch, epoch_lr, train_loss, train_acc, val_loss, val_acc, time.perf_counter() - t0)
        result.epochs.append(record)
        callbacks.on_epoch(variant.id, record)
        if not all(math.isfinite(v) for v in (train_loss, val_loss if val_loss is not None else 0.0)):
            result.status = STATUS_DIVERGED
            break
        driver.after_epoch(val_loss if val_loss is not None else train_loss)
    if test is not None and result.status == STATUS_DONE:
        result.test_loss, result.test_acc = evaluate(model, *test, spec.loss)
    result.seconds = time.perf_counter() - started
    return result


def _train_epoch(model, optimizer, driver, fn, spec, x, y, order, lr_steps) -> tuple[float, float | None]:
    """One pass in mini-batches by index slicing; returns mean loss and accuracy over the epoch."""
    classification = spec.loss == "cross_entropy"
    total = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    seen = 0
    for i, start in enumerate(range(0, len(x), spec.batch_size)):
        index = order[start:start + spec.batch_size]
        xb, yb = x[index], y[index]
        optimizer.zero_grad(set_to_none=True)
        out = model(xb)
        loss = fn(out, yb)
        loss.backward()
        if lr_steps is not None:
            lr_steps.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        driver.after_batch()
        total += loss.detach() * len(index)
        seen += len(index)
        if classification:
            correct += (out.detach().argmax(dim=1) == yb).sum()
        if i % DIVERGENCE_CHECK_EVERY == DIVERGENCE_CHECK_EVERY - 1 and not torch.isfinite(total):
            break
    mean = (total / seen).item()
    acc = correct.item() / seen if classification else None
    return mean, acc
