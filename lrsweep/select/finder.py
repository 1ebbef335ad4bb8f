"""The learning-rate range test (Leslie Smith; fastai's ``lr_find``) and the suggestions read off its curve.

Pure core: never prints, never touches files. ``range_test`` trains while the LR rises, records one
point per optimizer step, and leaves the model, optimizer and RNG exactly as it found them.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lrsweep.errors import UsageError
from lrsweep.select.edge import stability_edge

if TYPE_CHECKING:  # torch is imported where it is used: the CLI loads this module for its defaults
    import torch

SUGGESTERS = ("steep", "valley", "min10")  # every suggestion a result carries, in display order
DEFAULT_SUGGESTER = "valley"  # fastai's default too; within 1-4x of the best grid LR on the bundled configs
MODES = ("exp", "linear")
MIN_POINTS = 5  # usable points (after dropping) needed to suggest anything
FALL_BAND = (0.1, 0.9)  # the valley's descent: from where the loss has done 10% of its fall to 90%
VALLEY_FRACTION = 1 / 2  # where in that descent (in log LR) the valley suggestion sits
VAL_CHUNK = 4096  # rows per forward pass when scoring the validation split

OnStep = Callable[[int, float, float, float], None]  # (step, lr, loss, smoothed)


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


def lr_schedule(settings: FinderSettings) -> list[float]:
    """The LR of each optimizer step: geometric (exp) or arithmetic (linear) from start_lr to end_lr."""
    n, lo, hi = settings.steps, settings.start_lr, settings.end_lr
    if settings.mode == "exp":
        return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


# --- state snapshot -------------------------------------------------------------------------------


def _capture(model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator, device: torch.device) -> dict:
    """Everything the test may change, deep-copied."""
    import torch

    snap = {
        "model": copy.deepcopy(model.state_dict()),
        "modes": [m.training for m in model.modules()],
        "grads": [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "generator": None if generator is None else generator.get_state(),
    }
    if "numpy" in sys.modules:  # only if something loaded it; the test itself never needs numpy
        snap["numpy_rng"] = sys.modules["numpy"].random.get_state()
    if device.type == "cuda" or torch.cuda.is_initialized():
        snap["cuda_rng"] = torch.cuda.get_rng_state_all()
    if device.type == "mps":
        snap["mps_rng"] = torch.mps.get_rng_state()
    return snap


def _restore(snap: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator) -> None:
    import torch

    model.load_state_dict(snap["model"])
    for module, training in zip(model.modules(), snap["modes"]):
        module.training = training
    for param, grad in zip(model.parameters(), snap["grads"]):
        param.grad = grad
    optimizer.load_state_dict(snap["optimizer"])
    torch.set_rng_state(snap["torch_rng"])
    random.setstate(snap["python_rng"])
    if generator is not None:
        generator.set_state(snap["generator"])
    if "numpy_rng" in snap:
        sys.modules["numpy"].random.set_state(snap["numpy_rng"])
    if "cuda_rng" in snap:
        torch.cuda.set_rng_state_all(snap["cuda_rng"])
    if "mps_rng" in snap:
        torch.mps.set_rng_state(snap["mps_rng"])


# --- the test -------------------------------------------------------------------------------------


def _batches(n: int, batch_size: int, generator, device: torch.device) -> Iterator[torch.Tensor]:
    """Index tensors of shuffled batches, reshuffling at each epoch, forever."""
    import torch

    gen_device = generator.device if generator is not None else torch.device("cpu")
    while True:
        order = torch.randperm(n, generator=generator, device=gen_device).to(device)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]


def _evaluate(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean loss over (x, y) in eval mode, in chunks (assumes loss_fn averages over rows)."""
    import torch

    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), VAL_CHUNK):
            xb, yb = x[start : start + VAL_CHUNK], y[start : start + VAL_CHUNK]
            total += float(loss_fn(model(xb), yb)) * len(xb)
    model.train(was_training)
    return total / len(x)


