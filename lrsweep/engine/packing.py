"""Which variants train together, and how many fit on the device at once."""

from __future__ import annotations

import torch

from lrsweep.engine.common import TrainSpec
from lrsweep.engine.vectorized import EVAL_ROWS_TIMES_VARIANTS
from lrsweep.models import build_model

CPU_PACK_LIMIT = 16  # beyond this a CPU gains nothing from a bigger pack, and memory grows
MEMORY_HEADROOM = 0.5  # share of the free accelerator memory a pack may plan to use
BYTES_PER_FLOAT = 4


def group_packable(variants: list) -> list[list]:
    """Variants that may share a pack: same optimizer class, seed and batch size (so one shared batch), in order."""
    groups: dict[tuple, list] = {}
    for v in variants:
        groups.setdefault((v.optimizer.name, v.seed, getattr(v, "batch_size", None)), []).append(v)
    return list(groups.values())


def model_sizes(spec: TrainSpec) -> tuple[int, int]:
    """One model's parameter count and activation count per input row (every leaf module's output)."""
    model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed=0)
    n_params = sum(p.numel() for p in model.parameters())
    activations = 0

    def count(_module, _inputs, output):
        nonlocal activations
        if isinstance(output, torch.Tensor):
            activations += output.numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.zeros(1, *spec.input_shape))
    for hook in hooks:
        hook.remove()
    return n_params, activations


def variant_bytes(spec: TrainSpec) -> int:
    """A generous estimate of one variant's training memory: weights, gradients, two optimizer
    states and the activations of one batch (kept for backward), all float32."""
    n_params, activations = model_sizes(spec)
    return BYTES_PER_FLOAT * (4 * n_params + 2 * activations * spec.batch_size)


def eval_bytes(spec: TrainSpec) -> int:
    """The activations of a pack's evaluation chunk at its largest (``EVAL_ROWS_TIMES_VARIANTS`` rows)."""
    return BYTES_PER_FLOAT * model_sizes(spec)[1] * EVAL_ROWS_TIMES_VARIANTS


def pack_limit(spec: TrainSpec, device: torch.device) -> int:
    """How many variants one pack may hold on ``device``: on CUDA, what the free memory (less the
    evaluation chunk's) allows."""
    if device.type != "cuda":
        return CPU_PACK_LIMIT
    free, _total = torch.cuda.mem_get_info(device)
    return max(1, int((free - eval_bytes(spec)) * MEMORY_HEADROOM // variant_bytes(spec)))


def make_packs(variants: list, limit: int) -> list[list]:
    """Split each packable group into packs of at most ``limit``, balanced in size."""
    packs = []
    for group in group_packable(variants):
        n_packs = -(-len(group) // max(1, limit))
        size = -(-len(group) // n_packs)
        packs += [group[i : i + size] for i in range(0, len(group), size)]
    return packs
