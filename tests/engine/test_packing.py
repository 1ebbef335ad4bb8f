"""How many variants a pack may hold, and which variants share one."""

from __future__ import annotations

import torch

from lrsweep.config import OptimizerConfig
from lrsweep.engine import packing
from lrsweep.engine.common import TrainSpec
from lrsweep.engine.vectorized import EVAL_ROWS_TIMES_VARIANTS
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

SPEC = TrainSpec("mlp", {"hidden": [16]}, (8,), 3, 1, 32, "cross_entropy")
CUDA = torch.device("cuda", 0)


def with_free_memory(monkeypatch, free: int) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))


def test_pack_size_follows_free_memory_less_the_evaluation_chunk(monkeypatch):
    per_variant, per_row = packing.variant_bytes(SPEC), packing.model_sizes(SPEC)[1] * packing.BYTES_PER_FLOAT
    evaluation = per_row * EVAL_ROWS_TIMES_VARIANTS
    assert packing.eval_bytes(SPEC) == evaluation
    for n in (1, 10, 100):
        with_free_memory(monkeypatch, evaluation + int(n * per_variant / packing.MEMORY_HEADROOM))
        assert packing.pack_limit(SPEC, CUDA) == n
    with_free_memory(monkeypatch, evaluation // 2)  # not even the evaluation fits: still one variant
    assert packing.pack_limit(SPEC, CUDA) == 1


def test_cpu_packs_have_a_fixed_limit():
    assert packing.pack_limit(SPEC, torch.device("cpu")) == packing.CPU_PACK_LIMIT


def _variant(lr, name="sgd", seed=0):
    return Variant(lr, OptimizerConfig(name, {}), parse_scheduler(None), seed)


def test_packs_share_optimizer_hold_every_seed_and_are_balanced():
    vs = [_variant(lr) for lr in (0.1, 0.2, 0.3, 0.4, 0.5)] + [_variant(0.1, "adam"), _variant(0.1, seed=1)]
    packs = packing.make_packs(vs, limit=4)
    assert [len(p) for p in packs] == [3, 3, 1]
    assert all(len({v.optimizer.name for v in p}) == 1 for p in packs)
    assert {v.seed for v in packs[1]} == {0, 1}


def test_by_seed_keeps_one_seed_per_pack():
    vs = [_variant(lr) for lr in (0.1, 0.2, 0.3, 0.4, 0.5)] + [_variant(0.1, "adam"), _variant(0.1, seed=1)]
    packs = packing.make_packs(vs, limit=4, by_seed=True)
    assert [len(p) for p in packs] == [3, 2, 1, 1]
    assert all(len({(v.optimizer.name, v.seed) for v in p}) == 1 for p in packs)


def test_seeds_stay_apart_only_for_a_model_that_draws_random_numbers(monkeypatch):
    two_seeds = [_variant(0.1, seed=0), _variant(0.1, seed=1)]
    assert not packing.draws_randomness(SPEC)
    assert not packing.seeds_apart(two_seeds, SPEC)
    dropout = TrainSpec("mlp", {"hidden": [16], "dropout": 0.1}, (8,), 3, 1, 32, "cross_entropy")
    assert packing.draws_randomness(dropout)
    assert packing.seeds_apart(two_seeds, dropout)
    assert not packing.seeds_apart(two_seeds[:1] * 2, dropout)  # one seed: nothing to keep apart
    monkeypatch.setattr(packing, "SEEDS_SHARE_PACKS", False)  # the old grouping (benchmarks/seed_packs.py)
    assert packing.seeds_apart(two_seeds, SPEC)


def test_seeds_share_a_pack_on_an_accelerator_and_keep_apart_on_a_cpu():
    from types import SimpleNamespace

    from lrsweep.engine.packing import seeds_apart

    variants = [SimpleNamespace(seed=s) for s in (0, 1)]
    spec = SimpleNamespace(model_name="linear", model_options={}, input_shape=(4,), output_size=2)
    assert seeds_apart(variants, spec, "cpu") and not seeds_apart(variants, spec, "cuda:0")
    assert not seeds_apart(variants[:1], spec, "cpu")  # one seed: nothing to keep apart
