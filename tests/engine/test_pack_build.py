"""Building a pack: the sequential engine's models, stacked, and checked before any training."""

from __future__ import annotations

import pytest
import torch

from lrsweep.config import OptimizerConfig
from lrsweep.engine.common import TrainSpec
from lrsweep.engine.pack_build import keep_freed_memory, stack_pack
from lrsweep.errors import VectorizeError
from lrsweep.models import build_model
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

SPEC = TrainSpec("mlp", {"hidden": [16]}, (8,), 3, 2, 32, "cross_entropy")


def variants(seeds):
    return [Variant(0.1 * (i + 1), OptimizerConfig("sgd", {}), parse_scheduler(None), s) for i, s in enumerate(seeds)]


def test_each_variant_starts_from_the_weights_its_seed_gives_the_sequential_engine():
    stacked = stack_pack(variants([0, 0, 5]), SPEC, torch.device("cpu"), "auto")
    assert stacked.k == 3
    for k, seed in enumerate([0, 0, 5]):
        own = build_model("mlp", {"hidden": [16]}, (8,), 3, seed).state_dict()
        state = stacked.variant_state(k)
        assert all(torch.equal(state[name], own[name]) for name in state)


def test_whatever_stacking_raises_becomes_a_vectorize_error_naming_the_model():
    with pytest.raises(VectorizeError, match="model 'mlp' cannot be vectorized: ValueError: path must be one of"):
        stack_pack(variants([0, 1]), SPEC, torch.device("cpu"), "bogus")


def test_keeping_freed_memory_is_a_yes_or_no():
    assert keep_freed_memory() in (True, False)
