"""What a pack costs on this device, measured once at the start of ``lrsweep tune`` (and kept in tune.json, so a
resume does not measure again): a few optimizer steps of a pack of K variants against a pack of one, timed.
``lrsweep tune`` plans its stages' wall time with it (``select.strategy.stage_seconds``)."""

from __future__ import annotations

import time
from dataclasses import replace

MEASURE_STEPS = 5  # optimizer steps timed per pack, its first included (a first step of a pack of one, untimed,
# pays for the lazy set-up before any)


def measure_pack_costs(config, splits, width: int, finalists: int = 0) -> dict:
    """``{k, one, pack, steps, vectorized}``: seconds per optimizer step of a pack of 1 and of ``width``; with
    ``finalists`` and several seeds, ``mixed`` too: of a pack of ``finalists`` x the config's other seeds, those
    seeds mixed (``mixed_k`` variants), as tune's finals would train in one pack (see
    ``select.strategy.finals_step_seconds``). No ``mixed`` where seeds cannot share a pack (a model that draws
    random numbers, a sequential engine).

    A model the vectorized engine cannot stack trains its variants one after another: a pack of K costs K
    packs of one. Never raises: a measurement that fails says why (``error``) and plans fall back to trainings.
    """
    try:
        return _measure(config, splits, max(2, width), finalists)
    except Exception as exc:  # noqa: BLE001  a failed measurement must not stop the tune; the sweeps will say
        return {"k": max(2, width), "one": 0.0, "pack": 0.0, "steps": 0, "vectorized": False, "error": str(exc)}


def _measure(config, splits, width: int, finalists: int) -> dict:
    from lrsweep.engine.packing import draws_randomness
    from lrsweep.engine.vectorized import PackTrainer, VectorizeError
    from lrsweep.sweep.plan import expand
    from lrsweep.sweep.runner import train_spec

    spec = train_spec(config, splits)
    rows = min(len(splits.train_x), MEASURE_STEPS * spec.batch_size)
    train = (splits.train_x[:rows], splits.train_y[:rows])
    spec = replace(spec, epochs=1)
    lrs = [min(config.lrs) * (1 + i / width) for i in range(width)]
    # Without the config's schedule: its step costs next to nothing, and one compressed to a single epoch may not
    # exist (a 1-epoch warm-up leaves no epoch for what follows it).
    variants = expand(replace(config, lrs=tuple(lrs), seeds=config.seeds[:1], schedulers=()))
    steps = -(-rows // spec.batch_size)

    def timed(pack, rows: tuple = train) -> float:
        trainer = PackTrainer(pack, spec, splits.train_x.device)
        started = time.perf_counter()
        trainer.run(rows, None)
        return (time.perf_counter() - started) / steps

    try:
        if config.engine == "sequential":
            raise VectorizeError("engine: sequential")
        timed(variants[:1], tuple(t[: spec.batch_size] for t in train))  # one step, untimed: pays for lazy set-up
        one = timed(variants[:1])
        pack = timed(variants)
        vectorized, mixed = True, {}
        others = config.seeds[1:]
        if finalists and others and not draws_randomness(spec):
            finals = expand(replace(config, lrs=tuple(lrs[:finalists]), seeds=others, schedulers=()))
            mixed = {"mixed": timed(finals), "mixed_k": len(finals)}
    except VectorizeError:
        from lrsweep.engine.loop import train_variant

        started = time.perf_counter()
        train_variant(variants[0], spec, train)
        one = (time.perf_counter() - started) / steps
        pack, vectorized, mixed = one * width, False, {}
    return {"k": width, "one": one, "pack": pack, "steps": steps, "vectorized": vectorized, **mixed}
