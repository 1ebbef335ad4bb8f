"""The top level of a config file (:class:`ConfigFile`): each key, its default and meaning, what it may hold.

Shapes that only a file has are taken here: ``lr:`` a number, a list or a spaced grid; ``optimizer:`` and
``scheduler:`` one or a list; ``seed:`` or ``seeds:``; ``model: mlp`` for ``model: {name: mlp}``; an empty or
null section for its defaults. The open sections' own keys (a dataset's ``n_samples``, a model's ``hidden``, an
optimizer's ``momentum``) are checked against their registries, and the signatures behind them, by the validators.
"""

import math
from collections.abc import Collection
from dataclasses import replace
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from lrsweep.config.errors import reported
from lrsweep.config.grid import LrGrid, SpacedGrid
from lrsweep.config.metrics import check_metric_name, check_select_metric
from lrsweep.config.sections import (
    DataConfig,
    LimitsConfig,
    LrScalingConfig,
    ModelConfig,
    OptimizerConfig,
    PruneConfig,
    Pruner,
    ScalingRule,
    SelectConfig,
    TrainConfig,
    fields_of,
)
from lrsweep.config.trial import TrialConfig, check_command, check_params
from lrsweep.errors import ConfigError, shown

Engine = Literal["auto", "vectorized", "sequential"]
Save = Literal["best", "all", "none"]
ENGINES: tuple[str, ...] = get_args(Engine)
SAVES: tuple[str, ...] = get_args(Save)  # save: which final weights a sweep keeps
MAX_NAME_BYTES = 200  # a run directory's name is <name>-<stamp>; file systems allow 255 bytes
DATA_KEYS = tuple(k for k in fields_of(DataConfig) if k != "options")  # the rest are the dataset's
_NUMBER = TypeAdapter(StrictFloat)
_NUMBERS = TypeAdapter(list[StrictFloat])
_SPACED = TypeAdapter(SpacedGrid)
_OPTIMIZER = TypeAdapter(OptimizerConfig)
_OPTIMIZERS = TypeAdapter(list[OptimizerConfig])


def _file_name_prefix(name: str) -> str:
    if not name or any(c in name for c in "/\\") or name.startswith(".") or not name.isprintable():
        raise ValueError(f"must be a plain file-name prefix (no '/', no control characters), got {shown(name)}")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ValueError(
            f"must be at most {MAX_NAME_BYTES} bytes (it prefixes a directory name), got {len(name.encode())}"
        )
    return name


def _distinct(seeds: list[int]) -> list[int]:
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat, got {shown(seeds)}")
    return seeds


def _empty_is_default(value: Any) -> Any:
    """An absent, null or empty section (``train:``) is all defaults."""
    return value or {}


def _with_options(value: Any, keys: Collection[str] = ("name",)) -> Any:
    """An open section as the file gives it -> its model's shape: ``mlp`` is ``{name: mlp}``, and the keys the
    section does not declare go under ``options`` (checked against the factory by the section's validator)."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        return value  # pydantic says what is wrong
    known = {k: v for k, v in value.items() if k in keys and k != "options"}
    return {**known, "options": {k: v for k, v in value.items() if k not in known}}


def _data(value: Any) -> Any:
    return _with_options(value or {}, DATA_KEYS)


def _model(value: Any) -> Any:
    return _with_options(value or {})


def _prune(value: Any) -> Any:
    """``prune: asha`` is ``{type: asha}``; absent, null or empty: no pruning."""
    if value is None or value == "":
        return {}
    return {"type": value} if isinstance(value, str) else value


def _lr_scaling(value: Any) -> Any:
    """``lr_scaling: sqrt`` is ``{rule: sqrt}``; absent, null or empty: no scaling."""
    if value is None or value == "":
        return {}
    return {"rule": value} if isinstance(value, str) else value


@reported
def _lr(value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise ConfigError("the learning-rate grid is empty", key="lr")
        return _NUMBERS.validate_python(value)
    if isinstance(value, dict):
        return _SPACED.validate_python(value)
    return _NUMBER.validate_python(value)


@reported
def _command(value: Any) -> str | list[str] | None:
    """``command:`` a shell line, or an argv (a list of strings); checked against params by the model."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ConfigError(f"must be a shell line (text) or an argv (a list of text), got {shown(value)}", key="command")


@reported
def _optimizers(value: Any) -> tuple[OptimizerConfig, ...]:
    """``optimizer:`` one (a name or a mapping) or a non-empty list, each checked against its class."""
    if value is None:
        return (OptimizerConfig(),)
    if not isinstance(value, list):
        return (_checked_optimizer(_OPTIMIZER.validate_python(_with_options(value)), "optimizer"),)
    if not value:
        raise ConfigError("the optimizer list is empty", key="optimizer")
    entries = _OPTIMIZERS.validate_python([_with_options(item) for item in value])
    parsed = tuple(_checked_optimizer(entry, f"optimizer[{i}]") for i, entry in enumerate(entries))
    if len({o.label for o in parsed}) != len(parsed):
        raise ConfigError("the optimizer list repeats an entry", key="optimizer")
    return parsed


