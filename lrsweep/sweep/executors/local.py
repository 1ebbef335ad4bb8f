"""Training packs in this process: :class:`PackRunner` (used by every executor, workers included) and
the local executor (today's behaviour: the parent trains every pack itself)."""

from __future__ import annotations

import traceback
from contextlib import contextmanager

from lrsweep.engine.common import STATUS_DONE, STATUS_FAILED, NoCallbacks, VariantResult, cpu_state
from lrsweep.engine.loop import SequentialTrainer
from lrsweep.errors import LrsweepError, UsageError
from lrsweep.sweep.executors.base import Executor, evaluation_split

STATUS_STOPPED = "stopped"  # a variant taken out of its pack by release(); the runner records why


def describe_device(device) -> str:
    return f"cuda:{device.index or 0}" if device.type == "cuda" else str(device)


class _Unit:
    """One trainer (a vectorized pack, or one variant's loop) kept alive between rungs."""

    def __init__(self, trainer, variants: list):
        self.trainer, self.variants = trainer, variants
        self.packed = not isinstance(trainer, SequentialTrainer)
        self.resumed_from = 0  # the epoch its checkpoint held, when it carried on from one
        self.because: str | None = None  # why it trains alone when its pack could not be vectorized

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
        for result in results.values():
            result.computed = self.computed(train[0].device)
        if self.trainer.spec.weights == "all":
            self.attach_weights(results)
        return results

    def attach_weights(self, results: dict[str, VariantResult]) -> None:
        """Each variant that trained every epoch (status done) carries its final state_dict back."""
        epochs = self.trainer.spec.epochs
        for i, variant in enumerate(self.variants if not self.packed else self.trainer.variants):
            result = results.get(variant.id)
            complete = result is not None and (len(result.epochs) >= epochs or result.stopped_early)
            if result is None or result.status != STATUS_DONE or not complete:
                continue
            if self.packed:  # a member that stopped early was frozen where it stopped
                alive = i in self.trainer.alive
                result.weights = cpu_state(self.trainer.state_dict(i) if alive else self.trainer.frozen[i])
            else:
                result.weights = cpu_state(self.trainer.model.state_dict())

    def computed(self, device) -> dict:
        """How this unit's variants are computed: what a re-run must match to reproduce them bit for bit."""
        import torch

        from lrsweep.run.store import pack_key

        ids = [v.id for v in self.variants]
        return {
            "engine": "vectorized" if self.packed else "sequential",
            "pack_size": len(ids),
            "pack": pack_key(ids) if self.packed else None,
            "members": ids if self.packed else None,
            "seeds": sorted({v.seed for v in self.variants}),  # a pack's members may differ in seed
            "threads": torch.get_num_threads(),
            "device": describe_device(device),
            "resumed_from_epoch": self.resumed_from,
            **({"because": self.because} if self.because else {}),
        }


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
        self.alone_because: dict[str, str] = {}  # variant id -> why its pack trains one variant at a time
        self.device = describe_device(train[0].device)

    def train(self, pack: list, callbacks, until: int | None = None, resume=None) -> list[VariantResult]:
        """The pack's results, in order, after training it up to epoch ``until``.

        ``resume`` (a :class:`lrsweep.run.checkpoints.ResumePoint`) carries a pack that starts afresh here on from
        its checkpoint, with the torch threads it first ran with.
        """
        with same_threads(resume.threads if resume else None, self.notice):
            return self._train(pack, callbacks, until, resume)

    def _train(self, pack: list, callbacks, until, resume) -> list[VariantResult]:
        units = self._resumable(pack)
        if units is None:
            units = self._new_pack(pack, resume, callbacks)
        results: dict[str, VariantResult] = {}
        for unit in units:
            try:
                results.update(unit.run(self.train_data, self.evaluation, callbacks, until))
            except (KeyboardInterrupt, LrsweepError):
                raise
            except Exception as exc:  # noqa: BLE001 - the pack failed; its variants are retried alone below
                self.notice(
                    f"pack of {len(unit.variants)} failed ({type(exc).__name__}: {exc}); "
                    "retrying its variants one at a time"
                )
                for variant in unit.variants:
                    self.units.pop(variant.id, None)
        for variant in pack:
            if variant.id not in results:
                state = resume.alone.get(variant.id) if resume else None
                results[variant.id] = self._run_alone(variant, callbacks, until, state)
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
        """``variant`` from scratch on ``train`` without validation, scored on ``test`` (after epoch
        ``variant.stop_epoch`` when it names one: the epoch it was scored at)."""
        trainer = None
        try:
            trainer = SequentialTrainer(variant, self.spec, train, None, callbacks)
            result = trainer.run(until=getattr(variant, "stop_epoch", None), test=test)
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

    def _new_pack(self, pack: list, resume=None, callbacks=None) -> list[_Unit]:
        """One vectorized unit for the pack, or none (its variants then train alone).

        With a pack checkpoint in ``resume`` the unit is the pack as it first ran (members that have
        ended since stay out of the training), restored to its last finished epoch.
        """
        from lrsweep.engine.vectorized import PackTrainer
        from lrsweep.errors import VectorizeError

        restoring = resume is not None and resume.pack_state is not None
        members = list(resume.members) if resume is not None and len(resume.members) > 1 else list(pack)
        if len(members) < 2:
            return []
        try:
            unit = _Unit(PackTrainer(members, self.spec, self.train_data[0].device), members)
        except VectorizeError as exc:
            if self.engine == "vectorized":
                raise UsageError(f"--engine vectorized: {exc}") from None
            message = f"training this pack one variant at a time: {exc}"
            self.notice(message)
            self.alone_because.update({v.id: message for v in members})
            return []
        if restoring and not self._restore_pack(unit, resume.pack_state):
            return self._new_pack(pack)
        if resume is not None:
            unit.stop(unit.alive() & resume.drop)
        self.units.update({v.id: unit for v in unit.variants})
        return [unit]

    def _restore_pack(self, unit: _Unit, state: dict) -> bool:
        try:
            unit.trainer.restore(state)
        except (ValueError, KeyError, IndexError, RuntimeError) as exc:
            self.notice(f"ignoring the pack's checkpoint ({type(exc).__name__}: {exc}); it trains from epoch 1")
            return False
        unit.resumed_from = unit.trainer.epochs_run
        return True

    def holds(self, pack: list) -> bool:
        """Whether every variant of ``pack`` has a trainer kept here (it carries on without a checkpoint)."""
        return all(v.id in self.units for v in pack)

    def _run_alone(self, variant, callbacks, until, state: dict | None = None) -> VariantResult:
        """``variant`` on its own loop (carrying on where one is kept, or from ``state``, its checkpoint);
        an error fails only this variant."""
        unit = self.units.get(variant.id)
        try:
            if unit is None:
                unit = _Unit(SequentialTrainer(variant, self.spec, self.train_data, self.evaluation), [variant])
                unit.because = self.alone_because.get(variant.id)
                if state is not None:
                    self._restore_alone(unit, state)
                self.units[variant.id] = unit
            return unit.run(self.train_data, self.evaluation, callbacks, until)[variant.id]
        except (KeyboardInterrupt, LrsweepError):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded in status.json, the sweep goes on
            self.units.pop(variant.id, None)
            return _failed(unit.trainer.result if unit else VariantResult(variant.id, STATUS_DONE), exc)

    def _restore_alone(self, unit: _Unit, state: dict) -> None:
        try:
            unit.trainer.restore(state)
            unit.resumed_from = unit.trainer.epochs_run
        except (ValueError, KeyError, IndexError, RuntimeError) as exc:
            self.notice(
                f"ignoring the checkpoint of {unit.variants[0].id} ({type(exc).__name__}: {exc}); "
                "it trains from epoch 1"
            )
            unit.trainer = SequentialTrainer(unit.variants[0], self.spec, self.train_data, self.evaluation)

    def _forget_finished(self) -> None:
        """Drop trainers with nothing left to train (ended, diverged, or at the last epoch)."""
        for vid in [
            vid for vid, unit in self.units.items() if vid not in unit.alive() or _at_end(unit, self.spec.epochs)
        ]:
            del self.units[vid]


