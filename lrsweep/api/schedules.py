"""``schedule`` as library calls: list, preview and train PyTorch LR schedulers on one experiment.

Training goes through the grid runner (a config whose ``scheduler:`` is the list of types and
whose ``lr:`` is one learning rate), so every schedule starts from the same initial weights and
sees the same batch order, and the run directory is a normal one (``show``, ``grid --resume``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lrsweep.api.common import DEFAULT_OUT, ConfigLike, Overrides, finish_meta, load_splits, override_items
from lrsweep.errors import ConfigError, Interrupted, UsageError

BUILTIN = "config/quick.yaml"  # package data: the experiment run when no config is given
BUILTIN_SOURCE = "the built-in quick experiment"
PREVIEW_JSON, PREVIEW_PNG = "preview.json", "lr_preview.png"  # what a preview writes into its folder
PREVIEW_STEPS_PER_EPOCH = 100  # optimizer steps per epoch of a preview (a real run has ceil(rows / batch_size))


@dataclass
class PreviewResult:
    """The LR curves of ``schedule --preview``: ``data`` is preview.json's content."""

    data: dict
    files: list[Path] = field(default_factory=list)
    skipped: str | None = None  # why no PNG was written (matplotlib missing)
    notes: list[str] = field(default_factory=list)


@dataclass
class ScheduleResult:
    """A trained side-by-side comparison of schedules (a normal sweep run directory)."""

    run_dir: Path
    summary: dict
    curves: dict[str, dict]  # per variant id: final_lr, epoch_lrs (and step_lrs for per-step schedules)
    notes: list[str] = field(default_factory=list)
    failed: bool = False


def schedule_experiment(
    config: ConfigLike | None = None,
    overrides: Overrides = None,
    *,
    types: str | None = None,
    params: list[str] | None = None,
    lr: float | None = None,
    epochs: int | None = None,
    seed: int | None = None,
):
    """The Config a schedule comparison runs (one lr, the schedules as its ``scheduler:`` list), and notes.

    Args:
        config: a YAML path, a dict or a Config; None: the built-in quick experiment (bundled MNIST sample).
        types: scheduler types or aliases, comma separated (replace the config's scheduler).
        params: ``[type.]key=value`` scheduler parameters (values parsed as YAML).
        lr, epochs, seed: replace the config's (the first lr is used otherwise).
    """
    from lrsweep.config import apply_overrides, parse_config

    raw, source = _read_experiment(config)
    specs = parse_schedulers_option(types, params)
    items = override_items(overrides)
    if epochs is not None:
        items.append(f"train.epochs={epochs}")
    if seed is not None:
        raw.pop("seeds", None)
        items.append(f"seed={seed}")
    try:
        raw = apply_overrides(raw, items)
        if lr is not None:
            raw["lr"] = lr  # set directly: YAML 1.1 reads a float written as 1e-05 as text
        if specs:
            raw["scheduler"] = specs[0] if len(specs) == 1 else list(specs)
        elif raw.get("scheduler") is None:
            raise UsageError("which schedule? give --type (e.g. --type steplr,cosine; all types: --list)")
        parsed = parse_config(raw, source=source)
    except ConfigError as err:
        raise (err.located(file=source) if isinstance(config, (str, Path)) else err) from None
    notes = []
    if len(parsed.lrs) > 1:
        notes.append(
            f"using lr={parsed.lrs[0]:g}, the first of the config's {len(parsed.lrs)} learning rates "
            "(set one with --lr)"
        )
        parsed = dataclasses.replace(parsed, lrs=parsed.lrs[:1])
    return parsed, notes


def _read_experiment(config: ConfigLike | None) -> tuple[dict, str]:
    """The raw mapping of the config, or of the built-in experiment (package data, works from a wheel)."""
    from importlib import resources

    import yaml

    from lrsweep.api.common import raw_config

    if config is not None:
        return raw_config(config)
    return yaml.safe_load(resources.files("lrsweep").joinpath(BUILTIN).read_text()), BUILTIN_SOURCE