def _checked_optimizer(entry: OptimizerConfig, key: str) -> OptimizerConfig:
    from lrsweep.optim import check_optimizer_options

    name, options = check_optimizer_options(entry.name, entry.options, key=key)
    for option, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"must be a finite number, got {option}={shown(value)}", key=f"{key}.{option}")
    return OptimizerConfig(name, options)


@reported
def _schedulers(value: Any) -> tuple[Any, ...]:
    """``scheduler:`` none, one or a non-empty list, as SchedulerSpecs."""
    from lrsweep.optim.schedulers import parse_scheduler

    if not isinstance(value, list):
        return (parse_scheduler(value, key="scheduler"),)
    if not value:
        raise ConfigError("the scheduler list is empty", key="scheduler")
    parsed = tuple(parse_scheduler(item, key=f"scheduler[{i}]") for i, item in enumerate(value))
    if len({s.label for s in parsed}) != len(parsed):
        raise ConfigError("the scheduler list repeats an entry", key="scheduler")
    return parsed


OptimizerEntry = OptimizerConfig | str


class ConfigFile(BaseModel):
    """A sweep of learning rates, as a YAML file gives it; every key is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[StrictStr, AfterValidator(_file_name_prefix)] = Field(
        default="sweep", description="prefix of the run directory name"
    )
    seed: StrictInt | None = Field(default=0, description="the seed of every variant (or seeds: a list of them)")
    seeds: Annotated[list[StrictInt], Field(min_length=1), AfterValidator(_distinct)] | None = Field(
        default=None, description="seeds as a sweep axis, e.g. [0, 1, 2] (instead of seed)"
    )
    device: StrictStr = Field(default="auto", description="auto | cpu | cuda | cuda:N | mps")
    engine: Engine = Field(
        default="auto", description="vectorized: a pack of variants as one computation; sequential: one by one; auto"
    )
    lr: Annotated[float | list[float] | SpacedGrid, PlainValidator(_lr, json_schema_input_type=LrGrid)] = Field(
        default=0.1, description="a number, a list, or {logspace: {start, stop, num}} (or linspace): the sweep axis"
    )
    data: Annotated[DataConfig, BeforeValidator(_data, json_schema_input_type=DataConfig | str | None)] = Field(
        default_factory=DataConfig, description="the dataset (and its own keys); a name alone for its defaults"
    )
    model: Annotated[ModelConfig, BeforeValidator(_model, json_schema_input_type=ModelConfig | str | None)] = Field(
        default_factory=ModelConfig, description="the model (and its factory's keys); a name alone for its defaults"
    )
    optimizer: Annotated[
        tuple[OptimizerConfig, ...],
        PlainValidator(_optimizers, json_schema_input_type=OptimizerEntry | list[OptimizerEntry] | None),
    ] = Field(default_factory=lambda: (OptimizerConfig(),), description="one optimizer, or a list (a sweep axis)")
    scheduler: Annotated[tuple[Any, ...], PlainValidator(_schedulers, json_schema_input_type=Any)] = Field(
        default_factory=lambda: _schedulers(None), description="none, one lr schedule, or a list (a sweep axis)"
    )
    train: Annotated[TrainConfig, BeforeValidator(_empty_is_default)] = Field(
        default_factory=TrainConfig, description="how each variant trains"
    )
    select: Annotated[SelectConfig, BeforeValidator(_empty_is_default)] = Field(
        default_factory=SelectConfig, description="how the best variant is chosen"
    )
    prune: Annotated[PruneConfig, BeforeValidator(_prune, json_schema_input_type=PruneConfig | Pruner | None)] = Field(
        default_factory=PruneConfig, description="early stopping of the worst variants; prune: asha for short"
    )
    lr_scaling: Annotated[
        LrScalingConfig, BeforeValidator(_lr_scaling, json_schema_input_type=LrScalingConfig | ScalingRule | None)
    ] = Field(
        default_factory=LrScalingConfig,
        description="with several data.batch_size: scale lr from a base batch size (linear | sqrt); lr_scaling: sqrt",
    )
    retrain: StrictBool = Field(default=True, description="retrain the best variant on train+val and score it on test")
    save: Save = Field(
        default="best",
        description="final weights kept: best (retrain/model.pt) | all (+ variants/<id>/model.pt) | none",
    )
    limits: Annotated[LimitsConfig, BeforeValidator(_empty_is_default)] = Field(
        default_factory=LimitsConfig, description="size guards against a typo'd extra zero; raise one if you mean it"
    )
    command: Annotated[
        str | list[str] | None, PlainValidator(_command, json_schema_input_type=str | list[str] | None)
    ] = Field(
        default=None,
        description="your own training script, one process per trial, reporting one JSON line per epoch: a shell "
        "line (python train.py --lr {lr} --seed {seed} --epochs {epochs} --out {trial_dir}) or an argv list; "
        "placeholders {lr} {seed} {epochs} {trial_dir} {device} {trial_id} {run_dir} {params.NAME}",
    )
    function: StrictStr | None = Field(
        default=None,
        description="your own training function, package.module:function, called with a trial per variant "
        "(trial.lr, .seed, .epochs, .device, .dir, .params; trial.report(epoch, **metrics))",
    )
    params: dict[StrictStr, Any] = Field(
        default_factory=dict,
        description="fixed values for your command ({params.NAME}, $LRSWEEP_PARAMS as JSON) or function (trial.params)",
    )
    trials: Annotated[TrialConfig, BeforeValidator(_empty_is_default)] = Field(
        default_factory=TrialConfig, description="how a command or function trial is run and stopped"
    )

    @field_validator("data")
    @classmethod
    @reported
    def _dataset_options(cls, data: DataConfig) -> DataConfig:
        from lrsweep.data import check_options

        return replace(data, options=check_options(data.name, data.options, key="data"))

    @field_validator("model")
    @classmethod
    @reported
    def _model_options(cls, model: ModelConfig) -> ModelConfig:
        from lrsweep.models import check_model_options

        return replace(model, options=check_model_options(model.name, model.options, key="model"))

    @field_validator("train")
    @classmethod
    @reported
    def _metric_names(cls, train: TrainConfig) -> TrainConfig:
        for i, name in enumerate(train.metrics):
            check_metric_name(name, key=f"train.metrics[{i}]")
        if len(set(train.metrics)) != len(train.metrics):
            raise ConfigError(f"the metric list repeats an entry: {list(train.metrics)}", key="train.metrics")
        return train

    @model_validator(mode="after")
    @reported
    def _seed_or_seeds(self) -> "ConfigFile":
        if self.seed is not None and self.seeds is not None and "seed" in self.model_fields_set:
            raise ConfigError("give either 'seed' or 'seeds', not both", key="seeds")
        return self

    @model_validator(mode="after")
    @reported
    def _trial_kind(self) -> "ConfigFile":
        """Your own code (command: or function:) or lrsweep's loop, each with only the keys that apply to it."""
        from lrsweep.config.directions import metric_mode
        from lrsweep.registry import check_import_spec

        if self.command is not None and self.function is not None:
            raise ConfigError("give either 'command' or 'function', not both", key="function")
        if self.kind == "engine":
            _engine_only(self)
        else:
            _own_code_only(self)
            check_params(self.params)
            if self.command is not None:
                check_command(self.command, self.params)
            elif self.function is not None:
                check_import_spec(self.function, key="function")
        try:
            metric_mode(self.select.metric, self.select.mode)
        except ValueError as exc:
            raise ConfigError(str(exc), key="select.mode") from None
        return self

    @property
    def kind(self) -> str:
        """engine (lrsweep's own loop) | command | function: how each variant trains."""
        return "command" if self.command is not None else "function" if self.function is not None else "engine"


