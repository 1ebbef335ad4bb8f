"""The sections of a config file, one pydantic model each: every key's type, default and one-line meaning.

Each default and description is written here once (``Field(default, description=...)``); ``lrsweep schema``,
``lrsweep datasets`` and the runtime :class:`~lrsweep.config.resolved.Config` read them from these models.

A section model is also the type the rest of lrsweep reads (``config.train.epochs``): a frozen pydantic
dataclass, so it is made positionally (``OptimizerConfig("sgd", {})``), compared, pickled and
``dataclasses.replace``-d like the plain frozen dataclasses it replaced, and validated wherever it is made.
Values are strict: ``"3"`` is not an integer and ``true`` is not a number, while an integer is a number.
Unknown keys are refused (``extra="forbid"``). The open sections (data, model, optimizer) keep the dataset's,
model's or optimizer's own keys under ``options``; :class:`~lrsweep.config.file.ConfigFile` puts them there
and checks them against the factory's signature.
"""

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic.dataclasses import dataclass as section
from pydantic.fields import FieldInfo

from lrsweep.config.directions import metric_mode
from lrsweep.errors import ConfigError, shown
from lrsweep.registry import nearest

SECTION = ConfigDict(extra="forbid")  # a section refuses the keys it does not declare

Loss = Literal["auto", "cross_entropy", "bce_with_logits", "mse", "l1", "huber", "smooth_l1"]
Precision = Literal["auto", "32", "bf16-mixed", "16-mixed"]
Pruner = Literal["none", "asha"]
Mode = Literal["min", "max"]
At = Literal["last", "best"]
ScalingRule = Literal["none", "linear", "sqrt"]
LOSSES: tuple[str, ...] = get_args(Loss)
CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits")  # the others are regression losses
REGRESSION_LOSSES = ("mse", "l1", "huber", "smooth_l1")
# The option each loss takes (train.loss: {name: huber, delta: 2.0}); auto may become cross_entropy
LOSS_OPTIONS = {"huber": "delta", "smooth_l1": "beta", "cross_entropy": "label_smoothing", "auto": "label_smoothing"}
PRECISIONS: tuple[str, ...] = get_args(Precision)  # train.precision (see lrsweep.engine.precision)
PRUNERS: tuple[str, ...] = get_args(Pruner)
SCALING_EXPONENTS = {"none": 0.0, "linear": 1.0, "sqrt": 0.5}  # lr_scaling.rule: lr ~ batch_size ** exponent
SELECT_METRICS = {"val_loss": "min", "val_acc": "max"}  # what every sweep of lrsweep's own loop can rank by
SELECT_PATTERN = r"^val_(loss|acc|f1|auroc|top[0-9]+|r2|mae|rmse)$"  # select.metric: any lrsweep computes


@dataclass(frozen=True)
class Unit:
    """What a number counts, named in its range errors (``must be >= 0 pixels``)."""

    name: str


def fields_of(model: Any) -> dict[str, FieldInfo]:
    """A section model's fields (name -> default, description, constraints), in the order declared."""
    return getattr(model, "__pydantic_fields__", None) or {}


def _null_is_default(value: Any) -> Any:
    return {} if value is None else value


def _precision_text(value: Any) -> Any:
    """YAML reads ``precision: 32`` as a number."""
    number = isinstance(value, int) and not isinstance(value, bool)
    return str(value) if number and str(value) in PRECISIONS else value


