"""The learning-rate range test's settings and result (Leslie Smith; fastai's ``lr_find``), and the grid
written around its suggestion.

The test itself is :func:`lrsweep.select.range_test.range_test`; the suggestions read off its curve are
in :mod:`lrsweep.select.suggest`. Pure: nothing here touches torch, prints, or writes files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from lrsweep.errors import UsageError

SUGGESTERS = ("steep", "valley", "min10")  # every suggestion a result carries, in display order
DEFAULT_SUGGESTER = "valley"  # fastai's default too; within 1-4x of the best grid LR on the bundled configs
MODES = ("exp", "linear")


@dataclass(frozen=True)
class FinderSettings:
    """How the range test runs; every default of ``lrsweep find`` lives here."""

    start_lr: float = 1e-7  # LR of the first optimizer step
    end_lr: float = 10.0  # LR of the last step (if the loss has not blown up before)
    steps: int = 100  # optimizer steps from start_lr to end_lr (epochs repeat as needed)
    mode: str = "exp"  # "exp": geometric rise; "linear": arithmetic rise
    smooth_beta: float = 0.98  # EMA factor of the smoothed loss (bias-corrected)
    diverge_factor: float = 4.0  # stop once smoothed loss > this x its best so far
    accumulate: int = 1  # micro-batches per optimizer step (gradient accumulation)
    use_val: bool = False  # record the validation loss after each step instead of the batch loss
    skip_start: int = 10  # points dropped at the start before suggesting (at most 1/5 of them)
    skip_end: int = 5  # points dropped at the end before suggesting (at most 1/10 of them)
    edge: bool = True  # also bound the divergence LR by the stability edge at the start (SGD; see lrsweep.select.edge)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise UsageError for settings that cannot describe a range test."""
        rules = (
            (
                math.isfinite(self.start_lr) and self.start_lr > 0,
                f"start_lr must be finite and > 0, got start_lr={self.start_lr}",
            ),
            (
                math.isfinite(self.end_lr) and self.end_lr > self.start_lr,
                f"end_lr must be finite and > start_lr={self.start_lr}, got end_lr={self.end_lr}",
            ),
            (self.steps >= 2, f"steps must be >= 2, got steps={self.steps}"),
            (self.mode in MODES, f"mode must be one of {', '.join(MODES)}, got mode={self.mode!r}"),
            (0 <= self.smooth_beta < 1, f"smooth_beta must be in [0, 1), got smooth_beta={self.smooth_beta}"),
            (self.diverge_factor > 1, f"diverge_factor must be > 1, got diverge_factor={self.diverge_factor}"),
            (self.accumulate >= 1, f"accumulate must be >= 1, got accumulate={self.accumulate}"),
            (
                min(self.skip_start, self.skip_end) >= 0,
                f"skip_start and skip_end must be >= 0, got {self.skip_start}, {self.skip_end}",
            ),
        )
        for ok, message in rules:
            _require(ok, message)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


