"""The learning-rate grid (``lr:``): a number, a list, or ``{logspace: {start, stop, num}}`` / ``{linspace: ...}``."""

import math
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, model_validator
from pydantic.dataclasses import dataclass as section

from lrsweep.config.sections import SECTION
from lrsweep.errors import ConfigError


@section(frozen=True, config=SECTION)
class Spacing:
    """``num`` learning rates from ``start`` to ``stop``, both included."""

    start: StrictFloat = Field(description="the first learning rate")
    stop: StrictFloat = Field(description="the last learning rate")
    num: StrictInt = Field(ge=1, description="how many (at most limits.max_variants)")


@section(frozen=True, config=ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1, "maxProperties": 1}))
class SpacedGrid:
    """``{logspace: {start, stop, num}}`` or ``{linspace: {...}}``: one of the two."""

    logspace: Spacing | None = Field(default=None, description="evenly spaced in log10(lr); start and stop > 0")
    linspace: Spacing | None = Field(default=None, description="evenly spaced in lr")

    @model_validator(mode="after")
    def _one_kind(self) -> "SpacedGrid":
        if (self.logspace is None) == (self.linspace is None):
            raise ValueError("give one of logspace or linspace")
        return self

    def values(self, max_num: int) -> list[float]:
        """The grid, refused before it is made when it has more than ``max_num`` points."""
        kind, spacing = ("logspace", self.logspace) if self.logspace is not None else ("linspace", self.linspace)
        assert spacing is not None  # _one_kind
        start, stop, num = spacing.start, spacing.stop, spacing.num
        key = f"lr.{kind}"
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


# What `lr:` may hold, as the file gives it (ConfigFile.lr; the schema shows it).
LrGrid = StrictFloat | Annotated[list[StrictFloat], Field(min_length=1)] | SpacedGrid


def expand_lrs(lr: Any, max_num: int) -> tuple[float, ...]:
    """A validated ``lr:`` (see :data:`LrGrid`) -> the learning rates, each finite and > 0, none repeated."""
    if isinstance(lr, SpacedGrid):
        lrs = lr.values(max_num)
    elif isinstance(lr, list):
        lrs = list(lr)
    else:
        lrs = [lr]
    for i, value in enumerate(lrs):
        key = f"lr[{i}]" if len(lrs) > 1 or isinstance(lr, (list, SpacedGrid)) else "lr"
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"learning rates must be finite and > 0, got lr={value}", key=key)
    if len(set(lrs)) != len(lrs):
        raise ConfigError(f"the grid repeats a learning rate: {lrs}", key="lr")
    return tuple(float(v) for v in lrs)