def _number_text(value: Any) -> Any:
    """YAML reads ``1e9`` (no dot) as text."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _loss(value: Any) -> Any:
    """``train.loss: huber`` is ``{name: huber}``; an unknown name is refused here, at ``train.loss``."""
    if value is None:
        return {}
    if isinstance(value, str):
        if value not in LOSSES:
            guess = nearest(value, LOSSES)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise ValueError(f"got {shown(value)}{hint} (valid: {', '.join(LOSSES)})")
        return {"name": value}
    return value


def _batch_sizes(value: Any) -> int | list[int]:
    """``data.batch_size``: a positive integer, or a non-empty list of distinct ones (a sweep axis)."""
    sizes = value if isinstance(value, list) else [value]
    if not sizes:
        raise ValueError("must be a positive integer or a non-empty list of them, got []")
    for i, size in enumerate(sizes):
        where = f"batch_size[{i}]" if isinstance(value, list) else "batch_size"
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"must be an integer, got {where}={shown(size)}")
        if size < 1:
            raise ValueError(f"must be >= 1, got {where}={size}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"batch sizes repeat, got {shown(value)}")
    return value


def _whole_number(value: Any) -> Any:
    """``1e9`` is accepted for 1000000000."""
    value = _number_text(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


@section(frozen=True, config=SECTION)
class AugmentConfig:
    """Training-batch augmentation, on the device (``data.augment``); evaluation is never augmented."""

    crop: Annotated[StrictInt, Unit("pixels")] = Field(
        default=0, ge=0, description="random crop after zero-padding each side by this many pixels; 0: none"
    )
    flip: StrictBool = Field(default=False, description="random horizontal flip, with probability 1/2")
    cutout: Annotated[StrictInt, Unit("pixels")] = Field(
        default=0, ge=0, description="zero a random square of this side (clipped at the borders); 0: none"
    )

    @property
    def active(self) -> bool:
        return bool(self.crop or self.flip or self.cutout)


@section(frozen=True, config=SECTION)
class DataConfig:
    """Which dataset, how it is split and batched; the dataset's own keys sit beside these in the file."""

    name: StrictStr = Field(default="mnist-sample", description='dataset registry name, or "package.module:function"')
    root: StrictStr | None = Field(
        default=None, description="where datasets live; null: $LRSWEEP_DATA, else the user cache dir"
    )
    download: StrictBool = Field(default=True, description="fetch missing files from the canonical mirrors")
    val_fraction: StrictFloat = Field(
        default=0.1, ge=0, lt=1, description="share of the training data held out (seeded) for validation"
    )
    batch_size: Annotated[
        int | list[int], PlainValidator(_batch_sizes, json_schema_input_type=StrictInt | list[StrictInt])
    ] = Field(
        default=128,
        description="mini-batch size for training; a list ([32, 128, 512]) is a sweep axis like lr (see lr_scaling)",
    )
    augment: Annotated[
        AugmentConfig, BeforeValidator(_null_is_default, json_schema_input_type=AugmentConfig | None)
    ] = Field(default_factory=AugmentConfig, description="training-batch augmentation, e.g. {crop: 4, flip: true}")
    num_workers: StrictInt = Field(
        default=0,
        ge=0,
        description="DataLoader worker processes for a streamed Dataset; 0: load in the training process",
    )
    options: dict = Field(
        default_factory=dict, description="the dataset's own keys (path, target, n_samples, ...), flat in the file"
    )


@section(frozen=True, config=SECTION)
class ModelConfig:
    """Which model; its factory's keyword arguments sit beside ``name`` in the file."""

    name: StrictStr = Field(default="mlp", description='model registry name, or "package.module:factory"')
    options: dict = Field(
        default_factory=dict, description="the factory's keyword arguments (hidden: [256, 256]), flat in the file"
    )


@section(frozen=True, config=SECTION)
class OptimizerConfig:
    """One optimizer; its keyword arguments (except lr, the sweep axis) sit beside ``name`` in the file."""

    name: StrictStr = Field(
        default="sgd", description='any torch.optim class taking params and lr (any case), or "package.module:Class"'
    )
    options: dict = Field(
        default_factory=dict, description="torch.optim keyword arguments except lr (momentum: 0.9), flat in the file"
    )

    @property
    def label(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.name}({inner})" if inner else self.name

    def to_dict(self) -> dict:
        return {"name": self.name, **self.options}


@section(frozen=True, config=SECTION)
class LossConfig:
    """The training loss (``train.loss``): a name, or ``{name: huber, delta: 2.0}`` with the option it takes.

    The validation and test losses (val_loss, test_loss) are the same function on those splits.
    """

    name: Loss = Field(
        default="auto",
        description="auto (cross_entropy for classification, mse for regression) | cross_entropy | "
        "bce_with_logits (two classes, one output) | mse | l1 | huber | smooth_l1",
    )
    delta: StrictFloat = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="huber: where the loss turns from quadratic to linear"
    )
    beta: StrictFloat = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="smooth_l1: where the loss turns from quadratic to linear"
    )
    label_smoothing: StrictFloat = Field(
        default=0.0, ge=0, le=1, description="cross_entropy: share of each target spread evenly over all classes"
    )

    @model_validator(mode="after")
    def _options_of_the_loss(self) -> "LossConfig":
        taken = LOSS_OPTIONS.get(self.name)
        for option, default in (("delta", 1.0), ("beta", 1.0), ("label_smoothing", 0.0)):
            if option != taken and getattr(self, option) != default:
                owner = next(name for name, o in LOSS_OPTIONS.items() if o == option)
                raise ValueError(f"{option} is an option of {owner}, not of {self.name}")
        return self

    @property
    def options(self) -> dict[str, float]:
        """The keyword argument of torch's loss function this loss takes (``{"delta": 1.0}``), if any."""
        option = LOSS_OPTIONS.get(self.name)
        return {option: getattr(self, option)} if option else {}

    @property
    def short(self) -> str | dict:
        """As a file gives it: the name alone while its option is at its default."""
        changed = {k: v for k, v in self.options.items() if v != fields_of(LossConfig)[k].default}
        return {"name": self.name, **changed} if changed else self.name


@section(frozen=True, config=SECTION)
class EarlyStoppingConfig:
    """Stop a variant once its selection metric (select.metric, its direction) has stopped improving."""

    patience: StrictInt = Field(default=3, ge=1, description="epochs without improvement before the variant stops")
    min_delta: StrictFloat = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="a smaller change than this does not count as improvement"
    )


