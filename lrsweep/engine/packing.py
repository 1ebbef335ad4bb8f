"""Which variants train together, and how many fit on the device at once."""

from __future__ import annotations

import torch

from lrsweep.engine.common import TrainSpec
from lrsweep.engine.vectorized import EVAL_ROWS_TIMES_VARIANTS
from lrsweep.models import build_model

CPU_PACK_LIMIT = 16  # beyond this a CPU gains nothing from a bigger pack, and memory grows
MEMORY_HEADROOM = 0.5  # share of the free accelerator memory a pack may plan to use
BYTES_PER_FLOAT = 4
SEEDS_SHARE_PACKS = True  # False: one seed per pack everywhere, as before seeds shared packs (benchmarks/seed_packs.py)
# On a CPU, seeds apart: one seed's shared batch makes a pack's first layer one wide matrix product, which beats a
# product per member; seeds in one pack measured 0.84-0.94x as fast there (benchmarks/seed_packs.py). On an
# accelerator a pack saves passes and kernel launches, which seeds in one pack save too.
SEEDS_SHARE_CPU_PACKS = False


def group_packable(variants: list, by_seed: bool = False) -> list[list]:
    """Variants that may share a pack: same optimizer class and batch size, in order.

    Seeds share a pack (each variant keeps its own initial weights and batch order); ``by_seed`` keeps
    one seed per pack, for a model that draws random numbers (see :func:`draws_randomness`).
    """
    groups: dict[tuple, list] = {}
    for v in variants:
        key = (v.optimizer.name, v.seed if by_seed else None, getattr(v, "batch_size", None))
        groups.setdefault(key, []).append(v)
    return list(groups.values())


def draws_randomness(spec: TrainSpec) -> bool:
    """Whether the model's training pass draws from torch's global RNG (dropout, RReLU, ...).

    A pack draws such numbers once for all its members, from one seed's stream: what each member's own
    loop draws only when they share that seed. A model that fails this pass counts as random (the pack's
    own trial pass then says what is wrong).
    """
    with torch.random.fork_rng(devices=[]):
        try:
            model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed=0)
            before = torch.get_rng_state()
            with torch.no_grad():
                model.train()(torch.zeros(2, *spec.input_shape))
        except Exception:  # noqa: BLE001 - a user's model: whatever it raises, keep the cautious grouping
            return True
        return not torch.equal(before, torch.get_rng_state())


def seeds_apart(variants: list, spec: TrainSpec, device=None, share: bool | None = None) -> bool:
    """Whether these variants' packs keep one seed each: several seeds, and a CPU (see SEEDS_SHARE_CPU_PACKS) or a
    model that draws random numbers. ``share`` (a caller that measured which is faster here, as tune's finals do)
    replaces the device rule; a model that draws random numbers keeps its seeds apart still."""
    if len({v.seed for v in variants}) < 2:
        return False
    if share is not None:
        return not share or draws_randomness(spec)
    on_cpu = device is not None and torch.device(device).type == "cpu"
    return not SEEDS_SHARE_PACKS or (on_cpu and not SEEDS_SHARE_CPU_PACKS) or draws_randomness(spec)


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


def make_packs(variants: list, limit: int, by_seed: bool = False) -> list[list]:
    """Split each packable group into packs of at most ``limit``, balanced in size."""
    packs = []
    for group in group_packable(variants, by_seed):
        n_packs = -(-len(group) // max(1, limit))
        size = -(-len(group) // n_packs)
        packs += [group[i : i + size] for i in range(0, len(group), size)]
    return packs
