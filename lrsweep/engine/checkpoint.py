"""Trainer state as plain data: what a checkpoint holds, and how an engine hands it out.

An engine never touches files: at the end of each epoch a trainer (a variant's loop, or a pack) builds
its state with ``checkpoint_state()`` (CPU copies only: tensors, numbers, strings, lists, dicts — what
``torch.load(weights_only=True)`` reads back) and reports it through ``callbacks.on_checkpoint`` when the
callbacks have one. ``restore(state)`` on a freshly built trainer of the same variants carries on from
there, computing exactly what the uninterrupted trainer would have computed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch

from lrsweep.engine.common import EpochRecord, VariantResult

STATE_FORMAT = 1  # bumped when the state's layout changes; an older checkpoint is then ignored


def report(callbacks, variant_ids: list[str], build) -> None:
    """Hand ``build()``'s state to ``callbacks.on_checkpoint`` (built only when someone listens)."""
    listener = getattr(callbacks, "on_checkpoint", None)
    if listener is not None:
        state = build()
        state["threads"] = torch.get_num_threads()  # the order of float reductions depends on it
        listener(list(variant_ids), state)


def to_cpu(value: Any) -> Any:
    """A deep copy of ``value`` with every tensor detached, cloned and moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return value


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor moved to ``device`` (dtypes kept)."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def rng_state(device: torch.device) -> dict:
    """The global RNG streams dropout draws from (the CPU's, and the CUDA device's when training there)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@contextmanager
def own_rng(trainer, device: torch.device):
    """Train with the trainer's own RNG stream (``trainer.rng``): dropout masks then depend only on the
    variant's seed, not on what other trainers in this process drew in between (successive halving
    interleaves them rung by rung)."""
    set_rng_state(trainer.rng, device)
    try:
        yield
    finally:
        trainer.rng = rng_state(device)


def driver_state(driver) -> dict:
    """A :class:`~lrsweep.optim.schedulers.ScheduleDriver`'s counters and its torch scheduler's state_dict."""
    scheduler = driver.scheduler.state_dict() if driver.scheduler is not None else None
    return {"batches_done": driver.batches_done, "epochs_done": driver.epochs_done, "scheduler": scheduler}


def set_driver_state(driver, state: dict) -> None:
    driver.batches_done, driver.epochs_done = state["batches_done"], state["epochs_done"]
    if driver.scheduler is not None and state["scheduler"] is not None:
        driver.scheduler.load_state_dict(state["scheduler"])


def result_state(result: VariantResult) -> dict:
    """A result as plain data (epoch records as dicts)."""
    plain = dict(result.__dict__)
    plain["epochs"] = [e.as_row() for e in result.epochs]
    plain["lr_steps"] = list(result.lr_steps)
    return plain


def result_from_state(state: dict) -> VariantResult:
    result = VariantResult(**{**state, "epochs": [EpochRecord.from_row(row) for row in state["epochs"]]})
    result.lr_steps = list(state["lr_steps"])
    return result


def check_state(state: dict, kind: str, variant_ids: list[str]) -> None:
    """Refuse (ValueError) a state not made by this kind of trainer for exactly these variants."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError("not a trainer state of this lrsweep version")
    if state.get("kind") != kind:
        raise ValueError(f"a {state.get('kind')} state cannot restore a {kind} trainer")
    if list(state.get("variant_ids", [])) != list(variant_ids):
        raise ValueError(f"the state is of variants {state.get('variant_ids')}, not {list(variant_ids)}")
