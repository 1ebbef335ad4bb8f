"""The config: YAML + ``--set`` overrides -> a typed, validated :class:`Config`.

Every default lives here, once, beside a one-line comment. Dataset, model, optimizer and
scheduler options are checked against their registries (and the signatures behind them).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrsweep.errors import ConfigError, shown
from lrsweep.registry import nearest

SELECT_METRICS = {"val_loss": "min", "val_acc": "max"}  # metric -> direction
LOSSES = ("auto", "cross_entropy", "mse")
ENGINES = ("auto", "vectorized", "sequential")
PRUNERS = ("none", "asha")
PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")  # train.precision (see lrsweep.engine.precision)
MAX_NAME_BYTES = 200  # a run directory's name is <name>-<stamp>; file systems allow 255 bytes
SAVES = ("best", "all", "none")  # save: which final weights a sweep keeps


@dataclass(frozen=True)
class AugmentConfig:
    """Training-batch augmentation, on the device (``data.augment``); evaluation is never augmented."""

    crop: int = 0  # random crop after zero-padding each side by this many pixels; 0: none
    flip: bool = False  # random horizontal flip, with probability 1/2
    cutout: int = 0  # zero a random square of this side (clipped at the borders); 0: none

    @property
    def active(self) -> bool:
        return bool(self.crop or self.flip or self.cutout)


@dataclass(frozen=True)
class DataConfig:
    name: str = "mnist-sample"  # dataset registry name, or "package.module:function"
    root: str | None = None  # where datasets live; None: $LRSWEEP_DATA, else the user cache dir
    download: bool = True  # fetch missing files from the canonical mirrors
    val_fraction: float = 0.1  # share of the training data held out (seeded) for validation
    batch_size: int = 128  # mini-batch size for training and evaluation
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # e.g. {crop: 4, flip: true}
    num_workers: int = 0  # DataLoader worker processes for a streamed Dataset; 0: load in the training process
    options: dict = field(default_factory=dict)  # dataset-specific keys (path, target, n_samples, ...)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"  # model registry name, or "package.module:factory"
    options: dict = field(default_factory=dict)  # e.g. hidden: [256, 256]


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sgd"  # any torch.optim class taking params and lr (any case), or "package.module:Class"
    options: dict = field(default_factory=dict)  # torch.optim keyword arguments except lr

    @property
    def label(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.name}({inner})" if inner else self.name

    def to_dict(self) -> dict:
        return {"name": self.name, **self.options}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training split per variant
    loss: str = "auto"  # auto (cross_entropy for classification, mse for regression) | cross_entropy | mse
    precision: str = "32"  # 32 | bf16-mixed | 16-mixed (CUDA only) | auto (bf16-mixed on CUDA, else 32)
    grad_clip: float | None = None  # max gradient norm per variant (torch's clip_grad_norm_); None: no clipping
    compile: bool = False  # torch.compile the training forward pass where the platform supports it


@dataclass(frozen=True)
class SelectConfig:
    metric: str = "val_loss"  # val_loss (lowest wins) | val_acc (highest wins), at the last epoch

    @property
    def direction(self) -> str:
        return SELECT_METRICS[self.metric]


@dataclass(frozen=True)
class PruneConfig:
    type: str = "none"  # none | asha (successive halving at rungs of grace_epochs * reduction^k epochs)
    grace_epochs: int = 1  # epochs every variant trains before the first cut
    reduction: int = 3  # keep the best 1/reduction of the (seed-averaged) variants at each rung

    @property
    def active(self) -> bool:
        return self.type != "none"


@dataclass(frozen=True)
class LimitsConfig:
    """Guards against a typo'd size (an extra zero) allocating until the machine runs out of memory.

    Each is an upper bound a real sweep rarely needs; raise one in the config (``limits: {max_parameters:
    1e9}``) or on the command line (``--set limits.max_parameters=1e9``). Not part of the fingerprint.
    """

    max_variants: int = 10_000  # variants in one sweep (lr x scheduler x optimizer x seed)
    max_parameters: int = 100_000_000  # parameters of one model (400 MB of float32 weights)
    max_activations: int = 500_000_000  # numbers one variant keeps for backward per batch (2 GB of float32)
    max_data_values: int = 250_000_000  # numbers in a generated dataset, rows x features (1 GB of float32)
    max_classes: int = 100_000  # classes of a generated classification dataset
    max_weight_decay: float = 10.0  # an optimizer's weight_decay (typical values: 1e-5 to 0.1)


@dataclass(frozen=True)
class Config:
    """A validated sweep: everything that ran is recoverable from :meth:`to_dict`."""

    name: str = "sweep"  # prefix of the run directory name
    seeds: tuple[int, ...] = (0,)  # `seed: 0`, or `seeds: [0, 1, 2]` as a sweep axis
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    engine: str = "auto"  # auto | vectorized | sequential
    lrs: tuple[float, ...] = (0.1,)  # `lr:` a number, a list, or {logspace: {start, stop, num}}
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizers: tuple[OptimizerConfig, ...] = (OptimizerConfig(),)  # `optimizer:` one or a list
    schedulers: tuple[Any, ...] = ()  # SchedulerSpecs; `scheduler:` none, one or a list
    train: TrainConfig = field(default_factory=TrainConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    retrain: bool = True  # retrain the best variant on train+val and score it on test
    limits: LimitsConfig = field(default_factory=LimitsConfig)  # size guards (see LimitsConfig)
    save: str = "best"  # final weights kept: best (retrain/model.pt) | all (+ variants/<id>/model.pt) | none
    source: str | None = field(default=None, compare=False)  # the file it came from

    def to_dict(self) -> dict:
        """The resolved config as plain YAML-able data (it loads back to an equal Config)."""
        out = {
            "name": self.name,
            "seeds": list(self.seeds),
            "device": self.device,
            "engine": self.engine,
            "lr": list(self.lrs),
            "data": _section_dict(self.data),
            "model": {"name": self.model.name, **self.model.options},
            "optimizer": [o.to_dict() for o in self.optimizers],
            "scheduler": [s.to_dict() for s in self.schedulers],
            "train": dataclasses.asdict(self.train),
            "select": dataclasses.asdict(self.select),
            "prune": dataclasses.asdict(self.prune),
            "retrain": self.retrain,
            "save": self.save,
        }
        if self.limits != LimitsConfig():
            out["limits"] = dataclasses.asdict(self.limits)
        return out

    def fingerprint(self) -> str:
        """A short hash of what determines the results (not the device or the engine)."""
        data = self.to_dict()
        for volatile in ("device", "engine", "name", "save"):
            data.pop(volatile)
        data.pop("limits", None)  # guards, not results
        data["data"].pop("root", None)
        data["data"].pop("num_workers", None)  # how samples are loaded, not which
        if not self.data.augment.active:
            data["data"].pop("augment", None)  # runs made before augmentation existed keep their fingerprint
        if not self.prune.active:
            data.pop("prune")  # runs made before pruning existed keep their fingerprint
        for key in ("precision", "grad_clip", "compile"):  # likewise runs made before these keys existed
            if data["train"][key] == getattr(TrainConfig(), key):
                data["train"].pop(key)
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


def _section_dict(section: DataConfig) -> dict:
    out = {f.name: getattr(section, f.name) for f in dataclasses.fields(section) if f.name != "options"}
    out["augment"] = dataclasses.asdict(section.augment)
    out.update(section.options)
    return out


# --------------------------------------------------------------------------- loading

TOP_KEYS = (
    "name",
    "seed",
    "seeds",
    "device",
    "engine",
    "lr",
    "data",
    "model",
    "optimizer",
    "scheduler",
    "train",
    "select",
    "prune",
    "retrain",
    "save",
    "limits",
)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML file, apply ``dotted.key=value`` overrides, validate."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        raw = resolve_paths(raw, path.resolve().parent)  # the file's own paths: relative to the file
        raw = resolve_paths(apply_overrides(raw, overrides), Path.cwd())  # --set paths: relative to cwd
        return parse_config(raw, source=str(path))
    except ConfigError as err:
        raise err.located(file=str(path)) from None


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping, bounded and strict (lrsweep.config.safe_yaml); errors name the file and line."""
    from lrsweep.config import safe_yaml

    path = Path(path)
    raw = safe_yaml.load(safe_yaml.decode(safe_yaml.read_config_bytes(path), str(path)), str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got {type(raw).__name__}", file=str(path))
    return raw


PATH_KEYS = ("root", "path")  # data keys naming a file or folder (path: built-in datasets only)


def resolve_paths(raw: dict, base: Path) -> dict:
    """A copy of ``raw`` whose relative ``data.root`` / ``data.path`` are made absolute against ``base``.

    ``~`` paths and absolute ones are kept as given; anything not a string is left for validation.
    """
    from lrsweep import data as datasets

    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    builtin = not datasets.DATASETS.is_import(str(data.get("name", DataConfig().name)))
    resolved = dict(data)
    for key in PATH_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value and (key == "root" or builtin) and not value.startswith("~"):
            if not Path(value).is_absolute():
                resolved[key] = str(base / value)
    return {**raw, "data": resolved}


def parse_override(item: str) -> tuple[list[str], Any]:
    """``train.epochs=3`` -> (["train", "epochs"], 3); the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects dotted.key=value, got '{item}'")
    from lrsweep.config import safe_yaml

    try:
        value = safe_yaml.load(text) if text.strip() else None
    except ConfigError as err:
        raise ConfigError(f"cannot parse the value of --set {shown(item)} as YAML: {err.message}", key=key) from None
    return key.split("."), value


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Set each ``dotted.key=value`` in a copy of ``raw`` (keys are validated later, with the rest)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        parts, value = parse_override(item)
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str) and part in ("data", "model", "optimizer", "scheduler"):
                child = node[part] = {"type" if part == "scheduler" else "name": child}
            elif not isinstance(child, dict):
                raise ConfigError(f"cannot set '{'.'.join(parts)}': '{'.'.join(parts[: i + 1])}' is not a section")
            node = child
        node[parts[-1]] = value
        if parts in (["seed"], ["seeds"]) and value is not None:  # --set seeds=[0,1,2] on a `seed: 0` file
            raw.pop("seeds" if parts == ["seed"] else "seed", None)
    return raw


def parse_config(raw: dict, source: str | None = None) -> Config:
    """Validate a raw mapping into a :class:`Config` (errors carry the key path)."""
    check_keys(raw, TOP_KEYS, prefix="")
    if raw.get("seed") is not None and raw.get("seeds") is not None:  # null = unset (--set seed=null)
        raise ConfigError("give either 'seed' or 'seeds', not both", key="seeds")
    defaults = Config()
    limits = parse_limits(raw.get("limits") or {})
    data = parse_data(raw.get("data") or {})
    config = Config(
        name=parse_name(raw.get("name", defaults.name)),
        seeds=parse_seeds(raw),
        device=expect(raw.get("device", defaults.device), str, "device"),
        engine=choice(raw.get("engine", defaults.engine), ENGINES, "engine"),
        lrs=parse_lrs(raw.get("lr", list(defaults.lrs)), limits.max_variants),
        data=data,
        model=parse_model(raw.get("model") or {}),
        optimizers=parse_optimizers(raw.get("optimizer")),
        schedulers=parse_schedulers(raw.get("scheduler")),
        train=parse_train(raw.get("train") or {}),
        select=parse_select(raw.get("select") or {}),
        prune=parse_prune(raw.get("prune")),
        retrain=expect(raw.get("retrain", defaults.retrain), bool, "retrain"),
        limits=limits,
        save=choice(raw.get("save", defaults.save), SAVES, "save"),
        source=source,
    )
    check_consistency(config)
    return config


def check_consistency(config: Config) -> None:
    check_limits(config)
    if config.data.val_fraction == 0 and len(config.lrs) * len(config.optimizers) * max(1, len(config.schedulers)) > 1:
        raise ConfigError(
            "a sweep needs a validation split to choose the best variant, got val_fraction=0", key="data.val_fraction"
        )


# --------------------------------------------------------------------------- sections


def check_keys(mapping: Any, allowed: tuple[str, ...] | list[str], prefix: str) -> None:
    """Unknown keys are an error naming the key path and the nearest valid spelling."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"expected a mapping, got {shown(mapping)}", key=prefix or None)
    for key in mapping:
        if key not in allowed:
            guess = nearest(str(key), allowed)
            hint = f"; did you mean '{guess}'?" if guess else ""
            path = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"unknown key{hint} (valid: {', '.join(sorted(allowed))})", key=path)


