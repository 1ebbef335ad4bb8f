"""``lrsweep schedule``: list, preview, train and compare PyTorch LR schedulers.

Training goes through the grid runner (a config whose ``scheduler:`` is the list of types and
whose ``lr:`` is one learning rate), so every schedule starts from the same initial weights and
sees the same batch order, and the run directory is a normal one (``show``, ``grid --resume``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import (
    DEFAULT_OUT, DeviceOption, JsonOption, OutOption, QuietOption, SetOption, config_overrides, load_splits,
    finish_meta, print_json, run_meta, sigterm_as_interrupt, stderr_console, stdout_console, user_errors,
)
from lrsweep.errors import ConfigError, UsageError

BUILTIN = "builtin/quick.yaml"  # package data: the experiment run when no CONFIG is given
BUILTIN_SOURCE = "the built-in quick experiment"
PREVIEW_JSON, PREVIEW_PNG = "preview.json", "lr_preview.png"  # what a preview writes into its folder


ConfigArg = Annotated[Optional[Path], typer.Argument(
    help="The experiment's YAML config (see configs/). Omitted: the built-in quick experiment "
         "(lrsweep/builtin/quick.yaml: the bundled MNIST sample, offline).")]
TypeOption = Annotated[Optional[str], typer.Option(
    "--type", "-t", help="Scheduler type or alias (see --list); a comma list trains them side by side. "
                         "Replaces the config's scheduler.")]
ParamOption = Annotated[Optional[list[str]], typer.Option(
    "--param", "-p", help="A scheduler parameter: key=value (value parsed as YAML, e.g. milestones=[3,6]). "
                          "With several types, key it by type: steplr.gamma=0.5. Repeatable.")]


@app.command()
def schedule(
    config_path: ConfigArg = None,
    types: TypeOption = None,
    params: ParamOption = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="The one learning rate every schedule starts from "
                                                "(default: the config's first).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", min=1, help="Epochs to train (or preview) "
                                                  "(default: the config's).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the initial weights and batch order "
                                                "(default: the config's seed(s)).")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Only the LR curve: drive the real scheduler on a "
                                          "throwaway optimizer; no data is loaded, nothing is trained.")] = False,
    steps_per_epoch: Annotated[int, typer.Option("--steps-per-epoch", min=1, help="Optimizer steps per epoch "
                                                 "for --preview (a real run has ceil(train rows / batch_size)).")] = 100,
    list_types: Annotated[bool, typer.Option("--list", help="List every scheduler type: aliases, interval, "
                                             "parameters and defaults (with --type: only those).")] = False,
    sets: SetOption = None,
    device: DeviceOption = None,
    out: OutOption = DEFAULT_OUT,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Preview, train or compare LR schedules on one experiment (CONFIG, or the built-in quick one).

    Training writes runs/<name>-schedule-<stamp>/ and prints one table ranked by the selection metric
    with each schedule's final LR. --preview writes runs/<name>-preview-<stamp>/ (preview.json and, with
    matplotlib, lr_preview.png), or the PNG to --out when it ends in .png.
    """
    code = 0
    with user_errors():
        if list_types:
            _list(types, json_out)
        else:
            config, notes = experiment(config_path, types, params, lr, epochs, seed, sets, device)
            if preview:
                _preview(config, steps_per_epoch, out, json_out, quiet, notes)
            else:
                code = _train(config, out, json_out, quiet, notes)
    raise typer.Exit(code)


# --------------------------------------------------------------------------- the experiment


def experiment(config_path: Path | None, types: str | None, params: list[str] | None, lr: float | None,
               epochs: int | None, seed: int | None, sets: list[str] | None, device: str | None):
    """The Config to run (one lr, the schedules as its ``scheduler:`` list), and notices for the user."""
    from lrsweep.config import apply_overrides, parse_config

    raw, source = _read_experiment(config_path)
    specs = cli_schedulers(types, params)
    overrides = config_overrides(sets, device)
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if seed is not None:
        raw.pop("seeds", None)
        overrides.append(f"seed={seed}")
    try:
        raw = apply_overrides(raw, overrides)
        if lr is not None:
            raw["lr"] = lr  # set directly: YAML 1.1 reads a float written as 1e-05 as text
        if specs:
            raw["scheduler"] = specs[0] if len(specs) == 1 else list(specs)
        elif raw.get("scheduler") is None:
            raise UsageError("which schedule? give --type (e.g. --type steplr,cosine; all types: --list)")
        config = parse_config(raw, source=source)
    except ConfigError as err:
        raise (err.located(file=str(config_path)) if config_path else err) from None
    notes = []
    if len(config.lrs) > 1:
        notes.append(f"using lr={config.lrs[0]:g}, the first of the config's {len(config.lrs)} learning rates "
                     "(set one with --lr)")
        config = dataclasses.replace(config, lrs=config.lrs[:1])
    return config, notes


def _read_experiment(config_path: Path | None) -> tuple[dict, str]:
    """The raw YAML mapping of CONFIG, or of the built-in experiment (package data, works from a wheel)."""
    from importlib import resources

    import yaml

    from lrsweep.config import read_yaml

    if config_path is not None:
        return read_yaml(config_path), str(config_path)
    return yaml.safe_load(resources.files("lrsweep").joinpath(BUILTIN).read_text()), BUILTIN_SOURCE


