"""Batch sources: where a trainer's training batches come from, one epoch at a time.

A trainer (one variant, or a pack) gets one source for its seeds. Each epoch yields one
:class:`Batch` per step; ``batch.get(seed)`` is that seed's rows (in the order the seed's
:func:`~lrsweep.engine.common.batch_orders` permutation gives), augmented once per seed, so every
variant of a pack trains on the same batch and a variant alone sees what it would in a pack.

- :class:`ResidentBatches`: tensors on the device, each batch an index slice (the fast path).
- :class:`StreamedBatches`: a map-style Dataset through ONE DataLoader per source (so the data
  pipeline is paid once per pack): a batch sampler yields each step's rows of every seed together.

Sources keep their state in torch Generators: :meth:`state_dict` / :meth:`load_state_dict` capture it.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from lrsweep.data.streamed import DatasetColumn, Rows
from lrsweep.engine.augment import Augmenter


class Batch:
    """One training step's rows for each seed, fetched (and augmented) on first use, then kept.

    ``gather`` (resident rows, no augmentation) serves :meth:`stacked` as ONE index gather.
    """

    def __init__(
        self,
        fetch: Callable[[int], tuple[Tensor, Tensor]],
        gather: Callable[[Sequence[int]], tuple[Tensor, Tensor]] | None = None,
    ):
        self._fetch, self._gather = fetch, gather
        self._seen: dict[int, tuple[Tensor, Tensor]] = {}

    def get(self, seed: int) -> tuple[Tensor, Tensor]:
        if seed not in self._seen:
            self._seen[seed] = self._fetch(seed)
        return self._seen[seed]

    def stacked(self, seeds: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Inputs ``[K, B, ...]`` and targets ``[K, B, ...]``: row k is seed ``seeds[k]``'s batch (one per variant)."""
        if self._gather is not None:
            return self._gather(seeds)
        parts = [self.get(s) for s in seeds]  # each seed's rows fetched (augmented) once, then one stack
        return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])


class _Source:
    """What both sources share: one batch order and one augmentation stream per seed."""

    def __init__(self, n: int, seeds: Sequence[int], batch_size: int, augment, device: torch.device):
        self.n, self.batch_size, self.device = n, batch_size, torch.device(device)
        self.seeds = list(dict.fromkeys(seeds))
        self.orders = {s: torch.Generator(device="cpu").manual_seed(s) for s in self.seeds}  # as batch_orders
        active = augment is not None and augment.active
        self.augmenters = {s: Augmenter(augment, s, self.device) for s in self.seeds} if active else {}

    def _permutations(self, device) -> dict[int, Tensor]:
        """Each seed's next epoch order: the permutation ``batch_orders(n, seed)`` yields next."""
        return {s: torch.randperm(self.n, generator=g).to(device) for s, g in self.orders.items()}

    def _augmented(self, seed: int, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        augmenter = self.augmenters.get(seed)
        return (augmenter(x) if augmenter else x), y

    def state_dict(self) -> dict:
        return {
            "orders": {s: g.get_state() for s, g in self.orders.items()},
            "augment": {s: a.state() for s, a in self.augmenters.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        for s, g in self.orders.items():
            g.set_state(state["orders"][s])
        for s, a in self.augmenters.items():
            a.load_state(state["augment"][s])


class ResidentBatches(_Source):
    """Rows held as tensors on the device; a batch is ``x[index]`` for each seed's slice of its order."""

    def __init__(self, x: Tensor, y: Tensor, seeds: Sequence[int], batch_size: int, augment=None):
        super().__init__(len(x), seeds, batch_size, augment, x.device)
        self.x, self.y = x, y

    def epoch(self) -> Iterator[Batch]:
        """This epoch's batches (the orders are drawn now, before the first batch is taken)."""
        return self._batches(self._permutations(self.x.device))

    def _batches(self, perms: dict[int, Tensor]) -> Iterator[Batch]:
        for start in range(0, self.n, self.batch_size):

            def fetch(seed: int, start=start) -> tuple[Tensor, Tensor]:
                index = perms[seed][start : start + self.batch_size]
                return self._augmented(seed, self.x[index], self.y[index])

            def gather(seeds: Sequence[int], start=start) -> tuple[Tensor, Tensor]:
                index = torch.stack([perms[s][start : start + self.batch_size] for s in seeds])  # [K, B]
                return self.x[index], self.y[index]

            yield Batch(fetch, None if self.augmenters else gather)


class _SeedsBatchSampler(Sampler):
    """Each step's indices of every seed, concatenated (one loader serves the whole pack)."""

    def __init__(self, n: int, batch_size: int):
        self.n, self.batch_size = n, batch_size
        self.perms: list[Tensor] = []

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self):
        perms = self.perms  # this epoch's, whenever the next epoch sets its own
        for start in range(0, self.n, self.batch_size):
            yield torch.cat([p[start : start + self.batch_size] for p in perms]).tolist()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_signals_held():
    """Hold Ctrl-C / SIGTERM while DataLoader workers fork: the KeyboardInterrupt the CLI's handler raises
    would be swallowed (printed, ignored) if it landed in a fork hook; held, it arrives right after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _worker_init(_worker_id: int) -> None:
    """A DataLoader worker takes the stop signals again (it was forked while they were held)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


class StreamedBatches(_Source):
    """A Dataset's samples through one DataLoader (workers, pinned memory), moved to the device per batch.

    Args:
        rows: the training Dataset (a ``Subset``) and the device batches go to.
        num_workers: DataLoader worker processes; 0 inside a daemonic process (a ``--devices`` worker),
            which may not start children.
    """

    def __init__(self, rows: Rows, seeds: Sequence[int], batch_size: int, augment=None, num_workers: int = 0):
        super().__init__(len(rows), seeds, batch_size, augment, rows.device)
        self.rows = rows
        self.sampler = _SeedsBatchSampler(self.n, batch_size)
        workers = 0 if multiprocessing.current_process().daemon else num_workers
        pin = self.device.type == "cuda"
        self.loader = DataLoader(
            rows.dataset,
            batch_sampler=self.sampler,
            num_workers=workers,
            collate_fn=rows.collate,
            pin_memory=pin,
            persistent_workers=workers > 0,
            worker_init_fn=_worker_init if workers else None,
        )

    def epoch(self) -> Iterator[Batch]:
        self.sampler.perms = list(self._permutations("cpu").values())
        with _stop_signals_held():
            loaded = iter(self.loader)  # starts the workers (once: they persist) and their first batches
        return self._batches(loaded)

    def _batches(self, loaded) -> Iterator[Batch]:
        for x, y in loaded:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            size = len(y) // len(self.seeds)
            parts = dict(zip(self.seeds, zip(x.split(size), y.split(size))))

            def fetch(seed: int, parts: dict[int, tuple[Tensor, Tensor]] = parts) -> tuple[Tensor, Tensor]:
                return self._augmented(seed, *parts[seed])

            yield Batch(fetch)


def as_batches(train, seeds: Sequence[int], spec) -> ResidentBatches | StreamedBatches:
    """The source for ``train`` (``(x, y)`` tensors, or the columns of a streamed split) and these seeds."""
    x, y = train
    augment = getattr(spec, "augment", None)
    if isinstance(x, DatasetColumn):
        return StreamedBatches(x.rows, seeds, spec.batch_size, augment, getattr(spec, "num_workers", 0))
    return ResidentBatches(x, y, seeds, spec.batch_size, augment)
