"""Training packs in this process: :class:`PackRunner` (used by every executor, workers included) and
the local executor (today's behaviour: the parent trains every pack itself)."""

from __future__ import annotations

import traceback
from contextlib import contextmanager

from lrsweep.engine.common import STATUS_DONE, STATUS_FAILED, NoCallbacks, VariantResult, cpu_state
from lrsweep.engine.loop import SequentialTrainer
from lrsweep.errors import LrsweepError, UsageError
from lrsweep.executors.base import Executor, evaluation_split

STATUS_STOPPED = "stopped"  # a variant taken out of its pack by release(); the runner records why


def describe_device(device) -> str:
    return f"cuda:{device.index or 0}" if device.type == "cuda" else str(device)


class _Unit:
    """One trainer (a vectorized pack, or one variant's loop) kept alive between rungs."""

    def __init__(self, trainer, variants: list):
        self.trainer, self.variants = trainer, variants
        self.packed = not isinstance(trainer, SequentialTrainer)

    def alive(self) -> set[str]:
        if self.packed:
            return {self.trainer.variants[i].id for i in self.trainer.alive}
        return set() if self.trainer.finished else {self.variants[0].id}

    def stop(self, ids: set[str]) -> None:
        if self.packed:
            self.trainer.stop(sorted(ids & self.alive()), STATUS_STOPPED)

    def run(self, train, evaluation, callbacks, until, test=None) -> dict[str, VariantResult]:
        if self.packed:
            results = {r.variant_id: r for r in self.trainer.run(train, evaluation, callbacks, test=test, until=until)}
        else:
            self.trainer.callbacks = callbacks or NoCallbacks()
            results = {self.variants[0].id: self.trainer.run(until=until, test=test)}
        if self.trainer.spec.weights == "all":
            self.attach_weights(results)
        return results

    def attach_weights(self, results: dict[str, VariantResult]) -> None:
        """Each variant that trained every epoch (status done) carries its final state_dict back."""
        epochs = self.trainer.spec.epochs
        for i, variant in enumerate(self.variants if not self.packed else self.trainer.variants):
            result = results.get(variant.id)
            if result is None or result.status != STATUS_DONE or len(result.epochs) < epochs:
                continue
            if self.packed:
                result.weights = cpu_state(self.trainer.state_dict(i)) if i in self.trainer.alive else None
            else:
                result.weights = cpu_state(self.trainer.model.state_dict())