@dataclass
class FinderResult:
    """One range test: the curve, why it stopped, and the LRs read off it."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float]
    default: str
    divergence_lr: float | None  # the lower of the curve's divergence onset and the stability edge; None if neither
    stopped: str  # "completed" | "diverged" | "nonfinite"
    stop_lr: float  # LR of the last step run
    steps_run: int
    seconds: float = 0.0
    settings: FinderSettings = field(default_factory=FinderSettings)
    edge_lr: float | None = (
        None  # the stability edge from the sharpness at the start (lrsweep.select.edge); None if none
    )
    sharpness: float | None = None  # λ_max of the loss's Hessian at the start, when measured
    onset_lr: float | None = None  # the curve's own divergence onset (divergence_onset); None if it completed
    stopped_falling_lr: float | None = None  # LR of the lowest smoothed loss: where the loss stopped falling
    falling_lr: float | None = None  # where the descent starts (the smoothed loss has done 10% of its fall)
    edge_steps: int = 0  # the sharpness measurement's cost, in training batches (backward passes)

    @property
    def ceiling(self) -> float:
        """The highest LR worth training: the divergence LR, else (no blow-up) where the loss stopped falling."""
        if self.divergence_lr is not None:
            return self.divergence_lr
        return self.stopped_falling_lr if self.stopped_falling_lr is not None else self.stop_lr

    def suggestion(self, name: str | None = None) -> float:
        """The LR suggested by ``name`` (the default suggester when None)."""
        name = name or self.default
        if name not in self.suggestions:
            raise UsageError(f"unknown suggestion '{name}' (valid: {', '.join(SUGGESTERS)})")
        return self.suggestions[name]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinderResult:
        """The result back from :meth:`to_dict` (as ``lrsweep show`` reads find.json)."""
        points = data["points"]
        nan = float("nan")
        return cls(
            lrs=[p["lr"] for p in points],
            losses=[nan if p["loss"] is None else p["loss"] for p in points],
            smoothed=[nan if p["smoothed"] is None else p["smoothed"] for p in points],
            suggestions=dict(data["suggestions"]),
            default=data["default"],
            divergence_lr=data["divergence_lr"],
            stopped=data["stopped"],
            stop_lr=data["stop_lr"],
            steps_run=data["steps_run"],
            seconds=data.get("seconds", 0.0),
            settings=FinderSettings(**data["settings"]),
            edge_lr=data.get("edge_lr"),
            sharpness=data.get("sharpness"),
            onset_lr=data.get("onset_lr"),
            stopped_falling_lr=data.get("stopped_falling_lr"),
            falling_lr=data.get("falling_lr"),
            edge_steps=data.get("edge_steps", 0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers become None."""
        return {
            "suggestions": dict(self.suggestions),
            "default": self.default,
            "suggested_lr": self.suggestion(),
            "divergence_lr": self.divergence_lr,
            "edge_lr": self.edge_lr,
            "sharpness": self.sharpness,
            "onset_lr": self.onset_lr,
            "stopped_falling_lr": self.stopped_falling_lr,
            "falling_lr": self.falling_lr,
            "edge_steps": self.edge_steps,
            "stopped": self.stopped,
            "stop_lr": self.stop_lr,
            "steps_run": self.steps_run,
            "seconds": round(self.seconds, 3),
            "settings": asdict(self.settings),
            "points": [
                {"step": i, "lr": lr, "loss": _finite_or_none(loss), "smoothed": _finite_or_none(sm)}
                for i, (lr, loss, sm) in enumerate(zip(self.lrs, self.losses, self.smoothed))
            ],
        }


def completion_note(result: FinderResult) -> str | None:
    """Say so when the test reached --end without blowing up, and what bounds a grid then."""
    if result.divergence_lr is not None:
        return None
    return (
        f"the loss never blew up up to {result.stop_lr:.3g}: a grid is bounded by where it stopped falling "
        f"({result.ceiling:.3g})"
    )


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


GRID_MARGIN = 0.95  # a written grid's top stays this far inside its ceiling: the edge estimate may err a little high


def grid_around(
    suggestion: float,
    divergence_lr: float | None,
    num: int = 7,
    span: float = 10.0,
    digits: int = 3,
) -> list[float]:
    """A log-spaced LR grid centred on ``suggestion``, its top GRID_MARGIN inside the divergence LR.

    The grid runs ``span`` either side of its centre, narrowed (to no less than sqrt(span) either side) where
    the ceiling is nearer; where even that does not fit, as when the suggestion and the divergence LR
    coincide, the centre moves below the suggestion. So the suggestion is never the grid's top, and the
    best of the grid has room on both sides.

    Args:
        suggestion: the LR the range test suggested (the grid's centre whenever it fits).
        divergence_lr: the ceiling (``FinderResult.ceiling``); the grid's top stays GRID_MARGIN inside it.
        num: grid points.
        span: the grid runs from centre / span to centre * span when nothing bounds it.
        digits: significant digits of each LR (a readable YAML).
    """
    _require(math.isfinite(suggestion) and suggestion > 0, f"the suggested LR must be finite and > 0, got {suggestion}")
    _require(num >= 1 and span > 1, f"grid_around needs num >= 1 and span > 1, got num={num}, span={span}")
    top = divergence_lr * GRID_MARGIN if divergence_lr is not None else math.inf
    if min(suggestion * span, top) <= suggestion / span:
        raise UsageError(
            f"the divergence LR {divergence_lr:g} leaves no room for a grid above {suggestion / span:g}; lower --start"
        )
    centre, half = suggestion, span
    if centre * half > top:
        half = max(top / centre, math.sqrt(span))
        centre = min(centre, top / half)
    hi = centre * half
    if num == 1:
        return [_round_sig(centre, digits, hi)]
    a, b = math.log10(centre / half), math.log10(hi)
    return [_round_sig(10 ** (a + (b - a) * i / (num - 1)), digits, hi) for i in range(num)]


def _round_sig(x: float, digits: int, ceiling: float = math.inf) -> float:
    """``x`` to ``digits`` significant digits, rounded down where rounding would cross ``ceiling``."""
    rounded = float(f"{x:.{digits}g}")
    if rounded > ceiling:
        exponent = math.floor(math.log10(abs(x))) - digits + 1
        rounded = math.floor(x / 10**exponent) * 10**exponent
        rounded = float(f"{rounded:.{digits}g}")
    return rounded
