"""The pure decisions of ``lrsweep tune``: budget arithmetic, the scouting grid, refinement points, the band.

No torch, no files: numbers in, numbers out, so each rule is tested on its own and a resumed tune
replays every decision from the metrics on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrsweep.select.halving import rung_epochs

LR_DIGITS = 4  # significant digits of the LRs tune tries (readable ids and tables)


def round_lr(lr: float) -> float:
    return float(f"{lr:.{LR_DIGITS}g}")


def log_space(low: float, high: float, num: int) -> list[float]:
    """``num`` LRs from ``low`` to ``high`` inclusive, evenly spaced on log-LR."""
    if num == 1:
        return [round_lr(math.sqrt(low * high))]
    a, b = math.log(low), math.log(high)
    return [round_lr(math.exp(a + (b - a) * i / (num - 1))) for i in range(num)]


ABOVE_MIN_SCOUTS = 5  # fewer scouts keep every one below the ceiling (one above would leave too coarse a grid)


def scout_grid(low: float, high: float, scouts: int, above: bool) -> list[float]:
    """The scouts' LRs: ``scouts`` log-spaced from ``low`` to ``high`` or, with ``above``, ``scouts - 1`` of them
    and one more a spacing above ``high``.

    ``high`` is the range test's ceiling: where a few dozen steps of rising LR blew up. That is an estimate,
    and a low one where a steady training tolerates more than the first steps (an adaptive optimizer on a
    small, noisy batch: on the benchmark's RMSprop at batch 8 the good band starts 1.6x above it). One scout
    above it checks, at the cost of a slightly coarser grid below; one that blows up is cut at the first rung.
    """
    if not above or scouts < ABOVE_MIN_SCOUTS or high <= low:
        return log_space(low, high, scouts)
    spacing = (high / low) ** (1 / (scouts - 2))
    return [*log_space(low, high, scouts - 1), round_lr(high * spacing)]


def ceiling_is_a_blow_up(range_test: dict | None) -> bool:
    """Whether the range test's ceiling is where its curve blew up (over a few rising steps, the most fragile of
    a training): then a scout goes above it (:func:`scout_grid`). Not where the stability edge set it (gradient
    descent's own bound, exact on a quadratic), nor where nothing blew up (the ceiling is then where the loss
    stopped falling, and the scouts already reach far: on the benchmark's Adam regression, 9.5), nor without a
    range test (your own code: the config's span of lr bounds the search)."""
    if range_test is None or range_test.get("divergence_lr") is None or range_test.get("onset_lr") is None:
        return False
    edge = range_test.get("edge_lr")
    return edge is None or edge > range_test["onset_lr"]


@dataclass(frozen=True)
class Costs:
    """What a training costs here: epochs per training and optimizer steps per epoch."""

    epochs: int
    steps_per_epoch: int

    def trainings(self, variant_epochs: float = 0.0, steps: float = 0.0) -> float:
        """Full-training equivalents of ``variant_epochs`` (every seed counted) and optimizer ``steps``."""
        return variant_epochs / self.epochs + steps / (self.epochs * self.steps_per_epoch)


def grace_epochs(epochs: int, fraction: float) -> int:
    """Epochs every scout trains before the first cut: ``fraction`` of the training, at least 1."""
    return max(1, min(epochs, round(fraction * epochs)))


def halving_epochs(scouts: int, epochs: int, grace: int, reduction: int) -> int:
    """Variant-epochs of successive halving over ``scouts`` LRs, at most (a diverged one stops sooner)."""
    total, alive, reached = 0, scouts, 0
    for rung in rung_epochs(grace, reduction, epochs):
        total += alive * (rung - reached)
        alive, reached = max(1, alive // reduction), rung
    return total + alive * (epochs - reached)


def survivors(scouts: int, epochs: int, grace: int, reduction: int) -> int:
    """How many scouts train every epoch under successive halving."""
    alive = scouts
    for _ in rung_epochs(grace, reduction, epochs):
        alive = max(1, alive // reduction)
    return alive


def refine_points(tried: list[float], incumbent: float, ceiling: float, resolution: float) -> tuple[list[float], str]:
    """The next LRs to try around ``incumbent`` (geometric midpoints to its neighbours), or [] and why not.

    ``tried`` are every LR tried so far (any fidelity). A side whose bracket is already narrower than
    ``resolution`` (a ratio of LRs) is done. Below the lowest LR tried, the next point extends the grid
    downwards by the last spacing; above the highest, likewise, but only once the best is above the
    ``ceiling`` (a scout above the range test's ceiling won, so the ceiling was too low). Between the
    ceiling and a higher LR tried, no midpoint: that LR lost, and the ceiling marks where training breaks.
    """
    lrs = sorted(set(tried))
    i = lrs.index(incumbent)
    points = []
    if i > 0 and incumbent / lrs[i - 1] > resolution:
        points.append(round_lr(math.sqrt(lrs[i - 1] * incumbent)))
    elif i == 0 and len(lrs) > 1:
        points.append(round_lr(incumbent * incumbent / lrs[1]))  # the best is the lowest: look below it
    if i < len(lrs) - 1 and lrs[i + 1] / incumbent > resolution and lrs[i + 1] <= ceiling:
        points.append(round_lr(math.sqrt(lrs[i + 1] * incumbent)))
    elif i == len(lrs) - 1 and len(lrs) > 1 and incumbent > ceiling:
        points.append(round_lr(incumbent * incumbent / lrs[i - 1]))  # the best is above the ceiling: look higher
    points = [p for p in points if p not in lrs]
    if points:
        return points, ""
    return [], f"the bracket around {incumbent:.4g} is narrower than the resolution ({resolution:g}x)"


ROUND_POINTS = 2  # a refinement round trains the midpoints on both sides of the incumbent


def refine_rounds(spacing: float, resolution: float) -> int:
    """Refinement rounds that narrow a grid's ``spacing`` (a ratio of LRs) around the incumbent to ``resolution``:
    each round halves it on log-LR."""
    if spacing <= resolution:
        return 0
    return math.ceil(math.log2(math.log(spacing) / math.log(resolution)))


def band_of(best: dict, groups: list[dict], tied) -> dict:
    """``{low, high}``: the span of LRs (finals' seed groups) tied with ``best`` within seed noise, never
    reaching a finalist the finals call not tied (a tied LR beyond it is left out: the band is one interval)."""
    others = [g for g in groups if g is not best and g["mean"] is not None]
    apart = [g["lr"] for g in others if not tied(best, g)]
    below = max((lr for lr in apart if lr < best["lr"]), default=0.0)
    above = min((lr for lr in apart if lr > best["lr"]), default=float("inf"))
    lrs = [best["lr"]] + [g["lr"] for g in others if tied(best, g) and below < g["lr"] < above]
    return {"low": min(lrs), "high": max(lrs)}


def not_tied(best: dict, groups: list[dict], tied) -> list[float]:
    """The finalists' LRs the finals call not tied with ``best`` (diverged ones too)."""
    return [g["lr"] for g in groups if g is not best and (g["mean"] is None or not tied(best, g))]


def widen_band(
    band: dict, best: dict, ranking: list[tuple[float, float]], seed: int, rtol: float, apart: tuple = ()
) -> dict:
    """``band`` extended along log-LR over the LRs trained in full on the first seed only.

    ``ranking`` is ``(signed score, lr)`` on ``seed`` (lower is better). Walking out from the best's LR, a
    neighbour joins while its score on that seed is within the seed noise the finals measured (the best's
    standard deviation over seeds, at least ``rtol`` of its score) of the best's score on the same seed:
    the same initial weights and batches, so no seed could tell them apart. The walk stops at the first
    LR that is worse by more, or that the finals call not tied (``apart``): the band agrees with the finals.
    """
    by_lr = sorted((lr, value) for value, lr in ranking)
    lrs = [lr for lr, _v in by_lr]
    scores = dict(zip(best.get("seeds") or [], best.get("scores") or []))
    if best["lr"] not in lrs or scores.get(seed) is None:
        return band
    at = lrs.index(best["lr"])
    own = by_lr[at][1]
    noise = max(best.get("std") or 0.0, rtol * abs(own))
    low = high = at
    while low > 0 and by_lr[low - 1][1] <= own + noise and lrs[low - 1] not in apart:
        low -= 1
    while high < len(lrs) - 1 and by_lr[high + 1][1] <= own + noise and lrs[high + 1] not in apart:
        high += 1
    return {"low": min(band["low"], lrs[low]), "high": max(band["high"], lrs[high])}


FIT_WINDOW = 10.0  # the parabola is fitted to the full-length points within this ratio of the incumbent's LR
FIT_MIN_POINTS = 4  # fewer points: rank by the raw scores


def parabola(xs: list[float], ys: list[float]) -> tuple[float, float, float] | None:
    """Least-squares ``y = a x² + b x + c``; None when the points cannot determine it."""
    sums = [sum(x**k for x in xs) for k in range(5)]
    rhs = [sum(y * x**k for x, y in zip(xs, ys)) for k in range(3)]
    m = [[sums[4], sums[3], sums[2]], [sums[3], sums[2], sums[1]], [sums[2], sums[1], sums[0]]]
    det = _det(m)
    if abs(det) < 1e-12:
        return None
    coeffs = []
    for col in range(3):
        swapped = [[rhs[[2, 1, 0][r]] if c == col else m[r][c] for c in range(3)] for r in range(3)]
        coeffs.append(_det(swapped) / det)
    return coeffs[0], coeffs[1], coeffs[2]


def _det(m) -> float:
    return (
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    )


def smoothed_ranking(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(score, lr) best first, lower is better: ranked by a parabola fitted on log-LR around the best.

    One seed's metric is noisy from LR to LR (seed noise, not the LR's effect); the fitted curve shares
    the evidence of neighbouring LRs, so the finalists are the LRs nearest its bottom. Points outside
    FIT_WINDOW, or a fit that is not a valley, leave the raw ranking.
    """
    ranked = sorted(points)
    if not ranked:
        return ranked
    best_lr = ranked[0][1]
    near = [(s, lr) for s, lr in ranked if max(lr / best_lr, best_lr / lr) <= FIT_WINDOW]
    fit = parabola([math.log(lr) for _s, lr in near], [s for s, _lr in near]) if len(near) >= FIT_MIN_POINTS else None
    if fit is None or fit[0] <= 0:
        return ranked
    a, b, c = fit
    fitted = sorted((a * math.log(lr) ** 2 + b * math.log(lr) + c, lr) for _s, lr in near)
    rest = [(s, lr) for s, lr in ranked if (s, lr) not in near]
    return fitted + rest


# ---- schedule-aware fidelity (issue #19): early cuts must not compare LRs still warming up or mid-cycle

CYCLES = ("onecyclelr", "cycliclr", "cosineannealingwarmrestarts")  # the LR rises again within the run
COMPOSITE_PARTS = ("then", "schedulers")  # where a composite schedule keeps its parts


def schedule_shape(scheduler, epochs: int) -> tuple[str, int]:
    """``("cycle", 0)``, ``("warmup", warm-up epochs)`` or ``("plain", 0)`` for a parsed ``scheduler:`` entry
    (anything with ``type`` and ``params``; composites are looked into)."""
    if scheduler is None:
        return "plain", 0
    if scheduler.type in CYCLES:
        return "cycle", 0
    parts = []
    for key in COMPOSITE_PARTS:
        value = scheduler.params.get(key)
        parts += list(value) if isinstance(value, (list, tuple)) else [value] if value is not None else []
    shapes = [schedule_shape(p, epochs) for p in parts if hasattr(p, "type")]
    if any(kind == "cycle" for kind, _ in shapes):
        return "cycle", 0
    if scheduler.type == "warmup":
        return "warmup", int(scheduler.params.get("warmup_epochs") or max(1, epochs // 10))
    return max(shapes, default=("plain", 0), key=lambda s: s[1])


def scout_fidelity(shape: tuple[str, int], epochs: int, grace: int) -> tuple[str, int, str]:
    """How scouts are trained and compared: ``(mode, grace epochs, why)``.

    ``prefix``: successive halving, a scout's first epochs being its full training's (constant or decaying LR);
    ``after-warmup``: the same with the first rung after the warm-up; ``compressed``: each scout trains the
    whole schedule compressed to ``grace`` epochs (a cycle has no honest early cut), the best go on in full;
    ``full``: no cut at all (a training too short to cut).
    """
    kind, warm = shape
    if grace >= epochs:
        return "full", epochs, f"{epochs} epoch(s): too short for an early cut; every scout trains in full"
    if kind == "warmup":
        after = warm + 1
        if after < epochs:
            first = max(grace, after)
            return "after-warmup", first, f"the first cut at epoch {first}, after the {warm}-epoch warm-up"
        kind = "cycle"
    if kind == "cycle":
        return (
            "compressed",
            grace,
            f"the schedule's warm-up or cycle spans the run: scouts train it compressed to {grace} of {epochs} "
            "epoch(s), so no cut compares LRs still warming up; the best go on in full",
        )
    return "prefix", grace, "constant or decaying LR: a scout's first epochs are the first of its full training"


def compressed_epochs(scouts: int, epochs: int, grace: int, reduction: int) -> int:
    """Variant-epochs of compressed scouting: every scout ``grace`` epochs, 1/reduction of them in full."""
    return scouts * grace + max(1, scouts // reduction) * epochs


def compressed_keep(lrs: list[float], ranked: list[float], count: int) -> list[float]:
    """The compressed scouts that go on in full: the best and the scout just below it, then by rank.

    A schedule compressed into fewer steps favours larger LRs (fewer steps to make progress in; on the
    benchmark's OneCycle CNN the compressed best was the band's upper neighbour), so the LR below the
    compressed best is always trained in full too and the finals decide between them.
    """
    if not ranked:
        return []
    best, below = ranked[0], [lr for lr in sorted(lrs) if lr < ranked[0]]
    keep = [best] + ([below[-1]] if below and count > 1 else [])
    return keep + [lr for lr in ranked if lr not in keep][: max(0, count - len(keep))]


# ---- wall time (issue #19): what a pack costs on this device


def step_seconds(pack_costs: dict | None, width: int) -> float:
    """Seconds of one optimizer step of a pack of ``width``, from the measured pack of 1 and pack of K
    (linear between them, and beyond); 0 when nothing was measured."""
    if not pack_costs:
        return 0.0
    one, wide, k = pack_costs["one"], pack_costs["pack"], pack_costs["k"]
    if k <= 1:
        return one * width
    return max(one, one + (wide - one) * (width - 1) / (k - 1))


def finals_step_seconds(pack_costs: dict | None, finalists: int, others: int) -> tuple[float, float]:
    """Seconds of one optimizer step of tune's finals, ``finalists`` LRs x ``others`` seeds: (one pack per seed, all
    of them; every seed in one pack). The second scales the measured mixed-seed pack (``mixed``, of ``mixed_k``
    variants) to this width as a one-seed pack scales; inf where it was not measured (seeds cannot share a pack)."""
    apart = others * step_seconds(pack_costs, finalists)
    if not pack_costs or not pack_costs.get("mixed") or not pack_costs.get("one"):
        return apart, math.inf
    scale = step_seconds(pack_costs, finalists * others) / step_seconds(pack_costs, pack_costs["mixed_k"])
    return apart, pack_costs["mixed"] * scale


CHEAP_PACK = 0.25  # packs are cheap where each LR beyond the first adds at most this share of a pack of one's step ...
WIDEN = 2  # ... and then scouting may take up to this many times the scouts setting, in its one pack, where that
# ends sooner than the setting's scouts and the refinement rounds they need (tune's plan compares the two)


def marginal_cost(pack_costs: dict | None) -> float | None:
    """What one more variant adds to a pack's optimizer step, as a share of a pack of one's; None if unmeasured."""
    if not pack_costs or not pack_costs.get("one") or pack_costs["k"] <= 1:
        return None
    return max(0.0, (pack_costs["pack"] - pack_costs["one"]) / ((pack_costs["k"] - 1) * pack_costs["one"]))


def most_scouts(scouts: int, pack_costs: dict | None) -> int:
    """The most scouts a plan may consider: the setting, or WIDEN times it where packs are cheap (fewer, wider
    stages: the budget a refinement round would spend, one full training after another, may go into the scouts'
    one pack, where each more LR costs little wall time)."""
    marginal = marginal_cost(pack_costs)
    return scouts * WIDEN if marginal is not None and marginal <= CHEAP_PACK else scouts


def stage_seconds(pack_costs: dict | None, steps_per_epoch: int, segments: list[tuple[int, int]]) -> float:
    """Estimated wall seconds of sequential packs: ``segments`` are ``(width, epochs)``."""
    return sum(epochs * steps_per_epoch * step_seconds(pack_costs, width) for width, epochs in segments)


def halving_segments(scouts: int, epochs: int, grace: int, reduction: int) -> list[tuple[int, int]]:
    """``(width, epochs)`` of successive halving's one pack, rung by rung."""
    out, alive, reached = [], scouts, 0
    for rung in rung_epochs(grace, reduction, epochs):
        out.append((alive, rung - reached))
        alive, reached = max(1, alive // reduction), rung
    return [*out, (alive, epochs - reached)]
