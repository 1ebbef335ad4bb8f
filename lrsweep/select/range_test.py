"""The learning-rate range test: train while the LR rises, one point per optimizer step, and leave the
model, optimizer and RNG exactly as they were. Never prints, never touches files.

One loop (:func:`run_range_test`) over an :class:`Objective`, whatever holds the data: lrsweep's
resident tensors (:func:`range_test`, for ``lrsweep find`` and ``tune``) or the user's own loader and
loss (:mod:`lrsweep.select.range_objects`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lrsweep.errors import UsageError
from lrsweep.select.edge import edge_of
from lrsweep.select.finder import DEFAULT_SUGGESTER, FinderResult, FinderSettings
from lrsweep.select.snapshot import Snapshot
from lrsweep.select.suggest import descent_start, divergence_onset, stopped_falling, suggest_checked

if TYPE_CHECKING:  # torch is imported where it is used
    import torch

VAL_CHUNK = 4096  # rows per forward pass when scoring the validation split

OnStep = Callable[[int, float, float, float], None]  # (step, lr, loss, smoothed)


@dataclass
class Objective:
    """What a range test trains on: the loop draws losses from it and never sees the data itself."""

    loss: Callable[[], torch.Tensor]  # the next micro-batch's mean loss, in training mode, its graph kept
    probe: Callable[[], torch.Tensor] | None = None  # one fixed batch's loss, for the stability edge
    evaluate: Callable[[], float] | None = None  # the validation loss (settings.use_val)
    generators: tuple = ()  # torch.Generators the batches draw from: restored afterwards too


def lr_schedule(settings: FinderSettings) -> list[float]:
    """The LR of each optimizer step: geometric (exp) or arithmetic (linear) from start_lr to end_lr."""
    n, lo, hi = settings.steps, settings.start_lr, settings.end_lr
    if settings.mode == "exp":
        return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def lr_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each param group's LR over the first non-zero one's: the test moves that group's LR, the others keep
    their ratio to it (all 1 when every group starts at 0)."""
    lrs = [float(group["lr"]) for group in optimizer.param_groups]
    reference = next((lr for lr in lrs if lr > 0), None)
    return [lr / reference if reference else 1.0 for lr in lrs]


def set_lr(optimizer: torch.optim.Optimizer, lr: float, ratios: list[float]) -> None:
    """The reference group's LR to ``lr``, each other group's to ``lr`` x its ratio (a tensor LR in place)."""
    import torch

    for group, ratio in zip(optimizer.param_groups, ratios):
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr * ratio)
        else:
            group["lr"] = lr * ratio


# --- the loop -------------------------------------------------------------------------------------


def run_range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    settings: FinderSettings = FinderSettings(),
    *,
    device: torch.device | None = None,
    on_step: OnStep | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> FinderResult:
    """Run the LR range test on ``objective`` and read suggestions off its curve; all state is restored afterwards.

    Args:
        model, optimizer: trained in place during the test, then restored bit for bit (also on error or
            Ctrl-C; see :mod:`lrsweep.select.snapshot`). With several param groups the curve's LR is the
            first non-zero group's; the others keep their ratio to it (:func:`lr_ratios`).
        objective: where the losses come from.
        settings: the LR range and stopping rules.
        device: where the model is (whose RNG is kept besides the CPU's).
        on_step: called after each optimizer step with (step, lr, loss, smoothed).
        on_notice: told when the stability edge cannot be measured (the model's ops lack double
            backward); without it that error propagates.
    Raises:
        UsageError: bad arguments, or too few usable points to suggest an LR.
    """
    import torch

    if settings.use_val and objective.evaluate is None:
        raise UsageError("use_val needs a validation split, but none was given")
    snapshot = Snapshot.capture(model, optimizer, objective.generators, device)
    began = time.perf_counter()
    edge: tuple[float | None, float | None, int] = (None, None, 0)
    try:
        with torch.enable_grad():
            ratios = lr_ratios(optimizer)
            if settings.edge and objective.probe is not None:
                edge = _edge(model, optimizer, objective.probe, ratios, on_notice)
            model.train()
            lrs, losses, smoothed, stopped = _run(optimizer, objective, settings, ratios, on_step)
    finally:
        snapshot.restore()
    edge_lr, lam, passes = edge
    onset = lrs[divergence_onset(losses)] if stopped != "completed" else None
    bounds = [b for b in (onset, edge_lr) if b is not None]
    return FinderResult(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        suggestions=suggest_checked(lrs, smoothed, stopped, settings),
        default=DEFAULT_SUGGESTER,
        divergence_lr=min(bounds) if bounds else None,
        stopped=stopped,
        stop_lr=lrs[-1],
        steps_run=len(lrs),
        seconds=time.perf_counter() - began,
        settings=settings,
        edge_lr=edge_lr,
        sharpness=lam,
        onset_lr=onset,
        stopped_falling_lr=stopped_falling(lrs, smoothed),
        falling_lr=descent_start(lrs, smoothed, settings),
        edge_steps=passes,
    )


