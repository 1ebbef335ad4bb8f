"""``find`` as a library call: the LR range test on a config or on your own objects, its run directory, and
a grid written around it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import yaml

from lrsweep.api.common import DEFAULT_OUT, ConfigLike, Overrides, load_config_any, load_splits, raw_config
from lrsweep.api.find_result import (  # noqa: F401  re-exported
    FindResult,
    check_plot,
    find_rows,
    finder_settings,
    save_find,
)
from lrsweep.config import Config
from lrsweep.errors import ConfigError, UsageError
from lrsweep.select.finder import (  # noqa: F401  MODES, SUGGESTERS: lrsweep find's choices (its enums, tested equal)
    DEFAULT_SUGGESTER,
    MODES,
    SUGGESTERS,
    FinderResult,
    FinderSettings,
    completion_note,
)

if TYPE_CHECKING:
    import torch

    from lrsweep.select.range_objects import StepFn

CONFIG_FORM = "lrsweep.find(config, overrides=None, *, start=, end=, steps=, ...)"
OBJECT_FORM = "lrsweep.find(model, optimizer, train_loader, loss_fn, *, step_fn=, start=, end=, steps=, ...)"


@overload
def find(
    config: ConfigLike,
    overrides: Overrides = None,
    *,
    settings: FinderSettings | None = ...,
    start: float | None = ...,
    end: float | None = ...,
    steps: int | None = ...,
    mode: str | None = ...,
    use_val: bool | None = ...,
    suggest: str = ...,
    device: str | None = ...,
    out: str | Path = ...,
    write_grid: str | Path | None = ...,
    plot: bool = ...,
    on_step: Callable | None = ...,
    on_notice: Callable[[str], None] | None = ...,
) -> FindResult: ...


@overload
def find(
    model: torch.nn.Module,
    /,
    optimizer: Any,
    train_loader: Iterable,
    loss_fn: Callable | None = None,
    *,
    step_fn: StepFn | None = ...,
    settings: FinderSettings | None = ...,
    start: float | None = ...,
    end: float | None = ...,
    steps: int | None = ...,
    mode: str | None = ...,
    suggest: str = ...,
    device: Any = ...,
    out: str | Path | None = ...,
    name: str | None = ...,
    plot: bool = ...,
    on_step: Callable | None = ...,
    on_notice: Callable[[str], None] | None = ...,
) -> FindResult: ...


def find(config: Any, *args: Any, **kwargs: Any) -> FindResult:
    """The LR range test, on a config (``lrsweep find``) or on your own model, optimizer and batches.

    ``find(config, overrides=None, ...)``: the config's model, optimizer and data, as the grid's first
    variant would train them (:func:`find_config`); writes ``<out>/<name>-find-<stamp>/``.

    ``find(model, optimizer, train_loader, loss_fn, ...)``: your ``nn.Module``, ``torch.optim`` optimizer,
    iterable of batches and loss (or ``step_fn(model, batch) -> loss``); the model and optimizer are left
    exactly as they were (:func:`lrsweep.api.rangetest_objects.find_objects`); no files unless ``out=``.

    Raises:
        UsageError: a first argument that is neither a config nor an ``nn.Module``, or arguments that fit
            neither form (a model without an optimizer, ...).
    """
    import inspect

    from lrsweep.api.rangetest_objects import find_objects

    function: Callable[..., FindResult]
    if _is_module(config):
        function, form = find_objects, OBJECT_FORM
    elif isinstance(config, (str, Path, Mapping, Config)):
        function, form = find_config, CONFIG_FORM
    else:
        raise UsageError(
            "lrsweep.find: the first argument is a config (a YAML path, a dict or a Config) or your model "
            f"(a torch.nn.Module), got {type(config).__name__}"
        )
    try:
        inspect.signature(function).bind(config, *args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"{form}: {exc}") from None
    return function(config, *args, **kwargs)


def _is_module(value: Any) -> bool:
    """An nn.Module, without importing torch for a config (if torch is not loaded, no Module exists)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def find_config(
    config: ConfigLike,
    overrides: Overrides = None,
    *,
    settings: FinderSettings | None = None,
    start: float | None = None,
    end: float | None = None,
    steps: int | None = None,
    mode: str | None = None,
    use_val: bool | None = None,
    suggest: str = DEFAULT_SUGGESTER,
    device: str | None = None,
    out: str | Path = DEFAULT_OUT,
    write_grid: str | Path | None = None,
    plot: bool = False,
    on_step: Callable | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> FindResult:
    """The LR range test on a config (``lrsweep find``): one short run with a rising LR, its suggestions, its run
    directory.

    Args:
        config: a YAML path, a dict or a Config; ``overrides`` as for :func:`grid`.
        settings: a :class:`~lrsweep.select.finder.FinderSettings`; ``start``/``end``/``steps``/``mode``/``use_val``
            replace single fields of it (defaults: FinderSettings').
        suggest: the suggestion to grid around (steep | valley | min10).
        device: where to run the test (overrides the config's; not written into ``write_grid``'s file).
        out: folder in which ``<name>-find-<stamp>/`` is created.
        write_grid: write a copy of the config whose ``lr`` is a grid around the suggestion there.
        plot: also draw plots/find.png (needs matplotlib; :meth:`FindResult.plot` draws it later).
        on_step: called as ``on_step(step, lr, loss, smoothed)`` after each step.
        on_notice: called with each note on what the test leaves out (also in ``FindResult.notes``).

    KeyboardInterrupt propagates and leaves no run directory.
    """
    settings = finder_settings(settings, suggest, start_lr=start, end_lr=end, steps=steps, mode=mode, use_val=use_val)
    from lrsweep.api.common import override_items, run_meta

    check_plot(plot)
    cfg = load_config_any(config, override_items(overrides) + ([f"device={device}"] if device else []))
    notes = scope_notes(cfg)
    if on_notice is not None:
        for note in notes:
            on_notice(note)
    result, torch_device = run_find(cfg, settings, on_step)
    notes += [n for n in (completion_note(result),) if n]
    store, plot_file = save_find(Path(out), cfg.name, cfg.to_dict(), run_meta(cfg, torch_device), result, plot)
    grid = None
    if write_grid is not None:
        grid = write_grid_config(config, overrides, Path(write_grid), result, suggest)
    return FindResult(
        range_test=result,
        chosen=suggest,
        run_dir=store.path,
        grid=grid,
        grid_file=Path(write_grid) if write_grid is not None else None,
        notes=notes,
        plot_file=plot_file,
    )


def run_find(config, settings: FinderSettings, on_step=None):
    """Build the model, optimizer and data exactly as the grid's first variant does; run the test."""
    import torch

    from lrsweep.engine.common import loss_fn
    from lrsweep.engine.device import resolve_device
    from lrsweep.engine.loop import initial_state
    from lrsweep.select.range_test import range_test
    from lrsweep.sweep.runner import train_spec

    torch_device = resolve_device(config.device)
    splits = load_splits(config).to(torch_device)
    spec = train_spec(config, splits)
    if settings.use_val and len(splits.val_x) == 0:
        raise UsageError("--val needs a validation split, but data.val_fraction is 0")
    seed, opt = config.seeds[0], config.optimizers[0]
    model, optimizer = initial_state(spec, opt, settings.start_lr, seed, torch_device)  # as the grid's variant
    generator = torch.Generator().manual_seed(seed)  # the grid's first-epoch batch order (batch_orders)
    val = (splits.val_x, splits.val_y) if settings.use_val else None
    result = range_test(
        model,
        optimizer,
        loss_fn(spec.loss, spec.loss_options),
        splits.train_x,
        splits.train_y,
        spec.batch_size,
        settings,
        val=val,
        generator=generator,
        on_step=on_step,
    )
    return result, torch_device


def scope_notes(config) -> list[str]:
    """What the range test leaves out of a config that sweeps more than the LR."""
    notes = []
    if len(config.optimizers) > 1:
        notes.append(
            f"the range test uses the first of {len(config.optimizers)} optimizers: {config.optimizers[0].label}"
        )
    if len(config.seeds) > 1:
        notes.append(f"the range test uses the first of {len(config.seeds)} seeds: {config.seeds[0]}")
    if any(s.type != "none" for s in config.schedulers):
        notes.append("the range test drives the LR itself; the config's scheduler does not apply to it")
    if len(config.batch_sizes) > 1:
        notes.append(
            f"the range test uses the first of {len(config.batch_sizes)} batch sizes: {config.batch_sizes[0]} "
            "(lrsweep tune finds an LR for each)"
        )
    return notes


def write_grid_config(
    config: ConfigLike, overrides: Overrides, target: Path, result: FinderResult, suggester: str
) -> list[float]:
    """Write ``config`` with its ``lr`` replaced by a grid around the suggestion to ``target``; returns the grid.

    From a file without overrides the user's text is kept (comments included) and only ``lr`` changes;
    otherwise the (overridden) config is written as plain YAML. Either way it is validated first.
    """
    from lrsweep.api.common import override_items
    from lrsweep.config import parse_config
    from lrsweep.run.files import atomic_write_text
    from lrsweep.select.finder import grid_around

    suggested = result.suggestion(suggester)
    grid = grid_around(suggested, result.ceiling)
    centre = grid[len(grid) // 2]
    where = (
        f"centred on the range test's {suggester} suggestion ({suggested:.3g})"
        if centre >= suggested / 1.01
        else f"centred at {centre:.3g}, below the range test's {suggester} suggestion ({suggested:.3g}), too near the "
        "ceiling to centre a grid on"
    )
    note = f"lr: {len(grid)} LRs {where}{_diverged_note(result)}, by lrsweep find"
    sets = override_items(overrides)
    from_file = isinstance(config, (str, Path))
    new_text: str | None = None
    if isinstance(config, (str, Path)) and not sets:
        new_text = replace_lr(Path(config).read_text(), grid, note)
    if new_text is None:
        raw, source = raw_config(config, sets)
        raw["lr"] = grid
        header = f"# Written by lrsweep find from {source} ({', '.join(sets) or 'as is'}).\n# {note}\n"
        new_text = header + yaml.safe_dump(raw, sort_keys=False)
    source = str(config) if from_file else "the given config"
    try:  # refuse to write what `lrsweep grid` would refuse
        parse_config(yaml.safe_load(new_text), source=str(target))
    except ConfigError as err:
        raise err.located(file=f"{target} (written from {source})") from None
    atomic_write_text(target, new_text)
    return grid


def _diverged_note(result: FinderResult) -> str:
    if result.divergence_lr is not None:
        return f", below the divergence LR {result.divergence_lr:.3g}"
    return f", below where the loss stopped falling ({result.ceiling:.3g}; it never blew up)"


def replace_lr(text: str, grid: list[float], note: str) -> str | None:
    """``text`` with the value of its top-level ``lr`` key replaced by ``grid`` (comments kept).

    Returns None when the layout is not one this can edit safely (the caller then re-dumps the YAML).
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    flow = "[" + ", ".join(f"{lr:g}" for lr in grid) + "]"
    if root is None or not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "lr":
            start, stop = key.end_mark.index, _last_index(value)
            line_end = text.find("\n", stop)
            line_end = len(text) if line_end == -1 else line_end
            rest = text[stop:line_end]
            tail = f"   # {note}" if not rest.strip() or rest.strip().startswith("#") else rest
            edited = text[:start] + f": {flow}" + tail + text[line_end:]
            return edited if yaml.safe_load(edited).get("lr") == grid else None
    sep = "" if text.endswith("\n") or not text else "\n"
    return f"{text}{sep}lr: {flow}   # {note}\n"


def _last_index(node) -> int:
    """Where the text of ``node`` really ends (a block collection's own end mark runs on into what follows)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark.index
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max((_last_index(child) for child in children), default=node.end_mark.index)
