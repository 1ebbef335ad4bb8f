"""The config: YAML + ``--set`` overrides -> a typed, validated :class:`Config`.

Three layers, one definition of each key:

- ``sections``  one pydantic model per section of a file (``train:``, ``data:``, ...), each key's type, range,
  default and one-line description written once, unknown keys refused. The section models are frozen pydantic
  dataclasses and are also the runtime types (``config.train.epochs``), so code that makes or ``replace``-s
  them keeps working and is validated too.
- ``file``      :class:`ConfigFile`, the top level of a file, a pydantic model too: the shapes only a file has
  (``lr:`` a number, list or spaced grid; ``optimizer:`` one or a list; ``seed``/``seeds``; ``model: mlp``) and
  the checks of the open sections' own keys against the registries and the signatures behind them.
- ``resolved``  :class:`Config`, the sweep the rest of lrsweep reads: the file's axes as tuples (``lrs``,
  ``seeds``, ``optimizers``, ``schedulers``), ``to_dict()`` and ``fingerprint()``. It is a plain frozen dataclass
  built from a validated ConfigFile (its defaults read from it); nothing there is validated twice.

Around them: ``load`` (YAML, overrides, paths), ``errors`` (pydantic's errors in lrsweep's words, in one place),
``grid`` (the lr grid), ``limits`` (size guards), ``jsonschema`` (``lrsweep schema``), ``datasets``
(``lrsweep datasets``), ``safe_yaml`` (the bounded YAML loader), ``diff`` (what a refused resume names) and
``trial`` (your own training code: the ``trials:`` section and the ``command:`` template's placeholders).
"""

from lrsweep.config.file import ENGINES, MAX_NAME_BYTES, SAVES, TOP_KEYS, ConfigFile
from lrsweep.config.grid import SpacedGrid, Spacing, expand_lrs
from lrsweep.config.limits import check_consistency, check_limits
from lrsweep.config.load import (
    PATH_KEYS,
    apply_overrides,
    load_config,
    parse_config,
    parse_lrs,
    parse_override,
    read_yaml,
    resolve_paths,
)
from lrsweep.config.resolved import Config
from lrsweep.config.sections import (
    LOSSES,
    PRECISIONS,
    PRUNERS,
    SELECT_METRICS,
    AugmentConfig,
    DataConfig,
    EarlyStoppingConfig,
    LimitsConfig,
    LossConfig,
    LrScalingConfig,
    ModelConfig,
    OptimizerConfig,
    PruneConfig,
    SelectConfig,
    TrainConfig,
    parse_precision,
)
from lrsweep.config.trial import KINDS, PLACEHOLDERS, TrialConfig

__all__ = [
    "ENGINES",
    "KINDS",
    "PLACEHOLDERS",
    "LOSSES",
    "MAX_NAME_BYTES",
    "PATH_KEYS",
    "PRECISIONS",
    "PRUNERS",
    "SAVES",
    "SELECT_METRICS",
    "TOP_KEYS",
    "AugmentConfig",
    "Config",
    "ConfigFile",
    "DataConfig",
    "EarlyStoppingConfig",
    "LimitsConfig",
    "LossConfig",
    "LrScalingConfig",
    "ModelConfig",
    "OptimizerConfig",
    "PruneConfig",
    "SelectConfig",
    "SpacedGrid",
    "Spacing",
    "TrainConfig",
    "TrialConfig",
    "apply_overrides",
    "check_consistency",
    "check_limits",
    "expand_lrs",
    "load_config",
    "parse_config",
    "parse_lrs",
    "parse_override",
    "parse_precision",
    "read_yaml",
    "resolve_paths",
]
