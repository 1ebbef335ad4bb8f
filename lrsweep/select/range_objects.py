"""The range test on the user's own objects: any ``nn.Module``, any ``torch.optim`` optimizer (or what a
LightningModule's ``configure_optimizers()`` returns), any iterable of batches (cycled when shorter than
the test, each batch moved to the model's device), and the loss as ``loss_fn(model(x), y)`` or
``step_fn(model, batch)``. The loop, the suggestions and the restoring are :mod:`lrsweep.select.range_test`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lrsweep.errors import UsageError
from lrsweep.select.finder import FinderResult, FinderSettings
from lrsweep.select.range_test import Objective, OnStep, run_range_test

if TYPE_CHECKING:
    import torch

StepFn = Callable[[Any, Any], Any]  # step_fn(model, batch) -> the loss (a scalar tensor, {"loss": ...} or .loss)


def one_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """The optimizer in ``optimizer``: an Optimizer, or what ``configure_optimizers()`` returns around one."""
    import torch

    found = optimizer
    if isinstance(found, Mapping) and "optimizer" in found:  # {"optimizer": opt, "lr_scheduler": ...}
        found = found["optimizer"]
    if isinstance(found, tuple) and len(found) == 2 and all(isinstance(part, (list, tuple)) for part in found):
        found = found[0]  # ([optimizers], [schedulers])
    if isinstance(found, (list, tuple)):
        if len(found) != 1:
            raise UsageError(
                f"optimizer: the range test drives one optimizer, got {len(found)} (several optimizers, as a "
                "GAN has, need a range test each)"
            )
        return one_optimizer(found[0])
    if not isinstance(found, torch.optim.Optimizer):
        raise UsageError(
            f"optimizer: expected a torch.optim.Optimizer (or what configure_optimizers() returns), "
            f"got {type(optimizer).__name__}"
        )
    if isinstance(found, torch.optim.LBFGS):
        raise UsageError("optimizer: LBFGS steps through a closure; the range test takes one step per batch")
    return found


def model_device(model: torch.nn.Module, device: Any = None) -> torch.device:
    """Where the batches go: ``device``, else where the model's first parameter (or buffer) is, else the CPU.

    lrsweep never moves the model (its optimizer's state would stay behind), so a ``device`` the model
    has no parameter on is refused.
    """
    import torch

    where = {t.device for t in [*model.parameters(), *model.buffers()]}
    first = next(iter([*model.parameters(), *model.buffers()]), None)
    if device is None:
        return first.device if first is not None else torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(f"device: {device!r} is not a torch device ({exc})") from None
    if where and not any(d.type == chosen.type and chosen.index in (None, d.index) for d in where):
        on = ", ".join(sorted(str(d) for d in where))
        raise UsageError(
            f"device={device!r}: the model is on {on}; lrsweep.find does not move your model (its optimizer's "
            "state would stay behind): move it there before making the optimizer, or leave device out"
        )
    return chosen


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it on ``device`` (tuples, named tuples, lists, dicts; else ``.to``)."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if type(batch) is dict:
        return {k: to_device(v, device) for k, v in batch.items()}
    if callable(getattr(batch, "to", None)):  # a BatchEncoding, a graph batch, ...
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def cycled(batches: Iterable) -> Generator:
    """The batches of ``batches``, starting over each time it runs out (a DataLoader reshuffles)."""
    try:
        iterator = iter(batches)
    except TypeError:
        raise UsageError(f"train_loader: expected an iterable of batches, got {type(batches).__name__}") from None
    served = 0
    while True:
        count = 0
        for count, batch in enumerate(iterator, 1):  # noqa: B007  count is read after the loop
            yield batch
        if count == 0:
            raise UsageError(f"train_loader yielded no batches{' on a later pass' if served else ''}")
        served += count
        again = iter(batches)
        if again is iterator:
            raise UsageError(
                f"train_loader ran out after {served} batches and cannot start over (an iterator or generator): "
                "pass a list or a DataLoader, or fewer steps"
            )
        iterator = again


def as_loss(out: Any, source: str) -> torch.Tensor:
    """The loss in what ``source`` returned: a scalar tensor, ``{"loss": ...}`` or an object's ``.loss``."""
    import torch

    loss = out
    if isinstance(out, Mapping) and "loss" in out:
        loss = out["loss"]
    elif not isinstance(out, torch.Tensor) and isinstance(getattr(out, "loss", None), torch.Tensor):
        loss = out.loss
    if not isinstance(loss, torch.Tensor):
        raise UsageError(
            f"{source} returned {type(out).__name__}: it must return the loss, a scalar tensor "
            "(or a dict with 'loss', or an object with .loss)"
        )
    if loss.numel() != 1:
        raise UsageError(
            f"{source} returned a loss of shape {list(loss.shape)}: the range test needs the mean over the batch, "
            "one number (reduction='mean')"
        )
    if not loss.requires_grad:
        raise UsageError(
            f"{source} returned a loss that does not require grad: are the model's parameters frozen, or was it "
            "computed under torch.no_grad()?"
        )
    return loss


def batch_loss(model, loss_fn: Callable | None, step_fn: StepFn | None) -> Callable[[Any], torch.Tensor]:
    """A function from a batch (on the device) to its loss."""
    if step_fn is not None:
        return lambda batch: as_loss(step_fn(model, batch), "step_fn")
    assert loss_fn is not None, "checked by range_test_objects"

    def loss(batch):
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2):
            raise UsageError(
                f"a batch is {_kind(batch)}, not an (inputs, targets) pair: give step_fn=lambda model, batch: ... "
                "returning the loss"
            )
        inputs, targets = batch
        return as_loss(loss_fn(model(inputs), targets), "loss_fn")

    return loss