@contextmanager
def same_threads(threads: int | None, notice):
    """Train with ``threads`` torch threads (what a checkpoint was computed with: the thread count changes
    the order of float reductions), then go back."""
    import torch

    before = torch.get_num_threads()
    if not threads or threads == before:
        yield
        return
    notice(f"training with {threads} torch threads, as the interrupted run did (this process has {before})")
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    """Every pack in this process, one after another, on the parent's device and data; trials of your own code
    (command:, function:) up to ``jobs`` at once on the config's device."""

    backend = "local"

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    @property
    def parallelism(self) -> int:
        return self.jobs

    @contextmanager
    def session(self, job, notice):
        if job.config.kind != "engine":
            from lrsweep.sweep.executors.trials import TrialSession, slots_for, trial_device

            with TrialSession(job, notice, slots_for([trial_device(job.config.device)], self.jobs)) as session:
                yield session
            return
        yield LocalSession(job, notice)


class LocalSession:
    def __init__(self, job, notice):
        self.splits = job.splits
        train = (job.splits.train_x, job.splits.train_y)
        self.runner = PackRunner(job.config.engine, job.spec, train, evaluation_split(job.splits), notice)

    def train(self, packs, sink, until=None) -> None:
        for pack in packs:
            sink.on_pack_start(pack, self.runner.device)
            resume = None if self.runner.holds(pack) or not hasattr(sink, "resume_point") else sink.resume_point(pack)
            for variant, result in zip(pack, self.runner.train(pack, sink, until, resume)):
                sink.on_result(variant, result, self.runner.device)

    def release(self, variant_ids) -> None:
        self.runner.release(variant_ids)

    def retrain(self, variant, callbacks):
        test = (self.splits.test_x, self.splits.test_y)
        return self.runner.retrain(variant, self.splits.train_plus_val(), test, callbacks), self.runner.device
