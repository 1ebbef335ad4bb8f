"""benchmarks/selection.py's scoring with ``select.at: best`` and early stopping, from whole val_loss curves.

The truths of selection_truth.json keep every seed's val_loss at every epoch, so what a variant scores under
another rule is a function of its curve:

- ``at: best``: its lowest val_loss over the epochs (``last``: its last epoch's);
- early stopping with patience P: the curve cut where P epochs in a row brought no new minimum (the engine's rule,
  lrsweep.engine.stopping), then scored as above; its cost is the epochs it ran.

The *truth* a pick is judged by stays a full training scored ``at`` (best or last): early stopping is a way to
spend less, not another definition of a good LR. A strategy that runs with early stopping sees the cut curves
(and pays for the epochs it ran); grids and TPE are simulated on the cached curves, tune runs for real.
Curves of LRs outside the truth grid (grid5's, TPE's, picks) are trained once (3 seeds, as the truth was) and
cached in selection_curves.json, a file of its own so that the truths' cache stays as it was.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from selection_tasks import BAND, SEEDS, load_truths, sweep

CURVES_FILE = Path(__file__).resolve().parent / "selection_curves.json"


@dataclass(frozen=True)
class Rule:
    """How a variant is scored: ``at`` last | best; ``patience`` early stopping on val_loss (None: off)."""

    at: str = "last"
    patience: int | None = None

    @property
    def label(self) -> str:
        stop = f", early stopping (patience {self.patience})" if self.patience else ""
        return f"at {self.at}{stop}"


def cut(curve: list[float], patience: int | None) -> list[float]:
    """The curve as early stopping on val_loss (min_delta 0) leaves it."""
    if not patience:
        return list(curve)
    best, since = math.inf, 0
    for epoch, value in enumerate(curve, start=1):
        if value is not None and math.isfinite(value) and value < best:
            best, since = value, 0
        else:
            since += 1
        if since >= patience and epoch < len(curve):
            return list(curve[:epoch])
    return list(curve)


def score(curve: list[float] | None, rule: Rule, epochs: int = 0) -> tuple[float, int]:
    """(the score a strategy sees, the epochs it paid for); inf for a diverged run, whose cache keeps no curve:
    it is counted as ``epochs`` (a full training), as the last-epoch figures count every variant."""
    if not curve:
        return math.inf, epochs
    seen = cut(curve, rule.patience)
    finite = [v for v in seen if v is not None and math.isfinite(v)]
    if len(finite) < len(seen) or not finite:
        return math.inf, len(seen)
    return (min(finite) if rule.at == "best" else finite[-1]), len(seen)


def _load() -> dict:
    return json.loads(CURVES_FILE.read_text()) if CURVES_FILE.exists() else {}


def _save(data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=CURVES_FILE.parent, suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, CURVES_FILE)


def curves(name: str, raw: dict, lr: float) -> dict[str, list[float] | None]:
    """Per seed, the whole val_loss curve of ``lr`` trained as the truth was (from the truth grid, else cached)."""
    key = repr(float(f"{lr:.6g}"))
    grid = load_truths()[name]["grid"]
    if key in grid:
        return grid[key]
    cached = _load()
    if key not in cached.get(name, {}):
        trained = next(iter(sweep(raw, [float(key)]).values()))
        cached = _load()
        cached.setdefault(name, {})[key] = trained
        _save(cached)
    return cached[name][key]


def truth_band(entry: dict, at: str) -> tuple[float, float, float]:
    """(best seed-mean score, band low LR, band high LR) of a truth scored ``at`` (full trainings)."""
    means = {float(lr): seed_mean(per_seed, Rule(at)) for lr, per_seed in entry["grid"].items()}
    best = min(means.values())
    inside = [lr for lr, m in means.items() if m <= (1 + BAND) * best]
    return best, min(inside), max(inside)


def seed_mean(per_seed: dict, rule: Rule) -> float:
    values = [score(per_seed.get(str(s)), rule)[0] for s in SEEDS]
    return math.inf if any(math.isinf(v) for v in values) else sum(values) / len(values)


def judged(name: str, raw: dict, lr: float, at: str) -> float:
    """What a pick is judged by: the seed mean of full trainings of ``lr``, scored ``at``."""
    return seed_mean(curves(name, raw, lr), Rule(at))


def grid_pick(name: str, raw: dict, lrs: list[float], rule: Rule) -> tuple[float, float]:
    """A grid's pick (seed means of what it sees under ``rule``) and its cost in trainings."""
    epochs = raw["train"]["epochs"]
    means, spent = {}, 0
    for lr in lrs:
        per_seed = curves(name, raw, lr)
        seen = [score(per_seed.get(str(s)), rule, epochs) for s in SEEDS]
        spent += sum(n for _v, n in seen)
        values = [v for v, _n in seen]
        means[lr] = math.inf if any(math.isinf(v) for v in values) else sum(values) / len(values)
    return min(means, key=lambda lr: (means[lr], lr)), spent / epochs


def trial(name: str, raw: dict, lr: float, rule: Rule) -> tuple[float, float]:
    """One TPE trial (the first seed): what it sees and what it costs, in trainings."""
    total = raw["train"]["epochs"]
    value, epochs = score(curves(name, raw, lr).get(str(SEEDS[0])), rule, total)
    return value, epochs / total


def with_rule(raw: dict, rule: Rule) -> dict:
    """The task's config as tune runs it under ``rule``."""
    train = dict(raw["train"])
    if rule.patience:
        train["early_stopping"] = {"patience": rule.patience}
    return {**raw, "train": train, "select": {**raw.get("select", {}), "at": rule.at}}