def cli_schedulers(types: str | None, params: list[str] | None) -> list:
    """``--type a,b`` and ``--param [type.]key=value`` as parsed SchedulerSpecs (errors name the option).

    An unkeyed ``--param`` needs exactly one type; a keyed one must name a type given to ``--type``.
    """
    from lrsweep.schedulers import SCHEDULERS, parse_scheduler

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

    from lrsweep.schedulers import SCHEDULERS

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
        raise UsageError(f"--param {key}: with several --type values, key each --param by its type, "
                         f"e.g. --param {types[0]}.{key}={text}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise UsageError(f"--param {key}: cannot parse {text!r} as YAML") from None
    return target, name, value


# --------------------------------------------------------------------------- --list


def _list(types: str | None, json_out: bool) -> None:
    from lrsweep.report import scheduler_list_table
    from lrsweep.schedulers import LENGTH_NOTE, SCHEDULERS, describe_all

    entries = describe_all()
    if types:
        wanted = [SCHEDULERS.canonical(t.strip(), key="--type") for t in types.split(",") if t.strip()]
        entries = [e for e in entries if e["name"] in wanted]
    if json_out:
        print_json(entries)
        return
    stdout_console().print(scheduler_list_table(entries, note=f"(lrsweep): derived by lrsweep from the run; "
                                                                f"{LENGTH_NOTE}"))


# --------------------------------------------------------------------------- --preview


def preview_record(config, steps_per_epoch: int) -> dict:
    """Every schedule of ``config`` driven dry at its one lr: the numbers ``--preview`` prints and saves."""
    from lrsweep.schedulers import preview

    lr, epochs = config.lrs[0], config.train.epochs
    schedules = []
    for spec in config.schedulers:
        result = preview(spec, lr, epochs, steps_per_epoch)
        entry = {"scheduler": spec.label, "type": spec.type, "interval": spec.interval, "params": result.params,
                 "epoch_lrs": result.epoch_lrs, "final_lr": result.final_lr, "note": result.note}
        if spec.interval == "step":
            entry["step_lrs"] = result.step_lrs
        schedules.append(entry)
    return {"name": config.name, "lr": lr, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
            "schedules": schedules}


def _preview(config, steps_per_epoch: int, out: Path, json_out: bool, quiet: bool, notes: list[str]) -> None:
    from lrsweep.report import preview_tables

    data = preview_record(config, steps_per_epoch)
    written, skipped = _save_preview(data, out, config.name)
    data["files"] = [str(p) for p in written]
    if not quiet:
        for line in notes:
            stderr_console().print(line, style="yellow", markup=False, soft_wrap=True)
    if json_out:
        print_json(data)
        return
    if quiet:
        return
    console = stdout_console()
    for table in preview_tables(data):
        console.print(table)
    for line in sorted({f"{s['scheduler']}: {s['note']}" for s in data["schedules"] if s["note"]}):
        console.print(line, style="yellow", markup=False, soft_wrap=True)
    for path in written:
        console.print(f"Saved: {path}", markup=False, highlight=False, soft_wrap=True)
    if skipped:
        console.print(skipped, style="yellow", markup=False, soft_wrap=True)


def _save_preview(data: dict, out: Path, name: str) -> tuple[list[Path], str | None]:
    """``out`` ending in .png: the figure there (matplotlib required). Else a new folder
    ``<out>/<name>-preview-<stamp>/`` with preview.json and, when matplotlib is installed, the PNG."""
    from lrsweep.plots import write_schedule_preview
    from lrsweep.store import RunStore, write_json

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


def _train(config, out: Path, json_out: bool, quiet: bool, notes: list[str]) -> int:
    """Train every schedule through the grid runner; print the side-by-side table. Returns the exit code."""
    from lrsweep.cli.progress import ProgressEvents
    from lrsweep.device import resolve_device
    from lrsweep.plan import expand
    from lrsweep.report import schedule_table, verdict
    from lrsweep.runner import Interrupted, preflight, run_sweep
    from lrsweep.store import RunStore

    err = stderr_console()
    for line in notes if not quiet else []:
        err.print(line, style="yellow", markup=False, soft_wrap=True)
    torch_device = resolve_device(config.device)
    splits = load_splits(config, quiet=quiet).to(torch_device)
    preflight(config, splits, expand(config))  # refuse impossible schedules before a run directory exists
    store = RunStore.create(out, f"{config.name}-schedule")
    store.write_config(config.to_dict())
    store.write_meta(run_meta(config, torch_device))
    err.print(f"run directory: {store.path}", markup=False, highlight=False, soft_wrap=True)  # even --quiet
    try:
        with sigterm_as_interrupt(), ProgressEvents(err, config.train.epochs, quiet) as events:
            summary = run_sweep(config, splits, store, events)
    except (Interrupted, KeyboardInterrupt) as stop:
        finish_meta(store, "interrupted")
        if json_out and isinstance(stop, Interrupted):
            print_json(stop.summary)
        err.print(f"[yellow]interrupted[/]: resume with  lrsweep grid --resume {store.path}", soft_wrap=True)
        return 130
    finish_meta(store, "finished")
    curves = schedule_curves(store, summary)
    if json_out:
        print_json({**summary, "run_dir": str(store.path), "schedules": [
            {"id": row["id"], "scheduler": row["scheduler"], **curves[row["id"]]} for row in summary["variants"]]})
    elif not quiet:
        console = stdout_console()
        console.print(schedule_table(summary, curves))
        console.print(verdict(summary))
        console.print(f"Results: {store.path}", markup=False, highlight=False, soft_wrap=True)
    failed = summary["status_counts"].get("failed", 0) or (summary.get("retrain") or {}).get("status") == "failed"
    return 1 if failed else 0


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
