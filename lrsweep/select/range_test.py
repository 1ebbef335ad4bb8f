"""The learning-rate range test: train while the LR rises, one point per optimizer step, and leave the
model, optimizer and RNG exactly as they were. Never prints, never touches files.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lrsweep.errors import UsageError
from lrsweep.select.edge import stability_edge
from lrsweep.select.finder import DEFAULT_SUGGESTER, FinderResult, FinderSettings
from lrsweep.select.suggest import descent_start, divergence_onset, stopped_falling, suggest_checked

if TYPE_CHECKING:  # torch is imported where it is used
    import torch

VAL_CHUNK = 4096  # rows per forward pass when scoring the validation split

OnStep = Callable[[int, float, float, float], None]  # (step, lr, loss, smoothed)


def lr_schedule(settings: FinderSettings) -> list[float]:
    """The LR of each optimizer step: geometric (exp) or arithmetic (linear) from start_lr to end_lr."""
    n, lo, hi = settings.steps, settings.start_lr, settings.end_lr
    if settings.mode == "exp":
        return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


# --- state snapshot -------------------------------------------------------------------------------


def _capture(model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator, device: torch.device) -> dict:
    """Everything the test may change, deep-copied."""
    import torch

    snap = {
        "model": copy.deepcopy(model.state_dict()),
        "modes": [m.training for m in model.modules()],
        "grads": [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "generator": None if generator is None else generator.get_state(),
    }
    if "numpy" in sys.modules:  # only if something loaded it; the test itself never needs numpy
        snap["numpy_rng"] = sys.modules["numpy"].random.get_state()
    if device.type == "cuda" or torch.cuda.is_initialized():
        snap["cuda_rng"] = torch.cuda.get_rng_state_all()
    if device.type == "mps":
        snap["mps_rng"] = torch.mps.get_rng_state()
    return snap


def _restore(snap: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator) -> None:
    import torch

    model.load_state_dict(snap["model"])
    for module, training in zip(model.modules(), snap["modes"]):
        module.training = training
    for param, grad in zip(model.parameters(), snap["grads"]):
        param.grad = grad
    optimizer.load_state_dict(snap["optimizer"])
    torch.set_rng_state(snap["torch_rng"])
    random.setstate(snap["python_rng"])
    if generator is not None:
        generator.set_state(snap["generator"])
    if "numpy_rng" in snap:
        sys.modules["numpy"].random.set_state(snap["numpy_rng"])
    if "cuda_rng" in snap:
        torch.cuda.set_rng_state_all(snap["cuda_rng"])
    if "mps_rng" in snap:
        torch.mps.set_rng_state(snap["mps_rng"])


# --- the test -------------------------------------------------------------------------------------


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


def _train_step(model, optimizer, loss_fn, x, y, batches: Iterator[torch.Tensor], accumulate: int) -> float:
    """One optimizer step over ``accumulate`` micro-batches; returns their mean loss (not stepping on non-finite)."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for _ in range(accumulate):
        idx = next(batches)
        loss = loss_fn(model(x[idx]), y[idx])
        (loss / accumulate).backward()
        total += float(loss.detach())
    mean = total / accumulate
    if math.isfinite(mean):
        optimizer.step()
    return mean


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
    """Run the LR range test and read suggestions off its curve; all state is restored afterwards.

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
    snap = _capture(model, optimizer, generator, train_x.device)
    began = time.perf_counter()
    edge_lr = lam = None
    passes = 0
    try:
        if settings.edge:
            first = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:batch_size]
            first = first.to(train_x.device)
            edge_lr, lam, passes = stability_edge(model, optimizer, loss_fn, train_x[first], train_y[first])
        model.train()
        curve = _run(model, optimizer, loss_fn, train_x, train_y, batch_size, settings, val, generator, on_step)
    finally:
        _restore(snap, model, optimizer, generator)
    lrs, losses, smoothed, stopped = curve
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


def _run(model, optimizer, loss_fn, x, y, batch_size, settings, val, generator, on_step):
    """The loop itself: returns (lrs, losses, smoothed, stopped)."""
    batches = _batches(len(x), batch_size, generator, x.device)
    lrs, losses, smoothed = [], [], []
    avg, best, beta = 0.0, math.inf, settings.smooth_beta
    for step, lr in enumerate(lr_schedule(settings)):
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _train_step(model, optimizer, loss_fn, x, y, batches, settings.accumulate)
        if settings.use_val and math.isfinite(loss):
            loss = _evaluate(model, loss_fn, *val)
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