def parse_schedulers_option(types: str | None, params: list[str] | None) -> list:
    """``--type a,b`` and ``--param [type.]key=value`` as parsed SchedulerSpecs (errors name the option).

    An unkeyed ``--param`` needs exactly one type; a keyed one must name a type given to ``--type``.
    """
    from lrsweep.optim.schedulers import SCHEDULERS, parse_scheduler

    if not types:
        if params:
            raise UsageError("--param needs --type (the schedule it sets a parameter of)")
        return []
    names = [t.strip() for t in types.split(",") if t.strip()]
    if not names:
        raise UsageError(f"--type expects scheduler names separated by commas, got {types!r}")
    canonical = [SCHEDULERS.canonical(name, key="--type") for name in names]
    given: dict[str, dict] = {name: {} for name in canonical}
    for item in params or []:
        target, key, value = _parse_param(item, canonical)
        given[target][key] = value
    return [parse_scheduler({"type": name, **given[name]}, key=f"--param {name}") for name in canonical]


def _parse_param(item: str, types: list[str]) -> tuple[str, str, object]:
    """``[type.]key=value`` -> (the canonical type it applies to, key, the value parsed as YAML)."""
    import yaml

    from lrsweep.optim.schedulers import SCHEDULERS

    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--param expects key=value (or type.key=value), got {item!r}")
    prefix, dot, name = key.rpartition(".")
    if dot:
        target = SCHEDULERS.canonical(prefix, key=f"--param {key}")
        if target not in types:
            raise UsageError(f"--param {key}: '{target}' is not among --type ({', '.join(types)})")
    elif len(types) == 1:
        target, name = types[0], key
    else:
        raise UsageError(
            f"--param {key}: with several --type values, key each --param by its type, "
            f"e.g. --param {types[0]}.{key}={text}"
        )
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise UsageError(f"--param {key}: cannot parse {text!r} as YAML") from None
    return target, name, value


def scheduler_types(types: str | None = None) -> list[dict]:
    """Every scheduler type (aliases, interval, parameters, defaults); only ``types`` (comma list) if given."""
    from lrsweep.optim.schedulers import SCHEDULERS, describe_all

    entries = describe_all()
    if types:
        wanted = [SCHEDULERS.canonical(t.strip(), key="--type") for t in types.split(",") if t.strip()]
        entries = [e for e in entries if e["name"] in wanted]
    return entries


def length_note() -> str:
    """What ``--list`` says about the parameters lrsweep derives from the run's length."""
    from lrsweep.optim.schedulers import LENGTH_NOTE

    return LENGTH_NOTE


# --------------------------------------------------------------------------- preview


def preview_record(config, steps_per_epoch: int) -> dict:
    """Every schedule of ``config`` driven dry at its one lr: the numbers a preview prints and saves."""
    from lrsweep.optim.schedulers import preview

    lr, epochs = config.lrs[0], config.train.epochs
    schedules = []
    for spec in config.schedulers:
        result = preview(spec, lr, epochs, steps_per_epoch)
        entry = {
            "scheduler": spec.label,
            "type": spec.type,
            "interval": spec.interval,
            "params": result.params,
            "epoch_lrs": result.epoch_lrs,
            "final_lr": result.final_lr,
            "note": result.note,
        }
        if spec.interval == "step":
            entry["step_lrs"] = result.step_lrs
        schedules.append(entry)
    return {"name": config.name, "lr": lr, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "schedules": schedules}


def schedule_preview(
    config: ConfigLike | None = None,
    overrides: Overrides = None,
    *,
    types: str | None = None,
    params: list[str] | None = None,
    lr: float | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    steps_per_epoch: int = PREVIEW_STEPS_PER_EPOCH,
    out: str | Path | None = DEFAULT_OUT,
) -> PreviewResult:
    """Only the LR curves (``lrsweep schedule --preview``): the real schedulers driven on a throwaway
    optimizer; no data is loaded, nothing is trained.

    ``out``: a folder (``<out>/<name>-preview-<stamp>/`` gets preview.json and, with matplotlib, the PNG),
    a path ending in ``.png`` (the figure there), or None (nothing written). Other arguments as
    :func:`schedule_experiment`.
    """
    cfg, notes = schedule_experiment(config, overrides, types=types, params=params, lr=lr, epochs=epochs, seed=seed)
    data = preview_record(cfg, steps_per_epoch)
    written, skipped = save_preview(data, Path(out), cfg.name) if out is not None else ([], None)
    data["files"] = [str(p) for p in written]
    return PreviewResult(data=data, files=written, skipped=skipped, notes=notes)