def expect(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    """Type check with the given value in the message; ints are accepted where floats are."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = " or ".join(
            {
                bool: "true/false",
                str: "a string",
                int: "an integer",
                float: "a number",
                dict: "a mapping",
                list: "a list",
            }.get(k, k.__name__)
            for k in kinds
        )
        raise ConfigError(f"must be {names}, got {shown(value)}", key=key)
    return value


def choice(value: Any, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        guess = nearest(str(value), allowed)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"got {shown(value)}{hint} (valid: {', '.join(allowed)})", key=key)
    return value


def parse_name(value: Any) -> str:
    name = expect(value, str, "name")
    if not name or any(c in name for c in "/\\") or name.startswith(".") or not name.isprintable():
        raise ConfigError(
            f"must be a plain file-name prefix (no '/', no control characters), got {shown(name)}", key="name"
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ConfigError(
            f"must be at most {MAX_NAME_BYTES} bytes (it prefixes a directory name), got {len(name.encode())}",
            key="name",
        )
    return name


def parse_seeds(raw: dict) -> tuple[int, ...]:
    if raw.get("seeds") is not None:
        seeds = raw["seeds"]
        if not isinstance(seeds, list) or not seeds:
            raise ConfigError(f"must be a non-empty list of integers, got {shown(seeds)}", key="seeds")
        for i, s in enumerate(seeds):
            expect(s, int, f"seeds[{i}]")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds repeat, got {shown(seeds)}", key="seeds")
        return tuple(seeds)
    seed = raw.get("seed")
    return Config().seeds if seed is None else (expect(seed, int, "seed"),)


def parse_lrs(value: Any, max_num: int = LimitsConfig.max_variants) -> tuple[float, ...]:
    """A number, a list, or ``{logspace: {start, stop, num}}`` / ``{linspace: ...}``."""
    if isinstance(value, dict):
        lrs = _spaced_lrs(value, max_num)
    elif isinstance(value, list):
        if not value:
            raise ConfigError("the learning-rate grid is empty", key="lr")
        lrs = [expect(v, float, f"lr[{i}]") for i, v in enumerate(value)]
    else:
        lrs = [expect(value, float, "lr")]
    for i, lr in enumerate(lrs):
        key = f"lr[{i}]" if len(lrs) > 1 or isinstance(value, (list, dict)) else "lr"
        if not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"learning rates must be finite and > 0, got lr={lr}", key=key)
    if len(set(lrs)) != len(lrs):
        raise ConfigError(f"the grid repeats a learning rate: {lrs}", key="lr")
    return tuple(float(lr) for lr in lrs)


def _spaced_lrs(value: dict, max_num: int) -> list[float]:
    check_keys(value, ("logspace", "linspace"), "lr")
    if len(value) != 1:
        raise ConfigError("give one of logspace or linspace", key="lr")
    kind, spec = next(iter(value.items()))
    key = f"lr.{kind}"
    check_keys(spec, ("start", "stop", "num"), key)
    for required in ("start", "stop", "num"):
        if required not in spec:
            raise ConfigError(f"missing '{required}'", key=key)
    start = expect(spec["start"], float, f"{key}.start")
    stop = expect(spec["stop"], float, f"{key}.stop")
    num = expect(spec["num"], int, f"{key}.num")
    if num < 1:
        raise ConfigError(f"must be >= 1, got num={num}", key=f"{key}.num")
    if num > max_num:
        raise ConfigError(
            f"num={num:,} is more than limits.max_variants={max_num:,} (raise it with --set limits.max_variants=N)",
            key=f"{key}.num",
        )
    if kind == "logspace":
        for name, v in (("start", start), ("stop", stop)):
            if not math.isfinite(v) or v <= 0:
                raise ConfigError(f"must be finite and > 0, got {name}={v}", key=f"{key}.{name}")
        if num == 1:
            return [start]
        lo, hi = math.log10(start), math.log10(stop)
        return [float(f"{10 ** (lo + (hi - lo) * i / (num - 1)):.6g}") for i in range(num)]
    if num == 1:
        return [start]
    return [float(f"{start + (stop - start) * i / (num - 1):.6g}") for i in range(num)]


def parse_data(raw: Any) -> DataConfig:
    from lrsweep import data as datasets

    if isinstance(raw, str):
        raw = {"name": raw}
    expect(raw, dict, "data")
    defaults = DataConfig()
    common = {k: raw[k] for k in datasets.COMMON_KEYS if k in raw}
    options = {k: v for k, v in raw.items() if k not in datasets.COMMON_KEYS}
    name = expect(common.get("name", defaults.name), str, "data.name")
    options = datasets.check_options(name, options, key="data")
    root = common.get("root", defaults.root)
    if root is not None:
        expect(root, str, "data.root")
    val_fraction = expect(common.get("val_fraction", defaults.val_fraction), float, "data.val_fraction")
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"must be in [0, 1), got val_fraction={val_fraction}", key="data.val_fraction")
    batch_size = expect(common.get("batch_size", defaults.batch_size), int, "data.batch_size")
    if batch_size < 1:
        raise ConfigError(f"must be >= 1, got batch_size={batch_size}", key="data.batch_size")
    num_workers = expect(common.get("num_workers", defaults.num_workers), int, "data.num_workers")
    if num_workers < 0:
        raise ConfigError(f"must be >= 0, got num_workers={num_workers}", key="data.num_workers")
    return DataConfig(
        name=name,
        root=root,
        download=expect(common.get("download", defaults.download), bool, "data.download"),
        val_fraction=val_fraction,
        batch_size=batch_size,
        augment=parse_augment(common.get("augment")),
        num_workers=num_workers,
        options=options,
    )


def parse_augment(raw: Any) -> AugmentConfig:
    """``{crop: 4, flip: true, cutout: 8}``; absent or null: no augmentation."""
    if raw is None:
        return AugmentConfig()
    check_keys(raw, [f.name for f in dataclasses.fields(AugmentConfig)], "data.augment")
    defaults = AugmentConfig()
    sizes = {}
    for name in ("crop", "cutout"):
        sizes[name] = expect(raw.get(name, getattr(defaults, name)), int, f"data.augment.{name}")
        if sizes[name] < 0:
            raise ConfigError(f"must be >= 0 pixels, got {name}={sizes[name]}", key=f"data.augment.{name}")
    flip = expect(raw.get("flip", defaults.flip), bool, "data.augment.flip")
    return AugmentConfig(crop=sizes["crop"], flip=flip, cutout=sizes["cutout"])


def parse_model(raw: Any) -> ModelConfig:
    from lrsweep.models import check_model_options

    if isinstance(raw, str):
        raw = {"name": raw}
    expect(raw, dict, "model")
    name = expect(raw.get("name", ModelConfig().name), str, "model.name")
    options = {k: v for k, v in raw.items() if k != "name"}
    return ModelConfig(name=name, options=check_model_options(name, options, key="model"))


def parse_optimizers(raw: Any) -> tuple[OptimizerConfig, ...]:
    if raw is None:
        return (OptimizerConfig(),)
    if isinstance(raw, list):
        if not raw:
            raise ConfigError("the optimizer list is empty", key="optimizer")
        parsed = tuple(parse_optimizer(item, f"optimizer[{i}]") for i, item in enumerate(raw))
        if len(set(o.label for o in parsed)) != len(parsed):
            raise ConfigError("the optimizer list repeats an entry", key="optimizer")
        return parsed
    return (parse_optimizer(raw, "optimizer"),)


def parse_optimizer(raw: Any, key: str) -> OptimizerConfig:
    from lrsweep.optim import check_optimizer_options

    if isinstance(raw, str):
        raw = {"name": raw}
    expect(raw, dict, key)
    name = expect(raw.get("name", OptimizerConfig().name), str, f"{key}.name")
    options = {k: v for k, v in raw.items() if k != "name"}
    name, options = check_optimizer_options(name, options, key=key)
    for option, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"must be a finite number, got {option}={shown(value)}", key=f"{key}.{option}")
    return OptimizerConfig(name=name, options=options)


def parse_schedulers(raw: Any) -> tuple[Any, ...]:
    from lrsweep.optim.schedulers import parse_scheduler

    if isinstance(raw, list):
        if not raw:
            raise ConfigError("the scheduler list is empty", key="scheduler")
        parsed = tuple(parse_scheduler(item, key=f"scheduler[{i}]") for i, item in enumerate(raw))
        if len(set(s.label for s in parsed)) != len(parsed):
            raise ConfigError("the scheduler list repeats an entry", key="scheduler")
        return parsed
    return (parse_scheduler(raw, key="scheduler"),)


def parse_train(raw: Any) -> TrainConfig:
    check_keys(raw, [f.name for f in dataclasses.fields(TrainConfig)], "train")
    defaults = TrainConfig()
    epochs = expect(raw.get("epochs", defaults.epochs), int, "train.epochs")
    if epochs < 1:
        raise ConfigError(f"must be >= 1, got epochs={epochs}", key="train.epochs")
    loss = choice(raw.get("loss", defaults.loss), LOSSES, "train.loss")
    return TrainConfig(epochs=epochs, loss=loss, **parse_train_options(raw, defaults))


def parse_train_options(raw: dict, defaults: TrainConfig) -> dict:
    """train.precision, train.grad_clip and train.compile."""
    grad_clip = raw.get("grad_clip", defaults.grad_clip)
    if grad_clip is not None:
        grad_clip = expect(grad_clip, float, "train.grad_clip")
        if not math.isfinite(grad_clip) or grad_clip <= 0:
            raise ConfigError(f"must be finite and > 0 (or null), got grad_clip={grad_clip}", key="train.grad_clip")
    return {
        "precision": parse_precision(raw.get("precision", defaults.precision)),
        "grad_clip": grad_clip,
        "compile": expect(raw.get("compile", defaults.compile), bool, "train.compile"),
    }


def parse_precision(value: Any, key: str = "train.precision") -> str:
    """``32`` (a YAML number or string), ``bf16-mixed``, ``16-mixed`` or ``auto``."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text not in PRECISIONS:
        raise ConfigError(f"got {value!r} (valid: {', '.join(PRECISIONS)})", key=key)
    return text


def parse_select(raw: Any) -> SelectConfig:
    check_keys(raw, [f.name for f in dataclasses.fields(SelectConfig)], "select")
    metric = choice(raw.get("metric", SelectConfig().metric), tuple(SELECT_METRICS), "select.metric")
    return SelectConfig(metric=metric)


def parse_prune(raw: Any) -> PruneConfig:
    """``prune: asha`` or ``{type: asha, grace_epochs: 1, reduction: 3}``; absent or ``none``: no pruning."""
    if raw is None or isinstance(raw, str):
        raw = {"type": raw or PruneConfig().type}
    check_keys(raw, [f.name for f in dataclasses.fields(PruneConfig)], "prune")
    defaults = PruneConfig()
    kind = choice(raw.get("type", defaults.type), PRUNERS, "prune.type")
    grace = expect(raw.get("grace_epochs", defaults.grace_epochs), int, "prune.grace_epochs")
    if grace < 1:
        raise ConfigError(f"must be >= 1, got grace_epochs={grace}", key="prune.grace_epochs")
    reduction = expect(raw.get("reduction", defaults.reduction), int, "prune.reduction")
    if reduction < 2:
        raise ConfigError(f"must be >= 2, got reduction={reduction}", key="prune.reduction")
    return PruneConfig(type=kind, grace_epochs=grace, reduction=reduction)


def parse_limits(raw: Any) -> LimitsConfig:
    """``limits: {max_parameters: 1e9, ...}``: positive whole numbers (1e9 is accepted for 1000000000)."""
    check_keys(raw, [f.name for f in dataclasses.fields(LimitsConfig)], "limits")
    values = {}
    for name, value in raw.items():
        kind = type(getattr(LimitsConfig, name))
        if isinstance(value, str):  # YAML reads 1e9 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        if kind is int and isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        value = expect(value, kind, f"limits.{name}")
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"must be a finite number > 0, got {name}={value}", key=f"limits.{name}")
        values[name] = value
    return LimitsConfig(**values)