def _edge(model, optimizer, probe, ratios, on_notice) -> tuple[float | None, float | None, int]:
    """The stability edge, or (None, None, 0) with a notice where the loss has no second derivative."""
    import torch

    try:
        return edge_of(model, optimizer, probe, ratios)
    except RuntimeError as exc:  # e.g. "derivative for ... is not implemented" (double backward)
        if on_notice is None or isinstance(exc, torch.OutOfMemoryError):
            raise
        on_notice(f"no stability edge: the Hessian of this loss could not be measured ({str(exc).splitlines()[0]})")
        return None, None, 0


def _train_step(optimizer, next_loss: Callable[[], torch.Tensor], accumulate: int) -> float:
    """One optimizer step over ``accumulate`` micro-batches; returns their mean loss (not stepping on non-finite).

    The losses are read once per step (one host sync), as Python floats summed in order.
    """
    import torch

    optimizer.zero_grad(set_to_none=True)
    parts = []
    for _ in range(accumulate):
        loss = next_loss()
        (loss / accumulate).backward()
        parts.append(loss.detach().reshape(()))
    values = torch.stack(parts).tolist() if len({p.dtype for p in parts}) == 1 else [float(p) for p in parts]
    mean = sum(values) / accumulate
    if math.isfinite(mean):
        optimizer.step()
    return mean


def _run(optimizer, objective: Objective, settings: FinderSettings, ratios: list[float], on_step):
    """The loop itself: returns (lrs, losses, smoothed, stopped)."""
    lrs, losses, smoothed = [], [], []
    avg, best, beta = 0.0, math.inf, settings.smooth_beta
    for step, lr in enumerate(lr_schedule(settings)):
        set_lr(optimizer, lr, ratios)
        loss = _train_step(optimizer, objective.loss, settings.accumulate)
        if settings.use_val and math.isfinite(loss):
            assert objective.evaluate is not None  # checked by run_range_test
            loss = objective.evaluate()
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (step + 1))  # bias correction counts this test's steps only
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(smooth)
        if on_step is not None:
            on_step(step, lr, loss, smooth)
        if not math.isfinite(smooth):
            return lrs, losses, smoothed, "nonfinite"
        best = min(best, smooth)
        if best > 0 and smooth > settings.diverge_factor * best:  # a ratio test means nothing for losses <= 0
            return lrs, losses, smoothed, "diverged"
    return lrs, losses, smoothed, "completed"


# --- on lrsweep's resident tensors ----------------------------------------------------------------


def _batches(n: int, batch_size: int, generator, device: torch.device) -> Iterator[torch.Tensor]:
    """Index tensors of shuffled batches, reshuffling at each epoch, forever."""
    import torch

    gen_device = generator.device if generator is not None else torch.device("cpu")
    while True:
        order = torch.randperm(n, generator=generator, device=gen_device).to(device)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]


def _evaluate(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean loss over (x, y) in eval mode, in chunks (assumes loss_fn averages over rows)."""
    import torch

    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), VAL_CHUNK):
            xb, yb = x[start : start + VAL_CHUNK], y[start : start + VAL_CHUNK]
            total += float(loss_fn(model(xb), yb)) * len(xb)
    model.train(was_training)
    return total / len(x)


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    batch_size: int,
    settings: FinderSettings = FinderSettings(),
    *,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    on_step: OnStep | None = None,
) -> FinderResult:
    """The range test on resident tensors (:func:`run_range_test`, batches as index slices).

    Args:
        model, optimizer: trained in place during the test, then restored bit for bit (also on error).
        loss_fn: ``loss_fn(outputs, targets)`` -> mean loss over the batch.
        train_x, train_y: resident tensors on the model's device; batches are index slices.
        batch_size: rows per micro-batch.
        settings: the LR range and stopping rules.
        val: (x, y) of the validation split; required when ``settings.use_val``.
        generator: drives the batch order (its state is restored too); the global RNG when None.
        on_step: called after each optimizer step with (step, lr, loss, smoothed).
    Raises:
        UsageError: bad arguments, or too few usable points to suggest an LR.
    """
    import torch

    if settings.use_val and (val is None or len(val[0]) == 0):
        raise UsageError("use_val needs a validation split, but none was given")
    if batch_size < 1 or len(train_x) == 0:
        raise UsageError(f"the range test needs batch_size >= 1 and training rows, got {batch_size} and {len(train_x)}")
    batches = _batches(len(train_x), batch_size, generator, train_x.device)  # draws nothing until the loop runs

    def loss() -> torch.Tensor:
        idx = next(batches)
        return loss_fn(model(train_x[idx]), train_y[idx])

    def probe() -> torch.Tensor:  # a fixed batch, apart from the test's own order
        first = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:batch_size]
        first = first.to(train_x.device)
        return loss_fn(model(train_x[first]), train_y[first])

    objective = Objective(
        loss=loss,
        probe=probe,
        evaluate=None if val is None else (lambda: _evaluate(model, loss_fn, *val)),
        generators=(generator,),
    )
    return run_range_test(model, optimizer, objective, settings, device=train_x.device, on_step=on_step)
