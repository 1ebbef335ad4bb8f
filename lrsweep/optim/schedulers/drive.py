"""Stepping: :class:`ScheduleDriver`, the one place that calls ``.step()``, and :func:`preview`, which drives it dry."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lrsweep.optim.schedulers.resolve import build_scheduler, resolve_params
from lrsweep.optim.schedulers.spec import SchedulerSpec


class ScheduleDriver:
    """Owns when ``.step()`` is called: the ONLY place that steps torch schedulers.

    Per-step schedules step after every optimizer step, epoch schedules (and ReduceLROnPlateau, on
    the metric) after every epoch. The step after the run's last batch/epoch is skipped (its LR
    would never be used), so :attr:`lr` ends as the LR of the last step. Calling past the planned
    epochs x steps_per_epoch raises RuntimeError: the plan the defaults were derived from is wrong.

    Args:
        spec: the parsed schedule.
        optimizer: a fresh optimizer (its param groups' ``lr`` is where the schedule starts).
        epochs: epochs the run trains.
        steps_per_epoch: optimizer steps per epoch (``len(loader)``).
        lr: the variant's learning rate (for derived defaults such as OneCycleLR's max_lr).
    """

    def __init__(
        self, spec: SchedulerSpec, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int, lr: float
    ):
        self.spec = spec
        self.optimizer = optimizer
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.params = resolve_params(spec, lr, epochs, steps_per_epoch)
        self.scheduler = build_scheduler(spec, self.params, optimizer, steps_per_epoch)
        self.batches_done = 0
        self.epochs_done = 0

    @property
    def per_step(self) -> bool:
        return self.spec.interval == "step"

    @property
    def lr(self) -> float:
        """The current LR of param group 0: what the next optimizer step will use."""
        return float(self.optimizer.param_groups[0]["lr"])

    def after_batch(self) -> None:
        """Call after every ``optimizer.step()``."""
        self.batches_done += 1
        planned = self.epochs * self.steps_per_epoch
        if self.batches_done > planned:
            raise RuntimeError(
                f"after_batch called {self.batches_done} times, but the schedule was planned for "
                f"{self.epochs} epochs x {self.steps_per_epoch} steps = {planned}"
            )
        if self.scheduler is not None and self.per_step and self.batches_done < planned:
            self.scheduler.step()

    def after_epoch(self, metric: float | None = None) -> None:
        """Call at the end of each epoch; ``metric`` (val loss, else train loss) drives ReduceLROnPlateau."""
        self.epochs_done += 1
        if self.epochs_done > self.epochs:
            raise RuntimeError(f"after_epoch called {self.epochs_done} times for a {self.epochs}-epoch schedule")
        if self.scheduler is None or self.epochs_done == self.epochs:
            return
        if self.spec.type == "reducelronplateau":
            if metric is None:
                raise ValueError("reducelronplateau needs the epoch's metric (validation or training loss)")
            self.scheduler.step(metric)
        elif not self.per_step:
            self.scheduler.step()


PLATEAU_NOTE = "preview assumes a flat metric: the LR drops by factor every patience+1 epochs (+ cooldown)"


@dataclass
class Preview:
    """The LR a schedule gives at every epoch and every optimizer step, with what it resolved to."""

    spec: SchedulerSpec
    params: dict  # resolved
    epoch_lrs: list[float]  # LR during each epoch (its LR at the start)
    step_lrs: list[float]  # LR at each optimizer step; len = epochs x steps_per_epoch
    note: str | None = None  # e.g. the flat-metric assumption for ReduceLROnPlateau

    @property
    def final_lr(self) -> float:
        return self.step_lrs[-1]


def preview(spec: SchedulerSpec, lr: float, epochs: int, steps_per_epoch: int) -> Preview:
    """Drive the real scheduler on a throwaway optimizer (one dummy parameter, no data)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
    driver = ScheduleDriver(spec, optimizer, epochs, steps_per_epoch, lr)
    epoch_lrs: list[float] = []
    step_lrs: list[float] = []
    for _ in range(epochs):
        epoch_lrs.append(driver.lr)
        if driver.per_step:
            for _ in range(steps_per_epoch):
                step_lrs.append(driver.lr)
                optimizer.step()  # no gradients: nothing moves, but torch sees the proper call order
                driver.after_batch()
        else:
            step_lrs.extend([driver.lr] * steps_per_epoch)
            optimizer.step()
        driver.after_epoch(1.0)  # a flat metric, for ReduceLROnPlateau
    note = PLATEAU_NOTE if spec.type == "reducelronplateau" else None
    return Preview(spec, driver.params, epoch_lrs, step_lrs, note)