class PackRunner:
    """Trains packs on one device in this process, keeping each pack's trainer between calls so a
    pack trained to a rung carries on from there.

    A pack that cannot be vectorized falls back to one variant at a time (with a notice); a pack that
    raises mid-way is retried one variant at a time from epoch 1; a variant that raises is ``failed``.
    """

    def __init__(self, engine: str, spec, train, evaluation, notice=None):
        self.engine, self.spec, self.train_data, self.evaluation = engine, spec, train, evaluation
        self.notice = notice or (lambda message: None)
        self.units: dict[str, _Unit] = {}  # variant id -> its trainer
        self.device = describe_device(train[0].device)

    def train(self, pack: list, callbacks, until: int | None = None) -> list[VariantResult]:
        """The pack's results, in order, after training it up to epoch ``until``."""
        units = self._resumable(pack)
        if units is None:
            units = self._new_pack(pack)
        results: dict[str, VariantResult] = {}
        for unit in units:
            try:
                results.update(unit.run(self.train_data, self.evaluation, callbacks, until))
            except (KeyboardInterrupt, LrsweepError):
                raise
            except Exception as exc:  # noqa: BLE001 - the pack failed; its variants are retried alone below
                self.notice(f"pack of {len(unit.variants)} failed ({type(exc).__name__}: {exc}); "
                            "retrying its variants one at a time")
                for variant in unit.variants:
                    self.units.pop(variant.id, None)
        for variant in pack:
            if variant.id not in results:
                results[variant.id] = self._run_alone(variant, callbacks, until)
        self._forget_finished()
        return [results[v.id] for v in pack]

    def release(self, variant_ids) -> None:
        """Stop and forget these variants (pruned, or their pack moved on without them)."""
        ids = set(variant_ids)
        for unit in {id(u): u for vid, u in self.units.items() if vid in ids}.values():
            unit.stop(ids)
        for vid in ids:
            self.units.pop(vid, None)

    def retrain(self, variant, train, test, callbacks) -> VariantResult:
        """``variant`` from scratch on ``train`` without validation, scored on ``test``."""
        trainer = None
        try:
            trainer = SequentialTrainer(variant, self.spec, train, None, callbacks)
            result = trainer.run(test=test)
            if self.spec.weights != "none" and result.status == STATUS_DONE:
                result.weights = cpu_state(trainer.model.state_dict())
            return result
        except (KeyboardInterrupt, LrsweepError):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded in retrain/status.json
            return _failed(trainer.result if trainer else VariantResult(variant.id, STATUS_DONE), exc)

    # ---- units

    def _resumable(self, pack: list) -> list[_Unit] | None:
        """The vectorized units already holding this pack's variants (trained to a rung), or None
        when the pack starts afresh. Variants kept alone carry on in :meth:`_run_alone`."""
        ids = {v.id for v in pack}
        if not all(vid in self.units for vid in ids):
            self.release(ids)
            return None
        units = list({id(self.units[vid]): self.units[vid] for vid in ids}.values())
        for unit in units:
            unit.stop(unit.alive() - ids)  # variants the runner no longer asks for
        return [u for u in units if u.packed]

    def _new_pack(self, pack: list) -> list[_Unit]:
        """One vectorized unit for the pack, or none (its variants then train alone)."""
        from lrsweep.engine.vectorized import PackTrainer
        from lrsweep.errors import VectorizeError

        if len(pack) < 2:
            return []
        try:
            unit = _Unit(PackTrainer(pack, self.spec, self.train_data[0].device), list(pack))
        except VectorizeError as exc:
            if self.engine == "vectorized":
                raise UsageError(f"--engine vectorized: {exc}") from None
            self.notice(f"training this pack one variant at a time: {exc}")
            return []
        self.units.update({v.id: unit for v in pack})
        return [unit]

    def _run_alone(self, variant, callbacks, until) -> VariantResult:
        """``variant`` on its own loop (carrying on where one is kept); an error fails only this variant."""
        unit = self.units.get(variant.id)
        try:
            if unit is None:
                unit = _Unit(SequentialTrainer(variant, self.spec, self.train_data, self.evaluation), [variant])
                self.units[variant.id] = unit
            return unit.run(self.train_data, self.evaluation, callbacks, until)[variant.id]
        except (KeyboardInterrupt, LrsweepError):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded in status.json, the sweep goes on
            self.units.pop(variant.id, None)
            return _failed(unit.trainer.result if unit else VariantResult(variant.id, STATUS_DONE), exc)

    def _forget_finished(self) -> None:
        """Drop trainers with nothing left to train (ended, diverged, or at the last epoch)."""
        for vid in [vid for vid, unit in self.units.items()
                    if vid not in unit.alive() or _at_end(unit, self.spec.epochs)]:
            del self.units[vid]


def _at_end(unit: _Unit, epochs: int) -> bool:
    trainer = unit.trainer
    return (trainer.epochs_run if unit.packed else len(trainer.result.epochs)) >= epochs


def _failed(partial: VariantResult, exc: Exception) -> VariantResult:
    """A failed result keeping the epochs that finished before ``exc``."""
    result = VariantResult(partial.variant_id, STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
    result.epochs = list(partial.epochs)
    result.lr_steps = list(partial.lr_steps)
    result.traceback = traceback.format_exc(limit=-8)
    return result


class LocalExecutor(Executor):
    """Every pack in this process, one after another, on the parent's device and data."""

    backend = "local"
    parallelism = 1

    @contextmanager
    def session(self, job, notice):
        yield LocalSession(job, notice)


class LocalSession:
    def __init__(self, job, notice):
        self.splits = job.splits
        train = (job.splits.train_x, job.splits.train_y)
        self.runner = PackRunner(job.config.engine, job.spec, train, evaluation_split(job.splits), notice)

    def train(self, packs, sink, until=None) -> None:
        for pack in packs:
            sink.on_pack_start(pack, self.runner.device)
            for variant, result in zip(pack, self.runner.train(pack, sink, until)):
                sink.on_result(variant, result, self.runner.device)

    def release(self, variant_ids) -> None:
        self.runner.release(variant_ids)

    def retrain(self, variant, callbacks):
        test = (self.splits.test_x, self.splits.test_y)
        return self.runner.retrain(variant, self.splits.train_plus_val(), test, callbacks), self.runner.device
