"""The validated sweep the rest of lrsweep reads (:class:`Config`), built from a :class:`ConfigFile`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from lrsweep.config.file import ConfigFile
from lrsweep.config.grid import expand_lrs
from lrsweep.config.sections import (
    DataConfig,
    LimitsConfig,
    LrScalingConfig,
    ModelConfig,
    OptimizerConfig,
    PruneConfig,
    SelectConfig,
    TrainConfig,
)
from lrsweep.config.trial import TrialConfig


def _file_default(key: str) -> Any:
    """The default of a top-level key, as ConfigFile declares it (the one place it is written)."""
    return ConfigFile.model_fields[key].get_default(call_default_factory=True)


@dataclass(frozen=True)
class Config:
    """A validated sweep: everything that ran is recoverable from :meth:`to_dict`.

    ``lrs``, ``seeds``, ``optimizers`` and ``schedulers`` are the file's ``lr``, ``seed``/``seeds``,
    ``optimizer`` and ``scheduler`` as sweep axes; the sections are the models of lrsweep.config.sections.
    """

    name: str = _file_default("name")
    seeds: tuple[int, ...] = (_file_default("seed"),)
    device: str = _file_default("device")
    engine: str = _file_default("engine")
    lrs: tuple[float, ...] = (_file_default("lr"),)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizers: tuple[OptimizerConfig, ...] = _file_default("optimizer")
    schedulers: tuple[Any, ...] = ()  # SchedulerSpecs
    train: TrainConfig = field(default_factory=TrainConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    lr_scaling: LrScalingConfig = field(default_factory=LrScalingConfig)
    retrain: bool = _file_default("retrain")
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    save: str = _file_default("save")
    command: str | tuple[str, ...] | None = None  # your own script (a shell line, or an argv)
    function: str | None = None  # your own function, package.module:function
    params: dict = field(default_factory=dict)  # fixed values for your command or function
    trials: TrialConfig = field(default_factory=TrialConfig)
    source: str | None = field(default=None, compare=False)  # the file it came from

    @property
    def kind(self) -> str:
        """How each variant trains: engine (lrsweep's own loop) | command | function (your own code)."""
        return "command" if self.command is not None else "function" if self.function is not None else "engine"

    @classmethod
    def from_file(cls, file: ConfigFile, source: str | None = None) -> Config:
        """The sweep a validated file describes (the lr grid is made here, bounded by limits.max_variants)."""
        seed = file.seed if file.seed is not None else _file_default("seed")
        return cls(
            name=file.name,
            seeds=tuple(file.seeds) if file.seeds is not None else (seed,),
            device=file.device,
            engine=file.engine,
            lrs=expand_lrs(file.lr, file.limits.max_variants),
            data=file.data,
            model=file.model,
            optimizers=file.optimizer,
            schedulers=file.scheduler,
            train=file.train,
            select=file.select,
            prune=file.prune,
            lr_scaling=file.lr_scaling,
            retrain=file.retrain and file.kind == "engine",  # your own code has no train+val step to call
            limits=file.limits,
            save=file.save,
            command=tuple(file.command) if isinstance(file.command, list) else file.command,
            function=file.function,
            params=dict(file.params),
            trials=file.trials,
            source=source,
        )

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """``data.batch_size`` as a sweep axis: every batch size, in the order given (one for an integer)."""
        size = self.data.batch_size
        return tuple(size) if isinstance(size, list) else (size,)

    @property
    def batch_axis(self) -> bool:
        """Whether the file gave ``data.batch_size`` as a list: each variant then names its batch size (id too)."""
        return isinstance(self.data.batch_size, list)

    @property
    def base_batch_size(self) -> int:
        """The batch size ``lr`` is given for (lr_scaling.base_batch_size, else the first batch size)."""
        return self.lr_scaling.base_batch_size or self.batch_sizes[0]

    def lrs_for(self, batch_size: int) -> tuple[float, ...]:
        """The learning rates of one batch size: ``lrs`` scaled by lr_scaling's rule (6 significant digits)."""
        if not self.lr_scaling.active:
            return self.lrs
        factor = (batch_size / self.base_batch_size) ** self.lr_scaling.exponent
        return tuple(float(f"{lr * factor:.6g}") for lr in self.lrs)

    def to_dict(self) -> dict:
        """The resolved config as plain YAML-able data (it loads back to an equal Config)."""
        out = {
            "name": self.name,
            "seeds": list(self.seeds),
            "device": self.device,
            "engine": self.engine,
            "lr": list(self.lrs),
            "data": _data_dict(self.data),
            "model": {"name": self.model.name, **self.model.options},
            "optimizer": [o.to_dict() for o in self.optimizers],
            "scheduler": [s.to_dict() for s in self.schedulers],
            "train": {**dataclasses.asdict(self.train), "loss": self.train.loss.short},
            "select": dataclasses.asdict(self.select),
            "prune": dataclasses.asdict(self.prune),
            "lr_scaling": dataclasses.asdict(self.lr_scaling),
            "retrain": self.retrain,
            "save": self.save,
        }
        if self.limits != LimitsConfig():
            out["limits"] = dataclasses.asdict(self.limits)
        if self.kind != "engine":  # what ran: your own code, with none of the engine's keys
            for key in ("data", "model", "optimizer", "scheduler", "engine", "lr_scaling"):
                out.pop(key)
            out["train"] = {"epochs": self.train.epochs}
            out[self.kind] = list(self.command) if isinstance(self.command, tuple) else getattr(self, self.kind)
            out["params"] = dict(self.params)
            out["trials"] = dataclasses.asdict(self.trials)
        return out

    def fingerprint(self) -> str:
        """A short hash of what determines the results (not the device or the engine)."""
        data = self.to_dict()
        for volatile in ("device", "engine", "name", "save"):
            data.pop(volatile, None)
        data.pop("limits", None)  # guards, not results
        data.pop("trials", None)  # how a trial of your own code is run and stopped (a timeout is a guard)
        if "data" in data:
            data["data"].pop("root", None)
            data["data"].pop("num_workers", None)  # how samples are loaded, not which
            if not self.data.augment.active:
                data["data"].pop("augment", None)  # runs made before augmentation existed keep their fingerprint
        if not self.prune.active:
            data.pop("prune")  # runs made before pruning existed keep their fingerprint
        if not self.lr_scaling.active:
            data.pop("lr_scaling", None)  # likewise runs made before batch sizes were an axis
        for section, keys in LATER_KEYS.items():  # likewise runs made before these keys existed
            defaults = dataclasses.asdict(type(getattr(self, section))())
            for key in keys:
                if key in data[section] and data[section][key] == defaults[key]:
                    data[section].pop(key)
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


# Keys added to a section after runs were made: left out of the fingerprint while at their default, so
# those runs keep the fingerprint they were made with (and stay resumable).
LATER_KEYS = {
    "train": ("precision", "grad_clip", "compile", "metrics", "early_stopping"),
    "select": ("mode", "at"),
}


def _data_dict(section: DataConfig) -> dict:
    out = {f.name: getattr(section, f.name) for f in dataclasses.fields(section) if f.name != "options"}
    out["augment"] = dataclasses.asdict(section.augment)
    out.update(section.options)
    return out
