"""``lrsweep tune``: a learning rate inside the good band, for a budget of a few trainings.

The stages, each a sweep of derived configs in one run directory (so every variant tried is there):

1. *range*: one LR range test bounds the search: below, where the loss starts to fall; above,
   the stability edge (the divergence LR; where the loss stopped falling when nothing blew up).
2. *scout*: log-spaced LRs inside the bounds, the config's first seed, trained as one pack with
   successive halving: every scout trains a grace period, only the best third go on (``rung``),
   the last survivors train every epoch. With a constant LR a scout's first epochs *are* the first
   epochs of its full training, so the survivors' results are full-fidelity.
   Under a schedule with a warm-up or a cycle the first cut comes after the warm-up, or each scout trains
   the whole schedule compressed to the grace period and the best go on in full (tune.json's ``fidelity``).
3. *refine*: geometric midpoints between the incumbent and its neighbours, trained in full, until
   the bracket is narrower than ``resolution`` or the budget left is only the finals'.

Wall time: at the start tune times a few optimizer steps of a pack of one and of a pack of ``scouts``
(tune.json's ``pack_costs``, kept for a resume) and, with ``time_budget``, starts no stage (nor more
scouts, refinement rounds or finalists) that those costs say would overrun it; ``cost.seconds`` is the
wall time spent.
4. *final*: the few LRs nearest the bottom of a parabola fitted to the first seed's full-length
   scores (on log-LR: one seed is noisy from LR to LR) get the config's other seeds; the pick is the
   best seed mean, the band the LRs tied with it seed by seed; the pick is retrained as ``grid`` does.

With several batch sizes (``data.batch_size: [32, 128, 512]``) the four stages run once per batch size, each
with the whole budget, and the answer is an LR per batch size (:mod:`lrsweep.api.tune_batches`).

Pure of the terminal: progress goes to ``events`` (the runner's ``SweepEvents``); only ``store`` knows
the files. Every decision is a function of the metrics on disk, so ``resume`` replays them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from lrsweep.api.tune_result import STAGES, TuneResult, TuneSettings  # noqa: F401  lrsweep.api.TuneResult, ...
from lrsweep.api.tune_stages import Tuner
from lrsweep.config import Config
from lrsweep.errors import UsageError
from lrsweep.run.store import RunStore


def tune(
    config: str | Path | dict | Config | Callable | None = None,
    overrides: list[str] | None = None,
    *,
    lr: Any = None,
    epochs: int | None = None,
    seeds: Any = None,
    metric: str | None = None,
    mode: str | None = None,
    params: dict | None = None,
    name: str | None = None,
    jobs: int = 1,
    devices: str | None = None,
    backend: str = "local",
    address: str | None = None,
    budget: float | None = None,
    resolution: float | None = None,
    time_budget: float | None = None,
    events=None,
    out: str | Path = "runs",
    resume: str | Path | None = None,
    settings: TuneSettings | None = None,
    meta: dict | None = None,
) -> TuneResult:
    """Choose a learning rate for ``config`` within ``budget`` trainings; see the module docstring.

    Args:
        config: a YAML path, a dict shaped like one, or a Config (not needed with ``resume``); or your own
            training function (see ``lrsweep.grid``), searched over the span ``lr=(low, high)``.
        overrides: ``dotted.key=value`` strings, as ``--set``.
        lr, epochs, seeds, metric, mode, params, name: shorthands for config keys (see ``lrsweep.grid``).
        jobs, devices, backend, address: where the stages' sweeps train (see ``lrsweep grid --help``).
        budget, resolution, time_budget: override :class:`TuneSettings` (``time_budget``: wall seconds; no stage
            is started that the pack costs measured before scouting say would overrun it).
        events: a ``runner.SweepEvents`` (progress); stage changes arrive as ``on_notice``.
        out: the folder the run directory is created in.
        resume: a tune run directory to finish (its config and settings are used).
        meta: extra entries for meta.json (the CLI's command line and versions).
    Raises:
        UsageError/ConfigError: bad input; ``runner.Interrupted`` (its summary the partial tune.json).
    """
    from lrsweep.api.common import load_config_any, override_items
    from lrsweep.api.trials import as_config, check_function, check_jobs, shorthands
    from lrsweep.sweep.executors import make_executor
    from lrsweep.sweep.runner import QuietEvents

    events = events or QuietEvents()
    source, function, keywords = as_config(config, shorthands(lr, epochs, seeds, metric, mode, params, name), resume)
    overrides = [*override_items(overrides), *override_items(keywords)]
    with make_executor(backend, devices, address, jobs) as executor:
        if resume is not None:
            store, config_obj, settings = _reopen(Path(resume), budget, resolution, time_budget, overrides)
        else:
            if source is None:
                raise UsageError("give a config (or resume=RUN_DIR)")
            settings = replace(
                settings or TuneSettings(), **_given(budget=budget, resolution=resolution, time_budget=time_budget)
            )
            settings.check()
            config_obj = load_config_any(source, overrides)
        check_jobs(config_obj, jobs)
        check_function(config_obj, function)
        if resume is None:
            store = RunStore.create(Path(out), f"{config_obj.name}-tune")
            store.write_config(config_obj.to_dict())
            store.write_meta({**(meta or _meta(config_obj)), "backend": executor.backend})
            store.write_tune({"status": "running", "settings": asdict(settings), "stages": []})
        if config_obj.batch_axis:  # data.batch_size: [32, 128, 512]: an LR per batch size
            from lrsweep.api.tune_batches import tune_batch_sizes

            return tune_batch_sizes(config_obj, store, settings, events, executor)
        return Tuner(config_obj, store, settings, events, executor, function).run()


def tune_config(
    config: str | Path | dict | Config | None = None,
    overrides: list[str] | None = None,
    resume: str | Path | None = None,
) -> Config:
    """The config a tune run will train: ``config`` with ``overrides``, or the stored one of ``resume``."""
    from lrsweep.api.common import load_config_any
    from lrsweep.config import parse_config

    if resume is not None:
        store = RunStore.open(Path(resume))
        return parse_config(store.read_config(), source=str(store.path / "config.yaml"))
    if config is None:
        raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
    return load_config_any(config, overrides)


def _meta(config: Config) -> dict:
    from lrsweep.api.common import run_meta
    from lrsweep.engine.device import resolve_device

    return run_meta(config, resolve_device(config.device))


def _given(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _reopen(path: Path, budget, resolution, time_budget, overrides):
    from lrsweep.config import parse_config

    store = RunStore.open(path)
    saved = store.read_tune()
    if saved is None:
        raise UsageError(f"{path} is not a tune run (no tune.json); resume sweeps with  lrsweep grid --resume")
    if overrides:
        raise UsageError("--set cannot change a tune run being resumed: it would mix results")
    settings = TuneSettings(**saved["settings"])
    for name, value in _given(budget=budget, resolution=resolution, time_budget=time_budget).items():
        if value != getattr(settings, name):
            raise UsageError(
                f"{path} was started with {name}={getattr(settings, name)}; resume it without "
                f"--{name.replace('_', '-')}, or start a new run"
            )
    return store, parse_config(store.read_config(), source=str(store.path / "config.yaml")), settings
