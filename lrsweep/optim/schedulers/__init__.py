"""Every ``torch.optim.lr_scheduler`` by name: parsing, derived defaults, the stepping policy, preview.

The real torch classes do all LR arithmetic; lrsweep only builds them and decides when ``.step()``
is called (:class:`ScheduleDriver`, the one place that steps them). The package, by seam:

- ``catalog``   the registry of types (``SCHEDULERS``): names, aliases, torch class, default interval
- ``spec``      parsing and validating a ``scheduler:`` entry into a :class:`SchedulerSpec`
- ``hints``     type-checking values against the torch constructor's annotations
- ``defaults``  derived defaults (``DERIVED``), written once, as rules of the run
- ``resolve``   the parameters that actually run, checks of impossible values, building the torch object
- ``drive``     :class:`ScheduleDriver` (when ``.step()`` is called) and :func:`preview`
- ``describe``  ``describe_all()`` for ``schedule --list``
"""

from lrsweep.optim.schedulers.catalog import (
    COMPOSITES,
    FORMULA_NAMES,
    FORMULA_PARAMS,
    INTERVALS,
    NEVER_FROM_USER,
    SCHEDULERS,
    SchedulerType,
    torch_scheduler_classes,
)
from lrsweep.optim.schedulers.defaults import DERIVED, LENGTH_NOTE, WARMUP_START_FACTOR, Rule, Span
from lrsweep.optim.schedulers.describe import describe_all
from lrsweep.optim.schedulers.drive import PLATEAU_NOTE, Preview, ScheduleDriver, preview
from lrsweep.optim.schedulers.resolve import CHECKS, FORMULA_CHECK_LIMIT, cannot_fire, resolve_params
from lrsweep.optim.schedulers.spec import SchedulerSpec, parse_scheduler

__all__ = [
    "CHECKS",
    "COMPOSITES",
    "DERIVED",
    "FORMULA_CHECK_LIMIT",
    "FORMULA_NAMES",
    "FORMULA_PARAMS",
    "INTERVALS",
    "LENGTH_NOTE",
    "NEVER_FROM_USER",
    "PLATEAU_NOTE",
    "Preview",
    "Rule",
    "SCHEDULERS",
    "ScheduleDriver",
    "SchedulerSpec",
    "SchedulerType",
    "Span",
    "WARMUP_START_FACTOR",
    "cannot_fire",
    "describe_all",
    "parse_scheduler",
    "preview",
    "resolve_params",
    "torch_scheduler_classes",
]