def _train_step(model, optimizer, loss_fn, x, y, batches: Iterator[torch.Tensor], accumulate: int) -> float:
    """One optimizer step over ``accumulate`` micro-batches; returns their mean loss (not stepping on non-finite)."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for _ in range(accumulate):
        idx = next(batches)
        loss = loss_fn(model(x[idx]), y[idx])
        (loss / accumulate).backward()
        total += float(loss.detach())
    mean = total / accumulate
    if math.isfinite(mean):
        optimizer.step()
    return mean


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    batch_size: int,
    settings: FinderSettings = FinderSettings(),
    *,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    on_step: OnStep | None = None,
) -> FinderResult:
    """Run the LR range test and read suggestions off its curve; all state is restored afterwards.

    Args:
        model, optimizer: trained in place during the test, then restored bit for bit (also on error).
        loss_fn: ``loss_fn(outputs, targets)`` -> mean loss over the batch.
        train_x, train_y: resident tensors on the model's device; batches are index slices.
        batch_size: rows per micro-batch.
        settings: the LR range and stopping rules.
        val: (x, y) of the validation split; required when ``settings.use_val``.
        generator: drives the batch order (its state is restored too); the global RNG when None.
        on_step: called after each optimizer step with (step, lr, loss, smoothed).
    Raises:
        UsageError: bad arguments, or too few usable points to suggest an LR.
    """
    import torch

    if settings.use_val and (val is None or len(val[0]) == 0):
        raise UsageError("use_val needs a validation split, but none was given")
    if batch_size < 1 or len(train_x) == 0:
        raise UsageError(f"the range test needs batch_size >= 1 and training rows, got {batch_size} and {len(train_x)}")
    snap = _capture(model, optimizer, generator, train_x.device)
    began = time.perf_counter()
    edge_lr = lam = None
    passes = 0
    try:
        if settings.edge:
            first = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:batch_size]
            first = first.to(train_x.device)
            edge_lr, lam, passes = stability_edge(model, optimizer, loss_fn, train_x[first], train_y[first])
        model.train()
        curve = _run(model, optimizer, loss_fn, train_x, train_y, batch_size, settings, val, generator, on_step)
    finally:
        _restore(snap, model, optimizer, generator)
    lrs, losses, smoothed, stopped = curve
    onset = lrs[divergence_onset(losses)] if stopped != "completed" else None
    bounds = [b for b in (onset, edge_lr) if b is not None]
    return FinderResult(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        suggestions=_suggest_checked(lrs, smoothed, stopped, settings),
        default=DEFAULT_SUGGESTER,
        divergence_lr=min(bounds) if bounds else None,
        stopped=stopped,
        stop_lr=lrs[-1],
        steps_run=len(lrs),
        seconds=time.perf_counter() - began,
        settings=settings,
        edge_lr=edge_lr,
        sharpness=lam,
        onset_lr=onset,
        stopped_falling_lr=stopped_falling(lrs, smoothed),
        falling_lr=descent_start(lrs, smoothed, settings),
        edge_steps=passes,
    )


def _run(model, optimizer, loss_fn, x, y, batch_size, settings, val, generator, on_step):
    """The loop itself: returns (lrs, losses, smoothed, stopped)."""
    batches = _batches(len(x), batch_size, generator, x.device)
    lrs, losses, smoothed = [], [], []
    avg, best, beta = 0.0, math.inf, settings.smooth_beta
    for step, lr in enumerate(lr_schedule(settings)):
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _train_step(model, optimizer, loss_fn, x, y, batches, settings.accumulate)
        if settings.use_val and math.isfinite(loss):
            loss = _evaluate(model, loss_fn, *val)
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (step + 1))  # bias correction counts this test's steps only
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(smooth)
        if on_step is not None:
            on_step(step, lr, loss, smooth)
        if not math.isfinite(smooth):
            return lrs, losses, smoothed, "nonfinite"
        best = min(best, smooth)
        if best > 0 and smooth > settings.diverge_factor * best:  # a ratio test means nothing for losses <= 0
            return lrs, losses, smoothed, "diverged"
    return lrs, losses, smoothed, "completed"


def divergence_onset(losses: list[float]) -> int:
    """Index of the lowest finite raw loss: from its LR on, the loss never got lower again.

    The stop fires later, when the lagging smoothed loss crosses its threshold (a factor of 2-10
    in LR after the turn on the bundled configs); the raw minimum dates the turn itself, and
    stays put where a noisy blow-up rises, dips and rises again.
    """
    finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
    return min(finite, key=losses.__getitem__) if finite else 0


def stopped_falling(lrs: list[float], smoothed: list[float]) -> float | None:
    """The LR of the lowest finite smoothed loss: past it the loss stopped falling."""
    finite = [i for i, v in enumerate(smoothed) if math.isfinite(v)]
    return lrs[min(finite, key=smoothed.__getitem__)] if finite else None


def descent_start(lrs: list[float], smoothed: list[float], settings: FinderSettings) -> float | None:
    """The LR where the smoothed loss's descent starts: the valley's level crossing at FALL_BAND[0]."""
    idx = _kept(lrs, smoothed, settings.skip_start, settings.skip_end)
    if len(idx) < MIN_POINTS:
        return None
    y = [smoothed[i] for i in idx]
    low = min(range(len(y)), key=y.__getitem__)
    top = max(y[: low + 1])
    start = max((i for i in range(low + 1) if y[i] > top - FALL_BAND[0] * (top - y[low])), default=low)
    return lrs[idx[start]]


def _suggest_checked(lrs, smoothed, stopped: str, settings: FinderSettings) -> dict[str, float]:
    """``suggest``, with an error message that says what to change when the curve is too short."""
    usable = len(_kept(lrs, smoothed, settings.skip_start, settings.skip_end))
    if usable < MIN_POINTS:
        hint = "lower the start LR (--start)" if stopped != "completed" else "raise the number of steps (--steps)"
        raise UsageError(
            f"range test stopped after {len(lrs)} steps ({stopped}), leaving {usable} usable points "
            f"(need {MIN_POINTS}) to suggest a learning rate; {hint}"
        )
    return suggest(lrs, smoothed, skip_start=settings.skip_start, skip_end=settings.skip_end)


# --- suggestions ----------------------------------------------------------------------------------


def _kept(lrs, smoothed, skip_start: int, skip_end: int) -> list[int]:
    """Indices used for suggestions: finite points, less the first and last few (capped at 1/5 and 1/10)."""
    finite = [i for i, (lr, s) in enumerate(zip(lrs, smoothed)) if math.isfinite(s) and lr > 0]
    head, tail = min(skip_start, len(finite) // 5), min(skip_end, len(finite) // 10)
    return finite[head : len(finite) - tail]


def suggest(lrs: list[float], smoothed: list[float], *, skip_start: int = 10, skip_end: int = 5) -> dict[str, float]:
    """The three suggested LRs of a range-test curve.

    ``steep``: most negative slope of smoothed loss against log10 LR. ``valley``: the point
    VALLEY_FRACTION of the way down the descent into the minimum (see ``valley_index``).
    ``min10``: the LR of the lowest smoothed loss, divided by 10.
    """
    idx = _kept(lrs, smoothed, skip_start, skip_end)
    if len(idx) < MIN_POINTS:
        raise UsageError(f"{len(idx)} usable points on the range-test curve; {MIN_POINTS} needed to suggest an LR")
    x = [math.log10(lrs[i]) for i in idx]
    y = [smoothed[i] for i in idx]
    slopes = gradient(y, x)
    return {
        "steep": lrs[idx[min(range(len(idx)), key=slopes.__getitem__)]],
        "valley": lrs[idx[valley_index(y)]],
        "min10": lrs[idx[min(range(len(idx)), key=y.__getitem__)]] / 10,
    }


def gradient(y: list[float], x: list[float]) -> list[float]:
    """dy/dx on a non-uniform grid: second-order central differences inside, one-sided at the ends (as np.gradient)."""
    n = len(y)
    out = [(y[1] - y[0]) / (x[1] - x[0])]
    for i in range(1, n - 1):
        hl, hr = x[i] - x[i - 1], x[i + 1] - x[i]
        out.append((hl**2 * y[i + 1] - hr**2 * y[i - 1] + (hr**2 - hl**2) * y[i]) / (hl * hr * (hl + hr)))
    out.append((y[-1] - y[-2]) / (x[-1] - x[-2]))
    return out


def valley_index(y: list[float]) -> int:
    """Index of the middle (in steps, i.e. log LR in exp mode) of the descent into the minimum of ``y``.

    The descent runs from the last point still above ``top - 0.1 * fall`` to the first point at or
    below ``top - 0.9 * fall`` (FALL_BAND), where ``top`` is the highest point before the minimum
    and ``fall`` the drop from it to the minimum. Level crossings ignore the noisy plateau before
    the descent and the flat, lag-shifted bottom after it. fastai's longest decreasing subsequence
    starts inside that plateau and lands 4-25x below the best grid LR on the bundled configs.
    """
    low = min(range(len(y)), key=y.__getitem__)
    top = max(y[: low + 1])
    fall = top - y[low]
    start = max((i for i in range(low + 1) if y[i] > top - FALL_BAND[0] * fall), default=low)
    end = min((i for i in range(start, low + 1) if y[i] <= top - FALL_BAND[1] * fall), default=low)
    return start + round(VALLEY_FRACTION * (end - start))


# --- to the grid ----------------------------------------------------------------------------------


GRID_MARGIN = 0.95  # a written grid's top stays this far inside its ceiling: the edge estimate may err a little high


def grid_around(
    suggestion: float,
    divergence_lr: float | None,
    num: int = 7,
    span: float = 10.0,
    digits: int = 3,
) -> list[float]:
    """A log-spaced LR grid around ``suggestion``, bounded above by the divergence LR.

    Args:
        suggestion: the LR the range test suggested (the grid's centre when nothing bounds it).
        divergence_lr: the ceiling (``FinderResult.ceiling``); the grid's top stays GRID_MARGIN inside it.
        num: grid points.
        span: the grid runs from suggestion / span to suggestion * span.
        digits: significant digits of each LR (a readable YAML).
    """
    _require(math.isfinite(suggestion) and suggestion > 0, f"the suggested LR must be finite and > 0, got {suggestion}")
    _require(num >= 1 and span > 1, f"grid_around needs num >= 1 and span > 1, got num={num}, span={span}")
    lo, hi = suggestion / span, suggestion * span
    if divergence_lr is not None:
        hi = min(hi, divergence_lr * GRID_MARGIN)
    if hi <= lo:
        raise UsageError(f"the divergence LR {divergence_lr:g} leaves no room for a grid above {lo:g}; lower --start")
    if num == 1:
        return [_round_sig(min(suggestion, hi), digits, hi)]
    a, b = math.log10(lo), math.log10(hi)
    return [_round_sig(10 ** (a + (b - a) * i / (num - 1)), digits, hi) for i in range(num)]


def _round_sig(x: float, digits: int, ceiling: float = math.inf) -> float:
    """``x`` to ``digits`` significant digits, rounded down where rounding would cross ``ceiling``."""
    rounded = float(f"{x:.{digits}g}")
    if rounded > ceiling:
        exponent = math.floor(math.log10(abs(x))) - digits + 1
        rounded = math.floor(x / 10**exponent) * 10**exponent
        rounded = float(f"{rounded:.{digits}g}")
    return rounded