@section(frozen=True, config=SECTION)
class TrainConfig:
    """How each variant trains."""

    epochs: StrictInt = Field(default=10, ge=1, description="passes over the training split per variant")
    loss: Annotated[LossConfig, BeforeValidator(_loss, json_schema_input_type=LossConfig | Loss | None)] = Field(
        default_factory=LossConfig, description="the loss: a name (huber), or {name: huber, delta: 2.0}"
    )
    metrics: tuple[StrictStr, ...] = Field(
        default=(),
        description="computed on validation each epoch (val_f1, ...): f1, auroc, top<k> (top5) for "
        "classification; r2, mae, rmse for regression",
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        default=None, description="{patience: 3, min_delta: 0.0}: stop a variant whose select.metric stalls; null: off"
    )
    precision: Annotated[
        Precision, BeforeValidator(_precision_text, json_schema_input_type=Precision | Literal[32])
    ] = Field(default="32", description="32 | bf16-mixed | 16-mixed (CUDA only) | auto (bf16-mixed on CUDA, else 32)")
    grad_clip: StrictFloat | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="max gradient norm per variant (torch's clip_grad_norm_); null: no clipping",
    )
    compile: StrictBool = Field(
        default=False, description="torch.compile the training forward pass where the platform supports it"
    )


@section(frozen=True, config=SECTION)
class SelectConfig:
    """How the best variant is chosen."""

    metric: StrictStr = Field(
        default="val_loss",
        description="the metric that ranks the variants: val_loss | val_acc | val_<m> for each m of train.metrics "
        "for lrsweep's own loop; any name your command or function reports",
    )
    at: At = Field(
        default="last",
        description="last: each variant scored at its last epoch | best: at its best epoch (the retrain trains "
        "that many epochs)",
    )
    mode: Mode | None = Field(
        default=None,
        description="min | max: which way the metric is better; null: what its name says (loss, error, mae, rmse: "
        "min; acc, f1, auroc, r2, top-k: max)",
    )

    @property
    def direction(self) -> str:
        """min or max: ``mode``, else what the metric's name says (see :mod:`lrsweep.config.directions`)."""
        return metric_mode(self.metric, self.mode)


@section(frozen=True, config=SECTION)
class PruneConfig:
    """Early stopping of the worst variants (``prune: asha`` for short)."""

    type: Pruner = Field(
        default="none", description="none | asha (successive halving at rungs of grace_epochs * reduction^k epochs)"
    )
    grace_epochs: StrictInt = Field(default=1, ge=1, description="epochs every variant trains before the first cut")
    reduction: StrictInt = Field(
        default=3, ge=2, description="keep the best 1/reduction of the (seed-averaged) variants at each rung"
    )

    @property
    def active(self) -> bool:
        return self.type != "none"


@section(frozen=True, config=SECTION)
class LrScalingConfig:
    """Each batch size's learning rates, scaled from the lr grid given for a base batch size (``lr_scaling``)."""

    rule: ScalingRule = Field(
        default="none",
        description="none | linear (lr x b/base) | sqrt (lr x sqrt(b/base)) for each batch size b of data.batch_size",
    )
    base_batch_size: StrictInt | None = Field(
        default=None, ge=1, description="the batch size lr is given for; null: the first of data.batch_size"
    )

    @property
    def active(self) -> bool:
        return self.rule != "none"

    @property
    def exponent(self) -> float:
        """The rule's exponent: the good LR is expected to grow as batch_size ** exponent."""
        return SCALING_EXPONENTS[self.rule]


Limit = Annotated[StrictInt, BeforeValidator(_whole_number, json_schema_input_type=float)]


@section(frozen=True, config=SECTION)
class LimitsConfig:
    """Guards against a typo'd size (an extra zero) allocating until the machine runs out of memory.

    Each is an upper bound a real sweep rarely needs; raise one in the config (``limits: {max_parameters:
    1e9}``) or on the command line (``--set limits.max_parameters=1e9``). Not part of the fingerprint.
    """

    max_variants: Limit = Field(
        default=10_000, gt=0, description="variants in one sweep (lr x scheduler x optimizer x seed)"
    )
    max_parameters: Limit = Field(
        default=100_000_000, gt=0, description="parameters of one model (4 bytes each in float32)"
    )
    max_activations: Limit = Field(
        default=500_000_000, gt=0, description="numbers one variant keeps for backward per batch"
    )
    max_data_values: Limit = Field(
        default=250_000_000,
        gt=0,
        description="numbers in a generated dataset, rows x features: read from a factory's size arguments "
        "(n_samples, n_features, ...) before it is called, and counted in what it returns",
    )
    max_classes: Limit = Field(default=100_000, gt=0, description="classes of a generated classification dataset")
    max_weight_decay: Annotated[StrictFloat, BeforeValidator(_number_text, json_schema_input_type=float)] = Field(
        default=10.0, gt=0, allow_inf_nan=False, description="an optimizer's weight_decay (typical values: 1e-5 to 0.1)"
    )


def parse_precision(value: Any, key: str = "train.precision") -> str:
    """``32`` (a YAML number or string), ``bf16-mixed``, ``16-mixed`` or ``auto``."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text not in PRECISIONS:
        raise ConfigError(f"got {value!r} (valid: {', '.join(PRECISIONS)})", key=key)
    return text
