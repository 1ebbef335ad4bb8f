"""Building a pack: each variant's model exactly as the sequential engine builds it, stacked (the fast
path, resnet's grouped convolutions, or vmap) and checked on two rows before any training; and glibc
asked to keep a pack's large freed blocks instead of unmapping them after every batch.
"""

from __future__ import annotations

import ctypes

import torch

from lrsweep.engine.common import TrainSpec
from lrsweep.engine.stacked_base import StackedModel
from lrsweep.engine.stacked_models import stack_models
from lrsweep.errors import VectorizeError
from lrsweep.models import build_model

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MB in the heap instead of returning them to the OS.

    A pack's activations are K times one model's: big enough that glibc serves each from fresh mmap'd
    pages and unmaps them when freed, so every batch pays a page fault per 4 kB touched (measured: a
    pack of 8 LeNets took 157k faults and 20% longer per epoch). Process-wide, idempotent and cheap;
    False where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**30))
    except (OSError, AttributeError):
        return False


def stack_pack(variants, spec: TrainSpec, device: torch.device, path: str) -> StackedModel:
    """Each variant's model exactly as the sequential engine builds it, stacked; a trial pass checks it."""
    by_seed = {}
    for v in variants:
        if v.seed not in by_seed:
            by_seed[v.seed] = (
                build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, v.seed)
                .to(device)
                .train()
            )
    try:
        stacked = stack_models([by_seed[v.seed] for v in variants], path)
        trial_pass(stacked, spec, device)
    except VectorizeError as exc:
        raise VectorizeError(f"model '{spec.model_name}' cannot be vectorized: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever vmap or the model raised: fall back, say why
        raise VectorizeError(
            f"model '{spec.model_name}' cannot be vectorized: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    return stacked


def trial_pass(stacked: StackedModel, spec: TrainSpec, device: torch.device) -> None:
    """A forward/backward on two rows, leaving no trace (RNG, buffers, gradients)."""
    x = torch.zeros(2, *spec.input_shape, device=device)
    buffers = [b.clone() for b in getattr(stacked, "buffers", [])]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        out = stacked.forward(x, True)
        expected = (stacked.k, 2, spec.output_size)
        if tuple(out.shape) != expected:
            raise VectorizeError(f"stacked output has shape {tuple(out.shape)}, expected {expected}")
        torch.autograd.grad(out.float().sum(), stacked.params, allow_unused=True)
    for b, saved in zip(getattr(stacked, "buffers", []), buffers):
        b.copy_(saved)
