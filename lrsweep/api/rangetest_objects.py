"""``lrsweep.find(model, optimizer, train_loader, loss_fn)``: the range test on your own objects, left
exactly as they were; a run directory only when ``out=`` is given."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrsweep.api.find_result import FindResult, check_plot, finder_settings, save_find
from lrsweep.errors import UsageError
from lrsweep.select.finder import DEFAULT_SUGGESTER, FinderSettings, completion_note

if TYPE_CHECKING:
    import torch

    from lrsweep.select.range_objects import StepFn


def find_objects(
    model: torch.nn.Module,
    optimizer: Any,
    train_loader: Iterable,
    loss_fn: Callable | None = None,
    *,
    step_fn: StepFn | None = None,
    settings: FinderSettings | None = None,
    start: float | None = None,
    end: float | None = None,
    steps: int | None = None,
    mode: str | None = None,
    suggest: str = DEFAULT_SUGGESTER,
    device: Any = None,
    out: str | Path | None = None,
    name: str | None = None,
    plot: bool = False,
    on_step: Callable | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> FindResult:
    """The LR range test on your model, optimizer and batches; they are left exactly as they were.

    Args:
        model: any ``nn.Module``, where it already is (it is never moved).
        optimizer: any ``torch.optim`` optimizer, state and schedulers included (or what a LightningModule's
            ``configure_optimizers()`` returns around one). With several param groups the test moves the
            first non-zero group's LR and keeps the others' ratios to it: the suggestion is that group's LR.
        train_loader: an iterable of batches (a DataLoader, a list of ``(x, y)``); started over when shorter
            than the test. Each batch is moved to ``device``.
        loss_fn: the mean loss as ``loss_fn(model(x), y)`` of an ``(x, y)`` batch.
        step_fn: instead of loss_fn, ``step_fn(model, batch)`` -> the loss (a scalar tensor, a dict with
            ``"loss"`` or an object with ``.loss``): several inputs, dict batches, ``training_step``.
        settings, start, end, steps, mode, suggest: as for :func:`lrsweep.api.rangetest.find_config`
            (``use_val`` is not available: no validation set).
        device: where batches go (default: where the model's first parameter is).
        out: a folder: write ``<out>/<name>-find-<stamp>/`` as ``lrsweep find`` does (find.json, find.csv;
            config.yaml describes the objects). None: no files.
        name: the run directory's prefix (default: the model's class name).
        plot: with ``out``, also draw plots/find.png (needs matplotlib; :meth:`FindResult.plot` draws it later).
        on_step: called as ``on_step(step, lr, loss, smoothed)`` after each step.
        on_notice: called with each note (also in ``FindResult.notes``).

    Restored afterwards, also on an error or Ctrl-C (which propagate): weights, buffers, gradients,
    ``requires_grad`` flags and train/eval modes; the optimizer's state and param groups; the RNGs.
    """
    from lrsweep.select.range_objects import one_optimizer, range_test_objects

    settings = finder_settings(settings, suggest, start_lr=start, end_lr=end, steps=steps, mode=mode)
    check_plot(plot and out is not None)
    name = run_name(model, name) if out is not None else ""
    optimizer = one_optimizer(optimizer)
    notes = object_notes(optimizer)
    if on_notice is not None:
        for note in notes:
            on_notice(note)

    def notice(message: str) -> None:
        notes.append(message)
        if on_notice is not None:
            on_notice(message)

    result = range_test_objects(
        model,
        optimizer,
        train_loader,
        loss_fn,
        step_fn=step_fn,
        settings=settings,
        device=device,
        on_step=on_step,
        on_notice=notice,
    )
    notes += [n for n in (completion_note(result),) if n]
    run_dir = plot_file = None
    if out is not None:
        from lrsweep.api.common import run_meta
        from lrsweep.select.range_objects import model_device

        described = describe(name, model, optimizer, train_loader, step_fn or loss_fn)
        meta = run_meta(None, model_device(model, device))
        store, plot_file = save_find(Path(out), name, described, meta, result, plot)
        run_dir = store.path
    return FindResult(range_test=result, chosen=suggest, run_dir=run_dir, notes=notes, plot_file=plot_file)


def run_name(model: Any, name: str | None) -> str:
    """The run directory's prefix: ``name``, or the model's class name; checked as the config's ``name`` is."""
    from lrsweep.config.file import _file_name_prefix

    chosen = name if name is not None else type(model).__name__
    try:
        return _file_name_prefix(chosen)
    except ValueError as exc:
        raise UsageError(f"name: {exc}") from None


def object_notes(optimizer: torch.optim.Optimizer) -> list[str]:
    """What the user should know about how the test treats their optimizer."""
    from lrsweep.select.range_test import lr_ratios

    notes = []
    ratios = lr_ratios(optimizer)
    if len(set(ratios)) > 1:
        reference = ratios.index(1.0)
        others = ", ".join(f"{i}: x{r:g}" for i, r in enumerate(ratios) if i != reference)
        notes.append(
            f"the LRs on the curve are param group {reference}'s; the other groups keep their ratios to it ({others})"
        )
    if getattr(optimizer.step, "_wrapped_by_lr_sched", False):
        notes.append(
            "an LR scheduler is attached to the optimizer: the range test sets the LR itself and never steps it "
            "(the scheduler and the LRs are as they were afterwards)"
        )
    return notes


def describe(name: str, model, optimizer, train_loader, loss: Any) -> dict:
    """config.yaml of a run directory of the object form: what the test ran on (there is no config)."""
    params = {id(p): p for p in model.parameters()}.values()
    return {
        "name": name,
        "find_on": {  # lrsweep.find(model, optimizer, train_loader, ...): no config, the user's own objects
            "model": f"{type(model).__module__}.{type(model).__qualname__}",
            "parameters": sum(p.numel() for p in params),
            "optimizer": type(optimizer).__name__,
            "param_groups": [{k: _plain(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
            "batches": type(train_loader).__name__,
            "loss": getattr(loss, "__qualname__", type(loss).__name__),
        },
    }


def _plain(value: Any) -> Any:
    """A hyperparameter as YAML can hold it (a one-element tensor as its number, else its repr)."""
    import torch

    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return repr(value)
