"""The vectorized engine: a pack of K variants trained as one computation, batch for batch.

Every variant starts from the weights the sequential engine would give it (``build_model`` with
its seed), sees the batches its seed orders (one shared batch ``[B, ...]`` when the pack's live members
share one seed, else one index gather ``[K, B, ...]``: a row per variant), and is
stepped by its own optimizer hyper-parameters and its own torch scheduler (driven on a proxy
optimizer). A variant whose loss goes NaN/inf is masked out of the backward pass and frozen at once
(on the device, no host sync); every ``DIVERGENCE_CHECK_EVERY`` batches and at each epoch's end the
frozen ones are marked ``diverged`` and dropped from the pack; the rest train on. Results, records and
callbacks are those of :func:`lrsweep.engine.loop.train_variant`, one per variant.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor

from lrsweep.engine import checkpoint
from lrsweep.engine.batches import ResidentBatches, StreamedBatches, as_batches
from lrsweep.engine.common import (
    EVAL_CHUNK,
    STATUS_DIVERGED,
    STATUS_DONE,
    Callbacks,
    EpochRecord,
    NoCallbacks,
    TrainSpec,
    VariantResult,
    diverged,
    prefixed,
    spec_for,
)
from lrsweep.engine.loop import DIVERGENCE_CHECK_EVERY, steps_per_epoch
from lrsweep.engine.losses import is_classification, predicted_class
from lrsweep.engine.metrics import Scores
from lrsweep.engine.pack_build import keep_freed_memory, stack_pack
from lrsweep.engine.pack_stats import EpochStats, variant_losses
from lrsweep.engine.precision import PackAmp, maybe_compile
from lrsweep.engine.stacked_models import PATHS
from lrsweep.engine.stacked_optim import OPTIMIZERS as STACKED
from lrsweep.engine.stacked_optim import StackedOptimizer, supports
from lrsweep.engine.stopping import should_stop
from lrsweep.errors import VectorizeError

STACKED_NAMES = tuple(STACKED)
EVAL_ROWS_TIMES_VARIANTS = EVAL_CHUNK * 4  # evaluation chunk = this / K rows: bounded memory for big packs

__all__ = ["PackTrainer", "VectorizeError", "train_pack", "check_vectorizable"]


def train_pack(
    variants: Sequence,
    spec: TrainSpec,
    train: tuple[Tensor, Tensor],
    evaluation: tuple[Tensor, Tensor] | None,
    callbacks: Callbacks | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    path: str = "auto",
) -> list[VariantResult]:
    """Train ``variants`` as one pack; one :class:`VariantResult` per variant, in order.

    Same contract as :func:`~lrsweep.engine.loop.train_variant` (data already on the device, records
    reported through ``callbacks.on_epoch``). Raises :class:`VectorizeError` before any training when
    the pack cannot be vectorized (the caller falls back to the sequential engine).
    """
    trainer = PackTrainer(variants, spec, train[0].device, path=path)
    return trainer.run(train, evaluation, callbacks, test)


def check_vectorizable(variants: Sequence, spec: TrainSpec, device: torch.device | str = "cpu") -> None:
    """Raise :class:`VectorizeError` (naming the model and why) if these variants cannot train as a pack."""
    PackTrainer(variants[:2], spec, torch.device(device))


class PackTrainer:
    """A pack's stacked model, stacked optimizer and per-variant schedules; :meth:`run` trains it.

    Args:
        variants: the pack (``lr``, ``optimizer``, ``scheduler``, ``seed``, ``id`` as in ``plan.Variant``).
        spec: what the variants share.
        device: where the data lives and the pack trains.
        path: ``auto`` (fast path when the architecture allows), ``fast`` or ``vmap``.
    """

    def __init__(self, variants: Sequence, spec: TrainSpec, device: torch.device, path: str = "auto"):
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {path!r}")
        try:
            spec = spec_for(spec, variants)  # the pack's batch size, when batch size is a sweep axis
        except ValueError as exc:
            raise VectorizeError(str(exc)) from None
        self.variants, self.spec, self.device = list(variants), spec, torch.device(device)
        names = {v.optimizer.name.lower() for v in self.variants}
        if len(names) != 1:
            raise VectorizeError(f"a pack needs one optimizer, got {sorted(names)}")
        if not supports(next(iter(names))):
            raise VectorizeError(
                f"optimizer '{self.variants[0].optimizer.name}' has no stacked update "
                f"(packs support {', '.join(STACKED_NAMES)})"
            )
        torch.manual_seed(self.variants[0].seed)  # as the sequential engine: dropout draws from here
        if self.device.type == "cpu":
            keep_freed_memory()
        self.model = stack_pack(self.variants, spec, self.device, path)
        self.rng = checkpoint.rng_state(self.device)  # run() trains on this stream (dropout), see own_rng
        hparams = [{"lr": v.lr, **v.optimizer.options} for v in self.variants]
        self.optimizer = StackedOptimizer(names.pop(), self.model.params, hparams)
        self.amp = PackAmp(spec.precision, self.device, len(self.variants), spec.grad_clip)
        if self.amp.precision != "32" and not self.model.autocast_ok:
            raise VectorizeError(
                f"model '{spec.model_name}' stacks through torch.func.vmap, which autocast does "
                f"not reach into, so {self.amp.precision} trains it one variant at a time"
            )
        self.forward = maybe_compile(self.model.forward, spec.compile, self.device)  # the training pass only
        self.alive = list(range(len(self.variants)))  # pack position -> variant index
        self.alive_index = torch.arange(len(self.variants), device=self.device)
        # per pack position: batches since its loss first went non-finite (0 while finite), on the device
        self.bad_batches = torch.zeros(len(self.variants), dtype=torch.int64, device=self.device)
        self.results: list[VariantResult] | None = None  # set by the first run()
        self.batches: ResidentBatches | StreamedBatches | None = None  # the batch source, made by the first run()
        self.batches_state: dict | None = None  # a checkpoint's batch orders, for the batch source
        self.epochs_run = 0
        self.reference: list[float] | None = None  # set by the first batch

    @property
    def _results(self) -> list[VariantResult]:
        """``results``, once the pack has started (the first run(), or restore())."""
        assert self.results is not None, "the pack has not started: run() or restore() first"
        return self.results

    @property
    def _batches(self) -> ResidentBatches | StreamedBatches:
        """``batches``, once the first run() has made the batch source."""
        assert self.batches is not None, "no batch source yet: the first run() makes it"
        return self.batches

    def state_dict(self, i: int) -> dict[str, Tensor]:
        """Variant ``i``'s current parameters (as its own module's state_dict), while it is in the pack."""
        return self.model.variant_state(self.alive.index(i))

    def run(self, train, evaluation, callbacks=None, test=None, until: int | None = None) -> list[VariantResult]:
        """Train up to epoch ``until`` (default: ``spec.epochs``); a later call carries on from there.

        ``test`` is scored once the last epoch is reached. See :func:`train_pack`.
        """
        callbacks = callbacks or NoCallbacks()
        x, y = train
        if self.results is None:
            self._start(len(x), x.device)
        if self.batches is None:  # one source per pack (orders and augmentation), restored from a checkpoint
            self.batches = as_batches(train, [v.seed for v in self.variants], self.spec)
            if self.batches_state is not None:
                self.batches.load_state_dict(self.batches_state)
        last = self.spec.epochs if until is None else min(until, self.spec.epochs)
        with checkpoint.own_rng(self, self.device):
            while self.epochs_run < last and self.alive:
                self.epochs_run += 1
                self._epoch(self.epochs_run, self._batches.epoch(), evaluation, callbacks)
        results = self._results
        if test is not None and self.alive and self.epochs_run >= self.spec.epochs:
            for i, (loss, acc, further) in zip(self.alive, self._evaluate(*test)):
                results[i].test_loss, results[i].test_acc = loss, acc
                results[i].test_metrics = prefixed("test", further)
        return results  # each variant's seconds: the sum of its epochs' shares (_epoch), as in metrics.csv

    def stop(self, variant_ids, status: str) -> None:
        """Take variants out of the pack for good (e.g. pruned at a rung) with ``status``; the rest train on."""
        position = {v.id: i for i, v in enumerate(self.variants)}
        self._drop([position[vid] for vid in variant_ids if position[vid] in self.alive], status)

    def _start(self, n_rows: int, device: torch.device) -> None:
        from lrsweep.optim.schedulers import ScheduleDriver

        n_steps = steps_per_epoch(n_rows, self.spec.batch_size)
        self.drivers = [
            ScheduleDriver(v.scheduler, p, self.spec.epochs, n_steps, v.lr)
            for v, p in zip(self.variants, self.optimizer.proxy_optimizers())
        ]
        self.optimizer.read_proxies()
        self.results = [VariantResult(v.id, STATUS_DONE) for v in self.variants]
        self.frozen: dict[int, dict[str, Tensor]] = {}

    # ---- one epoch ----

    def _epoch(self, epoch, batches, evaluation, callbacks) -> None:
        t0 = time.perf_counter()
        members = list(self.alive)
        lrs = dict(zip(members, self.optimizer.lr))
        stats = EpochStats(len(self.variants), self.device, self.spec.loss)
        for b, batch in enumerate(batches):
            if not self.alive:
                break
            self._batch(*self._rows(batch), stats)
            if b % DIVERGENCE_CHECK_EVERY == DIVERGENCE_CHECK_EVERY - 1:
                self._drop_diverged()
        self._drop_diverged()
        scores = dict(zip(self.alive, self._evaluate(*evaluation))) if evaluation and self.alive else {}
        share = (time.perf_counter() - t0) / len(members)
        nan = float("nan") if evaluation else None
        stopped = []
        for i in members:
            train_loss, train_acc = stats.mean(i)
            val_loss, val_acc, further = scores.get(i, (nan, nan, {})) if evaluation else (None, None, {})
            record = EpochRecord(epoch, lrs[i], train_loss, train_acc, val_loss, val_acc, share)
            record.metrics = prefixed("val", further)
            result = self._results[i]
            result.epochs.append(record)
            result.seconds += share  # its time: the sum of its epochs' shares, as in metrics.csv
            callbacks.on_epoch(self.variants[i].id, record)
            assert self.reference is not None, "the epoch's first batch sets it"
            blown = diverged(train_loss, self.reference[i]) or diverged(val_loss, self.reference[i])
            if i in self.alive and blown:
                self._drop([i])
            elif i in self.alive and epoch < self.spec.epochs and evaluation:
                result.stopped_early = should_stop(result.epochs, self.spec.early_stopping)
                stopped += [i] if result.stopped_early else []
        if stopped:  # early stopping: these end done here, frozen as diverged ones are; the others train on
            self._drop(stopped, STATUS_DONE)
        for i in self.alive:
            self.drivers[i].after_epoch(scores[i][0] if evaluation else stats.mean(i)[0])
        self.optimizer.read_proxies()
        self._report_checkpoint(callbacks)

    def _rows(self, batch) -> tuple[Tensor, Tensor, bool]:
        """The batch as the live variants see it: ``[B, ...]`` shared by one seed, else ``[K, B, ...]``."""
        seeds = [self.variants[i].seed for i in self.alive]
        if len(set(seeds)) == 1:
            return (*batch.get(seeds[0]), True)
        return (*batch.stacked(seeds), False)

    def _batch(self, xb: Tensor, yb: Tensor, shared: bool, stats: EpochStats) -> None:
        """One step of every live variant, without a host sync; a variant whose loss is not finite freezes."""
        with self.amp.autocast():
            out = self.forward(xb, shared)
            losses = variant_losses(out, yb, shared, self.spec.loss, options=self.spec.loss_options)
        if self.reference is None:  # the loss at initialisation, per variant (see engine.common.diverged)
            self.reference = losses.detach().tolist()
        self.bad_batches += ((self.bad_batches > 0) | ~torch.isfinite(losses.detach())).long()
        keep = self.bad_batches == 0
        for p in self.model.params:
            p.grad = None
        # torch.where, not a product: 0 * NaN is NaN, and would poison the whole pack's gradients
        torch.where(keep, self.amp.scaled(losses), torch.zeros_like(losses)).sum().backward()
        active = self.amp.unscale_and_clip(self.model.params, keep)  # fp16: a host sync per step
        for pos, i in enumerate(self.alive):
            if self.drivers[i].per_step:
                self._results[i].lr_steps.append(self.optimizer.hp["lr"][pos])
        if active is not None:  # fp16: a variant whose gradients overflowed skips this step, as with GradScaler
            self.optimizer.step(active=active)
        elif self.device.type == "cpu" and bool(keep.all()):  # on the CPU a look costs nothing: skip the copy-back
            self.optimizer.step()
        else:
            self.optimizer.step(keep=keep)
        for i in self.alive:  # a frozen variant's schedule moves on as a finite one's would; it is dropped soon
            self.drivers[i].after_batch()
        if any(d.per_step for d in self.drivers):
            self.optimizer.read_proxies()
        counted = self.bad_batches <= 1  # a frozen variant's epoch stats end with the batch that diverged
        stats.add(self.alive_index, counted, losses.detach(), out.detach(), yb, shared, yb.shape[0 if shared else 1])

    def _drop_diverged(self) -> None:
        """Drop the variants frozen since the last check (one host sync), as if each stopped where it diverged."""
        counts = self.bad_batches.tolist()
        diverged = [i for pos, i in enumerate(self.alive) if counts[pos]]
        for pos, i in enumerate(self.alive):
            if counts[pos] > 1 and self.drivers[i].per_step:  # lr_steps end with the batch that diverged
                del self._results[i].lr_steps[-(counts[pos] - 1) :]
        if diverged:
            self._drop(diverged)

    def _drop(self, dropped: list[int], status: str = STATUS_DIVERGED) -> None:
        """Freeze variants out of the pack for good (they diverged, or were stopped); the others keep training."""
        for i in dropped:
            self._results[i].status = status
            self.frozen[i] = self.state_dict(i)
        keep = [pos for pos, i in enumerate(self.alive) if i not in dropped]
        self.alive = [self.alive[pos] for pos in keep]
        self.alive_index = torch.tensor(self.alive, dtype=torch.long, device=self.device)
        self.bad_batches = self.bad_batches[torch.tensor(keep, dtype=torch.long, device=self.device)]
        if keep:
            self.amp.compact(torch.tensor(keep, dtype=torch.long, device=self.device))
            self.model.compact(keep)
            self.optimizer.compact(keep, self.model.params)

    # ---- checkpoints (see lrsweep.engine.checkpoint)

    def _report_checkpoint(self, callbacks) -> None:
        if self.alive and self.epochs_run < self.spec.epochs:
            checkpoint.report(callbacks, [v.id for v in self.variants], self.checkpoint_state)

    def checkpoint_state(self) -> dict:
        """Everything the next epoch depends on, as CPU copies: stacked weights and optimizer state, every
        variant's schedule (proxy optimizer + driver), RNG and batch orders, records, who is still in."""
        opt = self.optimizer
        return checkpoint.to_cpu(
            {
                "format": checkpoint.STATE_FORMAT,
                "kind": "pack",
                "variant_ids": [v.id for v in self.variants],
                "n_rows": self._batches.n,
                "epochs_run": self.epochs_run,
                "alive": list(self.alive),
                "bad_batches": self.bad_batches,
                "params": list(self.model.params),
                "buffers": list(getattr(self.model, "buffers", [])),
                "optimizer": {
                    "state": opt.state,
                    "hp": opt.hp,
                    "steps": opt.steps,
                    "started": opt.started,
                    "scalar_state": opt.scalar_state,
                },  # NAdam's mu_product
                "amp": {"scale": self.amp.scale, "growth": self.amp.growth},  # per-variant fp16 loss scales
                "proxies": [d.optimizer.state_dict() for d in self.drivers],
                "drivers": [checkpoint.driver_state(d) for d in self.drivers],
                "frozen": dict(self.frozen),
                "results": [checkpoint.result_state(r) for r in self._results],
                "reference": self.reference,  # the divergence rule's losses at initialisation
                "rng": checkpoint.rng_state(self.device),
                "orders": self._batches.state_dict(),
            }
        )

    def restore(self, state: dict) -> None:
        """Carry on from ``state`` (of exactly this pack, by :meth:`checkpoint_state`); ValueError if it is not."""
        checkpoint.check_state(state, "pack", [v.id for v in self.variants])
        device = self.device
        self._start(state["n_rows"], device)
        for driver, proxy, drive in zip(self.drivers, state["proxies"], state["drivers"]):
            driver.optimizer.load_state_dict(proxy)
            checkpoint.set_driver_state(driver, drive)
        alive = list(state["alive"])
        if alive and alive != list(range(len(self.variants))):
            self.model.compact(alive)
            self.optimizer.compact(alive, self.model.params)
            self.amp.compact(torch.tensor(alive, dtype=torch.long, device=device))
        self.alive = alive
        self.alive_index = torch.tensor(alive, dtype=torch.long, device=device)
        with torch.no_grad():
            for p, saved in zip(
                list(self.model.params) + list(getattr(self.model, "buffers", [])),
                list(state["params"]) + list(state["buffers"]),
            ):
                p.copy_(saved)
        opt = self.optimizer
        opt.state = checkpoint.to_device(state["optimizer"]["state"], device)
        opt.hp = dict(state["optimizer"]["hp"])
        opt.steps, opt.started = list(state["optimizer"]["steps"]), list(state["optimizer"]["started"])
        opt.scalar_state = {n: list(v) for n, v in state["optimizer"].get("scalar_state", opt.scalar_state).items()}
        if "amp" in state:
            self.amp.scale, self.amp.growth = state["amp"]["scale"].to(device), state["amp"]["growth"].to(device)
        opt._cache.clear()
        self.bad_batches = state["bad_batches"].to(device)
        self.frozen = {int(i): sd for i, sd in state["frozen"].items()}
        self.results = [checkpoint.result_from_state(r) for r in state["results"]]
        self.reference = state.get("reference")
        self.epochs_run = state["epochs_run"]
        self.batches_state = state["orders"]  # applied when the batch source is made (run() has the data)
        if self.batches is not None:
            self.batches.load_state_dict(self.batches_state)
        self.rng = state["rng"]

    @torch.no_grad()
    def _evaluate(self, x: Tensor, y: Tensor) -> list[tuple[float, float | None, dict[str, float]]]:
        """Per-variant loss, accuracy and train.metrics over a split, as :func:`lrsweep.engine.common.evaluate_all`."""
        k, spec = len(self.alive), self.spec
        classification = is_classification(spec.loss)
        if len(x) == 0:
            return [(float("nan"), None, {})] * k
        self.model.train(False)
        total = torch.zeros(k, device=x.device, dtype=torch.float64)
        correct = torch.zeros(k, device=x.device, dtype=torch.int64)
        scores = Scores(spec.metrics, k, spec.loss, spec.classes)
        chunk = max(256, min(EVAL_CHUNK, EVAL_ROWS_TIMES_VARIANTS // k))  # the sequential engine's, up to K=4
        for start in range(0, len(x), chunk):
            out = self.model.forward(x[start : start + chunk], True)
            target = y[start : start + chunk]
            total += variant_losses(out, target, True, spec.loss, reduction="sum", options=spec.loss_options)
            if classification:
                correct += (predicted_class(out, spec.loss) == target).sum(dim=1)
            scores.add(out, target)
        self.model.train(True)
        n = len(x) * (1 if classification else y[0].numel())
        means = (total / n).tolist()
        accs = (correct.double() / len(x)).tolist() if classification else [None] * k
        return list(zip(means, accs, scores.result()))
