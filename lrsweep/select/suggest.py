"""The LRs read off a range-test curve: the three suggestions (steep, valley, min10), where the descent
starts, where the loss stopped falling, and where it turned for good. Pure functions of lists of floats.
"""

from __future__ import annotations

import math

from lrsweep.errors import UsageError
from lrsweep.select.finder import FinderSettings

MIN_POINTS = 5  # usable points (after dropping) needed to suggest anything
FALL_BAND = (0.1, 0.9)  # the valley's descent: from where the loss has done 10% of its fall to 90%
VALLEY_FRACTION = 1 / 2  # where in that descent (in log LR) the valley suggestion sits


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


def suggest_checked(lrs, smoothed, stopped: str, settings: FinderSettings) -> dict[str, float]:
    """``suggest``, with an error message that says what to change when the curve is too short."""
    usable = len(_kept(lrs, smoothed, settings.skip_start, settings.skip_end))
    if usable < MIN_POINTS:
        hint = "lower the start LR (--start)" if stopped != "completed" else "raise the number of steps (--steps)"
        raise UsageError(
            f"range test stopped after {len(lrs)} steps ({stopped}), leaving {usable} usable points "
            f"(need {MIN_POINTS}) to suggest a learning rate; {hint}"
        )
    return suggest(lrs, smoothed, skip_start=settings.skip_start, skip_end=settings.skip_end)


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
