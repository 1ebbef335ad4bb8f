"""``lrsweep tune`` with several batch sizes (``data.batch_size: [32, 128, 512]``): an LR per batch size.

One :class:`~lrsweep.api.tune_stages.Tuner` per batch size, in order, in one run directory, each with the whole
``--budget`` (the budget is per batch size) and its own entry in tune.json (``batch_sizes``). Then the batch sizes'
picks side by side: the overall best (its band, retrained on train+val as ``grid`` retrains), and how the picked LR
moved with the batch size against ``lr_scaling``'s rule (``scaling``). A resume replays each batch size's stages.
"""

from __future__ import annotations

import math
from dataclasses import replace

from lrsweep.api.tune_result import TuneResult, TuneSettings
from lrsweep.api.tune_stages import Tuner
from lrsweep.config import Config, LrScalingConfig
from lrsweep.errors import Interrupted
from lrsweep.run.store import RunStore


def tune_batch_sizes(config: Config, store: RunStore, settings: TuneSettings, events, executor=None) -> TuneResult:
    """One tune per batch size of ``config``; see the module docstring."""
    from lrsweep.api.common import finish_meta

    results: dict[str, TuneResult] = {}
    # The largest first: its range test costs the most trainings (fewest steps per epoch), so a budget too
    # small for any batch size is refused before anything else is trained.
    order = sorted(config.batch_sizes, reverse=True)
    try:
        for i, size in enumerate(order, start=1):
            events.on_notice(f"tune: batch size {size} ({i} of {len(order)})")
            results[str(size)] = Tuner(
                one_batch_size(config, size), store, settings, events, executor, section=str(size)
            ).run()
        results = {str(size): results[str(size)] for size in config.batch_sizes}  # as the config lists them
        combined = _combined(config, store, settings, results, events)
    except (Interrupted, KeyboardInterrupt):
        partial = _whole(store, settings, results, status="interrupted")
        store.write_tune(partial.to_dict())
        finish_meta(store, "interrupted")
        raise Interrupted({**partial.to_dict(), "run_dir": partial.run_dir}) from None
    store.write_tune(combined.to_dict())
    finish_meta(store, "finished")
    return combined


def one_batch_size(config: Config, size: int) -> Config:
    """``config`` for one of its batch sizes (still named in every variant's id), without lr scaling or retrain."""
    data = replace(config.data, batch_size=[size])
    return replace(config, data=data, lr_scaling=LrScalingConfig(), retrain=False)


def _whole(store: RunStore, settings: TuneSettings, results: dict[str, TuneResult], status: str) -> TuneResult:
    """tune.json's top level from the batch sizes' results so far: their costs summed, their stages in order."""
    tuned = store.read_tune() or {}
    found = tuned.get("batch_sizes") or {}
    sections = {size: found[size] for size in sorted(found, key=int)}
    costs = [r.cost for r in results.values()]
    cost = {key: round(sum(c.get(key, 0) for c in costs), 3) for key in ("trainings", "variant_epochs")}
    cost["range_test_steps"] = sum(c.get("range_test_steps", 0) for c in costs)
    cost["budget"] = settings.budget * len(sections or results or [None])
    stages = [{**stage, "batch_size": int(size)} for size, r in results.items() for stage in r.stages]
    return TuneResult(
        run_dir=str(store.path),
        best=None,
        band=None,
        cost=cost,
        stages=stages,
        status=status,
        settings=tuned.get("settings") or {},
        batch_sizes=sections,
    )


def _combined(config: Config, store: RunStore, settings: TuneSettings, results: dict[str, TuneResult], events):
    """The picks side by side: the overall best (retrained), the summary of every batch size's finals."""
    from lrsweep.select.scaling import batch_size_scaling
    from lrsweep.select.summary import summary_columns

    whole = _whole(store, settings, results, status="finished")
    summary = _finals_summary(config, store, results)
    best = summary["best"]
    if best is not None:
        sized = one_batch_size(config, best["batch_size"])
        if config.retrain:  # every seed of the pick trained in its finals: only the retrain runs here
            from lrsweep.sweep.executors.base import load_data
            from lrsweep.sweep.runner import run_sweep

            splits = load_data(sized)
            done = run_sweep(replace(sized, lrs=(best["lr"],), retrain=True), splits, store, events)
            summary["retrain"] = done.get("retrain")
        whole.best = best
        whole.band = results[str(best["batch_size"])].band
        whole.retrain = summary.get("retrain")
    whole.scaling = summary.get("batch_sizes")
    if whole.scaling is not None:  # tune places each pick to within its resolution, not on a grid
        ranked = [g for g in summary["groups"] if g["mean"] is not None]
        step = math.log(settings.resolution)
        whole.scaling = batch_size_scaling(ranked, summary["variants"], config.lr_scaling.rule, step)
    store.write_summary(summary, summary_columns(summary, extra=("stage",)))
    return whole


def _finals_summary(config: Config, store: RunStore, results: dict[str, TuneResult]) -> dict:
    """Every batch size's finals ranked together (each with its stage), then every other variant tried."""
    from lrsweep.select.health import Scoring
    from lrsweep.select.summary import summarize, variant_row

    scoring = Scoring.of(config.select)
    finals = {
        (int(size), lr) for size, r in results.items() for s in r.stages if s.get("stage") == "final" for lr in s["lrs"]
    }
    rows = []
    for vid in store.variant_ids():
        status = store.read_status(vid)
        if status and status.get("variant"):
            row = variant_row(status["variant"], status, store.read_metrics(vid), scoring)
            rows.append({**row, "stage": status.get("stage")})
    ranked = [
        r for r in rows if (r.get("batch_size"), r["lr"]) in finals and r.get("stage") in ("final", "rung", "refine")
    ]
    summary = summarize(
        config.name,
        scoring.metric,
        ranked,
        direction=scoring.direction,
        at=scoring.at,
        lr_scaling=config.lr_scaling.rule,
    )
    ids = {r["id"] for r in ranked}
    others = [{**r, "rank": None, "best": False} for r in rows if r["id"] not in ids]
    variants = summary["variants"] + others
    counts: dict[str, int] = {}
    for row in variants:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {**summary, "variants": variants, "status_counts": counts, "tune": True}