def save_preview(data: dict, out: Path, name: str) -> tuple[list[Path], str | None]:
    """``out`` ending in .png: the figure there (matplotlib required). Else a new folder
    ``<out>/<name>-preview-<stamp>/`` with preview.json and, when matplotlib is installed, the PNG."""
    from lrsweep.render.schedules import write_schedule_preview
    from lrsweep.run.files import write_json
    from lrsweep.run.store import RunStore

    if out.suffix.lower() == ".png":
        return [write_schedule_preview(data, out)], None
    folder = RunStore.create(out, f"{name}-preview").path
    write_json(folder / PREVIEW_JSON, data)
    try:
        png = write_schedule_preview(data, folder / PREVIEW_PNG)
    except UsageError as missing:  # matplotlib is optional: the numbers are saved anyway
        return [folder / PREVIEW_JSON], f"no PNG: {missing}"
    return [folder / PREVIEW_JSON, png], None


# --------------------------------------------------------------------------- training


def schedule(
    config: ConfigLike | None = None,
    overrides: Overrides = None,
    *,
    types: str | None = None,
    params: list[str] | None = None,
    lr: float | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    out: str | Path = DEFAULT_OUT,
    events=None,
    on_notice: Callable[[str], None] | None = None,
    on_run_dir: Callable[[Path], None] | None = None,
) -> ScheduleResult:
    """Train every schedule side by side through the grid runner (``lrsweep schedule``).

    Arguments as :func:`schedule_experiment`; ``events`` as for :func:`lrsweep.api.grid` (an object, or a
    factory called with the Config). Raises :class:`Interrupted` (``summary`` None when the
    interrupt came before any variant was recorded) with ``run_dir``.
    """
    from lrsweep.api.common import run_meta
    from lrsweep.api.sweep import observer
    from lrsweep.engine.device import resolve_device
    from lrsweep.run.store import RunStore
    from lrsweep.sweep.plan import expand
    from lrsweep.sweep.runner import preflight, run_sweep

    cfg, notes = schedule_experiment(config, overrides, types=types, params=params, lr=lr, epochs=epochs, seed=seed)
    if on_notice is not None:
        for note in notes:
            on_notice(note)
    torch_device = resolve_device(cfg.device)
    splits = load_splits(cfg).to(torch_device)
    preflight(cfg, splits, expand(cfg))  # refuse impossible schedules before a run directory exists
    store = RunStore.create(Path(out), f"{cfg.name}-schedule")
    store.write_config(cfg.to_dict())
    store.write_meta(run_meta(cfg, torch_device))
    if on_run_dir is not None:
        on_run_dir(store.path)
    try:
        with observer(events, cfg, None)() as sweep_events:
            summary = run_sweep(cfg, splits, store, sweep_events)
    except (Interrupted, KeyboardInterrupt) as stop:
        finish_meta(store, "interrupted")
        raise Interrupted(stop.summary if isinstance(stop, Interrupted) else None, store.path) from None
    finish_meta(store, "finished")
    failed = bool(summary["status_counts"].get("failed", 0)) or (summary.get("retrain") or {}).get("status") == "failed"
    return ScheduleResult(
        run_dir=store.path, summary=summary, curves=schedule_curves(store, summary), notes=notes, failed=failed
    )


def schedule_curves(store, summary: dict) -> dict[str, dict]:
    """Per variant, from its files: the LR per epoch, per step (per-step schedules only), and the last LR used.

    ``final_lr`` is the LR of the last optimizer step; for a per-step schedule that is not the LR at
    the start of the last epoch (what metrics.csv and summary's ``final_lr`` hold).
    """
    curves = {}
    for row in summary["variants"]:
        epoch_lrs = [r["lr"] for r in store.read_metrics(row["id"])]
        step_lrs = [r["lr"] for r in store.read_lr_steps(row["id"])]
        last = step_lrs[-1] if step_lrs else (epoch_lrs[-1] if epoch_lrs else None)
        curves[row["id"]] = {"final_lr": last, "epoch_lrs": epoch_lrs, **({"step_lrs": step_lrs} if step_lrs else {})}
    return curves
