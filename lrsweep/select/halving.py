"""Early stopping by (synchronous) successive halving, the rule ASHA applies at each rung.

Every variant trains to the first rung (``grace_epochs``); there, seed groups (lr × optimizer ×
scheduler × batch size) are ranked by the selection metric at that epoch (the best so far with
``select.at: best``; a variant that stopped early keeps the score it stopped with), averaged over seeds,
and only the best ``1/reduction`` of them (at least one) train on to the next rung (``grace_epochs ×
reduction``), and
so on; the last survivors train every epoch. The others end ``pruned`` at the epoch they reached.

Decisions are a pure function of the metrics at each rung, read back from the run directory, so a
resumed sweep replays them exactly: pruned variants count as finished, the rest pick up where the
files say they are. A pruned variant is never ranked: the best is chosen among the variants that
trained every epoch, so all compared scores are measured at the same epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrsweep.select.health import Scoring, scored_row

STATUS_PRUNED = "pruned"
PENDING = "pending"  # not ended in this sweep, nor finished in an earlier one: still to train
ENDED = ("diverged", "failed", STATUS_PRUNED)  # stop contending once they end before a rung
FINISHED = ("done", "diverged", STATUS_PRUNED)  # a resumed sweep does not train these again


def rung_epochs(grace_epochs: int, reduction: int, epochs: int) -> list[int]:
    """``grace_epochs × reduction^k`` for k = 0, 1, ..., below the last epoch (the last is no cut)."""
    rungs, rung = [], grace_epochs
    while rung < epochs:
        rungs.append(rung)
        rung *= reduction
    return rungs


@dataclass(frozen=True)
class Cut:
    """What happened at one rung."""

    rung: int
    promoted: list[str]  # seed groups (``Variant.group``) that go on, best first
    pruned: list[str]  # variant ids stopped here


def cut(
    variants: list, scores: dict[str, float | None], contenders: set[str], rung: int, direction: str, reduction: int
) -> Cut:
    """The successive-halving decision at ``rung`` (pure).

    Args:
        variants: every variant of the sweep (seed groups are taken from all of them).
        scores: variant id -> the selection metric at epoch ``rung`` (None when it has none).
        contenders: ids still in the race at this rung.
        direction: ``min`` or ``max``.
        reduction: keep the best ``len(groups) // reduction`` groups, at least one.
    """
    groups: dict[str, list] = {}
    for v in variants:
        groups.setdefault(v.group, []).append(v)
    racing = {g: members for g, members in groups.items() if any(v.id in contenders for v in members)}
    sign = 1.0 if direction == "min" else -1.0
    ranked = []
    for name, members in racing.items():
        values = [x for v in members if (x := scores.get(v.id)) is not None and math.isfinite(x)]
        if len(values) == len(members):  # a group with a lost seed cannot win
            ranked.append((sign * sum(values) / len(values), members[0].lr, name))
    keep = [name for _score, _lr, name in sorted(ranked)[: max(1, len(racing) // reduction)]]
    pruned = [v.id for name, members in racing.items() if name not in keep for v in members if v.id in contenders]
    return Cut(rung=rung, promoted=keep, pruned=pruned)


def successive_halving(variants: list, packs: list[list], config, store, session, sink) -> list[Cut]:
    """Train ``packs`` rung by rung, cutting at each rung; the survivors then train to the end.

    ``variants`` are all of the sweep's variants (finished ones included: their files take part in the
    decisions); ``packs`` hold the unfinished ones. ``sink.status(id)`` says whether a variant ended
    (here or in an earlier run) or is still ``pending``. Returns the cuts, in order.
    """
    prune, epochs = config.prune, config.train.epochs
    scoring = Scoring.of(config.select)
    eliminated: set[str] = set()
    cuts = []
    for rung in rung_epochs(prune.grace_epochs, prune.reduction, epochs):
        racing = [v.id for v in variants if v.id not in eliminated]
        todo = {vid for vid in racing if sink.status(vid) == PENDING and len(store.read_metrics(vid)) < rung}
        session.train(_only(packs, todo), sink, until=rung)
        state = {vid: (sink.status(vid), store.read_metrics(vid)) for vid in racing}
        contenders = {vid for vid, (status, rows) in state.items() if status not in ENDED or len(rows) >= rung}
        scores = {vid: _metric_at(rows, rung, scoring) for vid, (_s, rows) in state.items()}
        decision = cut(variants, scores, contenders, rung, scoring.direction, prune.reduction)
        for vid in decision.pruned:
            status, rows = state[vid]
            if status == PENDING:
                sink.on_pruned(vid, rows[:rung], rung)
        session.release(decision.pruned)
        eliminated |= (set(racing) - contenders) | set(decision.pruned)
        cuts.append(decision)
    survivors = {v.id for v in variants if v.id not in eliminated and sink.status(v.id) == PENDING}
    session.train(_only(packs, survivors), sink)
    return cuts


def _metric_at(rows: list[dict], epoch: int, scoring: Scoring) -> float | None:
    """The score at a rung: at ``epoch`` (``at: last``), or the best so far (``at: best``); a variant that stopped
    early before the rung keeps the score it stopped with."""
    row = scored_row([r for r in rows if r.get("epoch", 0) <= epoch], scoring)
    value = row.get(scoring.metric)
    return float(value) if isinstance(value, (int, float)) else None


def _only(packs: list[list], ids: set[str]) -> list[list]:
    """The packs restricted to ``ids`` (in their order), empty packs dropped: survivors stay together."""
    return [kept for pack in packs if (kept := [v for v in pack if v.id in ids])]