def check_limits(config: Config) -> None:
    """Sizes that would allocate far past a real sweep are refused, naming the limit that caught them."""
    from lrsweep import data as datasets

    limits = config.limits
    n = len(config.lrs) * len(config.optimizers) * max(1, len(config.schedulers)) * len(config.seeds)
    if n > limits.max_variants:
        raise ConfigError(
            f"the sweep has {n:,} variants, more than limits.max_variants={limits.max_variants:,} "
            "(raise it with --set limits.max_variants=N)",
            key="lr",
        )
    for i, opt in enumerate(config.optimizers):
        decay = opt.options.get("weight_decay")
        if isinstance(decay, (int, float)) and decay > limits.max_weight_decay:
            key = f"optimizer[{i}].weight_decay" if len(config.optimizers) > 1 else "optimizer.weight_decay"
            raise ConfigError(
                f"weight_decay={decay:g} is more than limits.max_weight_decay={limits.max_weight_decay:g} "
                "(raise it with --set limits.max_weight_decay=X)",
                key=key,
            )
    planned = datasets.planned_size(config.data.name, config.data.options)
    if planned is None:
        return
    rows, features, classes = planned
    if rows * features > limits.max_data_values:
        raise ConfigError(
            f"{rows:,} rows x {features:,} features is more than limits.max_data_values="
            f"{limits.max_data_values:,} (raise it with --set limits.max_data_values=N)",
            key="data",
        )
    if classes is not None and classes > limits.max_classes:
        raise ConfigError(
            f"n_classes={classes:,} is more than limits.max_classes={limits.max_classes:,} "
            "(raise it with --set limits.max_classes=N)",
            key="data.n_classes",
        )
