"""The Python API: what each command does, as plain functions returning plain dataclasses.

Nothing here prints or exits; errors are lrsweep's typed exceptions (``lrsweep.errors``). The CLI is
a shell over these functions. Submodules load on first use, so ``import lrsweep.api`` stays light
(reading runs never imports torch). The submodules are named apart from the functions
(``sweep`` holds ``grid``, ``rangetest`` holds ``find``, ``schedules`` holds ``schedule``) so that importing
one never shadows a function of the same name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lrsweep.errors import Interrupted  # noqa: F401  raised by grid() and schedule(), carrying the summary

_WHERE = {
    "load_config_any": "common",
    "override_items": "common",
    "load_splits": "common",
    "run_meta": "common",
    "finish_meta": "common",
    "git_state": "common",
    "grid": "sweep",
    "validate": "sweep",
    "GridResult": "sweep",
    "Best": "sweep",
    "Plan": "sweep",
    "find": "rangetest",
    "find_config": "rangetest",
    "find_objects": "rangetest_objects",
    "FindResult": "rangetest",
    "FinderSettings": "rangetest",
    "replace_lr": "rangetest",
    "write_grid_config": "rangetest",
    "load_run": "runs",
    "Run": "runs",
    "load_summary": "runs",
    "rebuild_summary": "runs",
    "merge": "runs",
    "plot_run": "runs",
    "compare_runs": "runs",
    "MergeResult": "runs",
    "summary_of": "runs",
    "load_tune_run": "runs",
    "TuneRun": "runs",
    "load_preview": "runs",
    "preview_file": "runs",
    "load_model": "weights",
    "tune": "tuning",
    "TuneResult": "tuning",
    "TuneSettings": "tuning",
    "schedule_preview": "schedules",
    "schedule": "schedules",
    "schedule_experiment": "schedules",
    "scheduler_types": "schedules",
    "PreviewResult": "schedules",
    "ScheduleResult": "schedules",
}

__all__ = ["Interrupted", *_WHERE]

if TYPE_CHECKING:
    from lrsweep.api.common import load_config_any  # noqa: F401
    from lrsweep.api.rangetest import FindResult, find  # noqa: F401
    from lrsweep.api.runs import Run, load_run, merge  # noqa: F401
    from lrsweep.api.sweep import Best, GridResult, Plan, grid, validate  # noqa: F401
    from lrsweep.api.tuning import TuneResult, TuneSettings, tune  # noqa: F401
    from lrsweep.api.weights import load_model  # noqa: F401


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'lrsweep.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lrsweep.api.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