# What only lrsweep's own training loop reads: a command or function trains with its own.
ENGINE_KEYS = ("data", "model", "optimizer", "scheduler", "engine", "lr_scaling")
ENGINE_TRAIN_KEYS = ("loss", "precision", "grad_clip", "compile", "metrics", "early_stopping")


def _own_code_only(file: ConfigFile) -> None:
    """A command or function trains with its own data, model and optimizer: lrsweep's would silently do nothing,
    so they are refused (not ignored), as are retrain (no train+val step to call) and weights lrsweep never holds."""
    what = f"{file.kind}: trains each variant with your own code"
    for key in ENGINE_KEYS:
        if key in file.model_fields_set:
            raise ConfigError(
                f"{what}, so {key} (lrsweep's own training loop) would have no effect: remove it (give your "
                "code its settings with params:, read as {params.NAME} or trial.params)",
                key=key,
            )
    defaults = TrainConfig()
    for key in ENGINE_TRAIN_KEYS:
        if getattr(file.train, key) != getattr(defaults, key):
            raise ConfigError(
                f"{what}, so train.{key} would have no effect: remove it (only train.epochs applies)",
                key=f"train.{key}",
            )
    if file.retrain and "retrain" in file.model_fields_set:
        raise ConfigError(
            f"{what}: lrsweep cannot retrain it on train+val and score it on test (your script has no such "
            "step lrsweep can call); remove retrain (with command: or function: it is off)",
            key="retrain",
        )
    if file.save == "all":
        raise ConfigError(
            f"{what}: lrsweep holds none of its weights; save them in {{trial_dir}} (trial.dir) yourself", key="save"
        )


def _engine_only(file: ConfigFile) -> None:
    """lrsweep's own loop: none of the keys of your own code, and a metric it reports."""
    for key, default in (("params", {}), ("trials", TrialConfig())):
        if key in file.model_fields_set and getattr(file, key) != default:
            raise ConfigError(f"{key} applies to your own training code only (give command: or function:)", key=key)
    try:
        check_select_metric(file.select.metric, file.train.metrics)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message} (your own code, with command: or function:, may report any name)", key="select.metric"
        ) from None


TOP_KEYS = tuple(ConfigFile.model_fields)
