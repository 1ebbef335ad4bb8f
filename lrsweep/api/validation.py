"""``lrsweep validate`` as a function: check a config as far as it can be without training, without the
network, and (with ``allow_imports=False``) without importing code the config names.

A config is code when it names code: ``data.name`` / ``model.name`` of the form ``package.module:function``
are imported and called. :func:`validate_config` lists those imports (``before_import``) before it
imports anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lrsweep.config import Config, load_config
from lrsweep.errors import ConfigError


@dataclass
class Validation:
    """What ``validate`` found: the config, its variants, its data, what it imports and what it left unchecked."""

    config: Config
    variants: list  # plan.Variant, in run order
    device: str
    device_description: str
    sizes: dict | None  # rows per split; None when the data was not loaded (--no-import on a data factory)
    task: str | None
    task_note: str | None = None  # how the task was inferred (csv, npz)
    features: list[str] | None = None  # the input columns by name (csv), in order
    imports: list[tuple[str, str]] = field(default_factory=list)  # (key, package.module:function)
    notes: list[str] = field(default_factory=list)  # e.g. files downloaded on first run
    unchecked: list[str] = field(default_factory=list)  # what --no-import skipped

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "fingerprint": self.config.fingerprint(),
            "device": self.device,
            "sizes": self.sizes,
            "task": self.task,
            "task_note": self.task_note,
            "features": self.features,
            "imports": [{"key": k, "spec": s} for k, s in self.imports],
            "notes": self.notes,
            "unchecked": self.unchecked,
            "variants": [v.describe() for v in self.variants],
        }


def planned_imports(config: Config) -> list[tuple[str, str]]:
    """Every ``package.module:function`` the config names, with its key, in the order they are imported."""
    from lrsweep.data import DATASETS
    from lrsweep.models import MODELS
    from lrsweep.optim import OPTIMIZERS

    found = []
    if DATASETS.is_import(config.data.name):
        found.append(("data.name", config.data.name))
    if MODELS.is_import(config.model.name):
        found.append(("model.name", config.model.name))
    if config.function is not None:
        return [("function", config.function)]
    if config.kind != "engine":
        return found
    for i, opt in enumerate(config.optimizers):
        if OPTIMIZERS.is_import(opt.name):
            found.append((f"optimizer[{i}].name" if len(config.optimizers) > 1 else "optimizer.name", opt.name))
    return found


def validate_config(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    allow_imports: bool = True,
    before_import: Callable[[list[tuple[str, str]]], None] | None = None,
) -> Validation:
    """Check ``path`` (with ``--set`` overrides) completely, short of training; never downloads.

    Args:
        allow_imports: import the factories the config names (and check their options, data and model);
            False checks everything else and lists them in ``unchecked``.
        before_import: called with the planned imports before the first one happens.
    Raises:
        ConfigError, DataError: what a run would refuse. NetworkError only from a user's own factory.
    """
    from lrsweep.registry import no_imports

    with no_imports():
        config = load_config(path, overrides)
    imports = planned_imports(config)
    if imports and allow_imports:
        if before_import is not None:
            before_import(imports)
        config = load_config(path, overrides)
    try:
        return _check(config, imports, allow_imports)
    except ConfigError as err:
        raise err.located(file=str(path)) from None


def check_loaded(config: Config) -> Validation:
    """:func:`validate_config` for a config already loaded (imported): the data offline, then preflight."""
    try:
        return _check(config, planned_imports(config), True)
    except ConfigError as err:
        raise err.located(file=config.source) from None


def _check(config: Config, imports: list[tuple[str, str]], allow_imports: bool) -> Validation:
    from lrsweep.engine.device import describe_device, resolve_device
    from lrsweep.engine.precision import check_devices
    from lrsweep.sweep.plan import expand
    from lrsweep.sweep.preflight import schedule_notices
    from lrsweep.sweep.runner import preflight

    device = resolve_device(config.device)
    check_devices(config.train.precision, [device])
    variants = expand(config)
    result = Validation(config, variants, str(device), describe_device(device), None, None, imports=imports)
    if config.kind != "engine":
        return _own_code(result, allow_imports)
    imported = {key for key, _ in imports} if not allow_imports else set()
    for key, spec in imports:
        if key in imported and key.startswith("optimizer"):
            result.unchecked.append(f"{key} '{spec}' (not imported): its options")
    if "data.name" in imported:
        result.unchecked.append(
            f"data.name '{config.data.name}' (not imported): its options, the data, and the "
            "model, loss and schedules that depend on it"
        )
        return result
    splits, note = offline_splits(config)
    if note:
        result.notes.append(note)
    if "model.name" in imported:
        result.unchecked.append(f"model.name '{config.model.name}' (not imported): its options and output shape")
    shared = preflight(config, splits, variants, model="model.name" not in imported)
    result.notes += schedule_notices(variants, shared, len(splits.train_x))
    result.sizes, result.task, result.task_note = splits.sizes(), splits.task, splits.task_note
    features = getattr(splits, "features", None)
    result.features = list(features) if features is not None else None
    result.notes = [*getattr(splits, "notes", ()), *result.notes]
    return result


def _own_code(result: Validation, allow_imports: bool) -> Validation:
    """Your own code: the first trial's command as it will run, or the function imported (nothing is run)."""
    import shlex

    from lrsweep.registry import import_object
    from lrsweep.sweep.executors.trials import trial_device
    from lrsweep.sweep.trials.command import command_argv, trial_values, visible_device

    config, first = result.config, result.variants[0]
    if config.command is not None:
        run = Path("runs") / f"{config.name}-<stamp>"
        seen, _ = visible_device(trial_device(config.device))
        folder = run / "variants" / first.id
        values = trial_values(first.lr, first.seed, config.train.epochs, folder, seen, first.id, run)
        argv = command_argv(config.command, values, config.params)
        line = argv[2] if isinstance(config.command, str) else shlex.join(argv)  # a shell line as the shell gets it
        result.notes.append(f"the first trial runs, in {config.trials.cwd or Path.cwd()}: {line}")
    elif allow_imports and config.function is not None:
        import_object(config.function, key="function")
    else:
        result.unchecked.append(f"function '{config.function}' (not imported)")
    return result


def offline_splits(config: Config):
    """The config's splits, and a note; files a run would download are reported, not fetched, and
    stand-in splits of the right shapes (holding no data) take their place."""
    from lrsweep.data import default_root, not_downloaded, standin_splits
    from lrsweep.errors import DataError
    from lrsweep.sweep.executors.base import load_data

    root = Path(config.data.root).expanduser() if config.data.root else default_root()
    remote = not_downloaded(config.data.name, root, config.data.options)
    if remote is None:
        return load_data(config), None
    if not config.data.download:
        raise DataError(f"{remote.note(False)}; put them there by hand or set data.download: true")
    return standin_splits(remote, config.data.val_fraction), remote.note(True)