def _kind(batch: Any) -> str:
    if isinstance(batch, (list, tuple)):
        return f"a {type(batch).__name__} of {len(batch)}"
    return f"a {type(batch).__name__}"


def _loader_generators(loader: Any) -> tuple:
    """The torch.Generators a DataLoader shuffles with: iterating draws from them, so they are restored too."""
    import torch

    found = [getattr(loader, "generator", None), getattr(getattr(loader, "sampler", None), "generator", None)]
    unique = {id(g): g for g in found if isinstance(g, torch.Generator)}
    return tuple(unique.values())


def range_test_objects(
    model: torch.nn.Module,
    optimizer: Any,
    train_loader: Iterable,
    loss_fn: Callable | None = None,
    *,
    step_fn: StepFn | None = None,
    settings: FinderSettings = FinderSettings(),
    device: Any = None,
    on_step: OnStep | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> FinderResult:
    """The range test on the user's model, optimizer and batches; everything is restored afterwards.

    Args:
        model: any ``nn.Module``; put in training mode for the test (its modes are restored after).
        optimizer: a ``torch.optim.Optimizer`` (or what ``configure_optimizers()`` returns around one). With
            several param groups the test moves the first non-zero group's LR and keeps the others' ratio to it.
        train_loader: an iterable of batches; started over when it runs out (it must be re-iterable then).
        loss_fn: ``loss_fn(model(x), y)`` -> the mean loss, for batches that are (x, y) pairs.
        step_fn: ``step_fn(model, batch)`` -> the loss, for anything else (instead of loss_fn).
        settings: the LR range and stopping rules (``use_val`` is not available here).
        device: where batches go (default: where the model is); the model is never moved.
        on_step: called after each optimizer step with (step, lr, loss, smoothed).
        on_notice: told when the stability edge cannot be measured.
    """
    if (loss_fn is None) == (step_fn is None):
        raise UsageError(
            "give loss_fn (called as loss_fn(model(x), y) on (x, y) batches) or step_fn (called as "
            f"step_fn(model, batch), returning the loss){', not both' if loss_fn is not None else ''}"
        )
    if settings.use_val:
        raise UsageError("use_val: the range test on your own objects records the training loss (no validation set)")
    optimizer = one_optimizer(optimizer)
    where = model_device(model, device)
    loss_of = batch_loss(model, loss_fn, step_fn)
    batches = _Batches(train_loader, where, loss_of)
    try:
        return run_range_test(
            model,
            optimizer,
            Objective(loss=batches.next_loss, probe=batches.first_loss, generators=_loader_generators(train_loader)),
            settings,
            device=where,
            on_step=on_step,
            on_notice=on_notice,
        )
    finally:
        batches.close()  # a DataLoader's worker processes stop now, not when the garbage is collected


class _Batches:
    """Draws batches only once the test has taken its snapshot (a DataLoader's shuffle uses the global RNG);
    the first batch serves the stability edge, then the first step."""

    def __init__(self, loader: Iterable, device: torch.device, loss_of: Callable[[Any], torch.Tensor]):
        self.loader, self.device, self.loss_of = loader, device, loss_of
        self.batches: Generator | None = None
        self.peeked: Any = None

    def _next(self) -> Any:
        if self.batches is None:
            self.batches = cycled(self.loader)
        return to_device(next(self.batches), self.device)

    def first_loss(self) -> torch.Tensor:
        if self.peeked is None:
            self.peeked = self._next()
        return self.loss_of(self.peeked)

    def close(self) -> None:
        if self.batches is not None:
            self.batches.close()
        self.batches = self.peeked = None

    def next_loss(self) -> torch.Tensor:
        batch = self.peeked if self.peeked is not None else self._next()
        self.peeked = None
        return self.loss_of(batch)
