"""Seeds in one pack: each variant keeps its own initial weights and batch order (a per-variant index gather),
and its numbers equal what it gets trained alone, to the tolerance of the other pack tests (test_vectorized.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsweep.config import AugmentConfig, OptimizerConfig
from lrsweep.engine.batches import Batch, ResidentBatches
from lrsweep.engine.common import STATUS_DONE, TrainSpec
from lrsweep.engine.loop import SequentialTrainer
from lrsweep.engine.vectorized import PackTrainer
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

RTOL, ATOL = 2e-5, 1e-6  # as test_vectorized.py: float32 sums of other shapes round differently by an ulp
AUGMENT = AugmentConfig(crop=2, flip=True, cutout=2)


def bn_cnn(input_shape, output_size):
    """A CNN with BatchNorm (through vmap: per-variant running statistics)."""
    c = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(c, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * (input_shape[1] // 2) * (input_shape[2] // 2), output_size),
    )


CASES = {  # name: model, options, input shape, augmentation, learning rates
    "mlp": ("mlp", {"hidden": [16]}, (8,), None, (0.01, 0.1)),
    "cnn-augment": ("cnn", {"channels": [4], "hidden": [8]}, (1, 8, 8), AUGMENT, (0.01, 0.1)),  # grouped convs
    "cnn-bn": (f"{__name__}:bn_cnn", {}, (1, 8, 8), None, (0.01, 0.1)),
    "cnn-bn-augment": (f"{__name__}:bn_cnn", {}, (1, 8, 8), AUGMENT, (0.01, 0.1)),
    # grouped convolutions (the stem too, when seeds differ), BatchNorm over K x C channels. Augmented, this tiny
    # ResNet on random 8x8 images amplifies the 1-ulp differences of a grouped stem's sums to ~1e-5 in the
    # weights within two epochs (gradients agree to 1e-6 at the first step), as at lr 0.1 a pack of one seed does
    "resnet": ("resnet", {"depth": 8}, (3, 8, 8), None, (0.003, 0.01)),
}


def data(shape, n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    return x, x.flatten(1)[:, :3].argmax(dim=1)


def lr_by_seeds(lrs=(0.01, 0.1), seeds=(0, 1, 2)):
    options = OptimizerConfig("sgd", {"momentum": 0.9})
    return [Variant(lr, options, parse_scheduler(None), seed) for lr in lrs for seed in seeds]


def assert_same_as_alone(variants, spec, train, val, pack, trainer):
    for i, (variant, result) in enumerate(zip(variants, pack)):
        alone_trainer = SequentialTrainer(variant, spec, train, val)
        alone = alone_trainer.run()
        assert (result.variant_id, result.status, len(result.epochs)) == (alone.variant_id, STATUS_DONE, spec.epochs)
        for a, b in zip(alone.epochs, result.epochs):
            for field in ("train_loss", "val_loss", "train_acc", "val_acc"):
                assert getattr(b, field) == pytest.approx(getattr(a, field), rel=RTOL, abs=ATOL), (variant.id, field)
        mine = trainer.state_dict(i)
        for name, tensor in alone_trainer.model.state_dict().items():
            if name in mine:  # parameters, and BatchNorm's running statistics where the stack keeps them
                torch.testing.assert_close(mine[name], tensor, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_pack_of_lrs_by_seeds_gives_each_variant_what_it_gets_alone(case):
    model, options, shape, augment, lrs = CASES[case]
    train, val = data(shape, 32 if model == "resnet" else 48, 1), data(shape, 32, 2)
    spec = TrainSpec(model, options, shape, 3, 2, 16, "cross_entropy", augment=augment)
    variants = lr_by_seeds(lrs)
    trainer = PackTrainer(variants, spec, torch.device("cpu"))
    pack = trainer.run(train, val)
    assert_same_as_alone(variants, spec, train, val, pack, trainer)
    by_seed = {v.seed: r.epochs[0].train_loss for v, r in zip(variants, pack) if v.lr == lrs[0]}
    assert len(set(by_seed.values())) == 3  # three seeds, three different trainings


def test_a_multi_seed_pack_gathers_each_variants_rows_at_once():
    """Resident, unaugmented rows: one ``x[index]`` with an index [K, B], the rows each seed's order gives."""
    x, y = data((8,), 50, 3)
    source = ResidentBatches(x, y, [0, 1, 2], batch_size=16)
    gathered, reference = next(iter(source.epoch())), next(iter(ResidentBatches(x, y, [0, 1, 2], 16).epoch()))
    assert gathered._gather is not None
    xs, ys = gathered.stacked([2, 0, 2, 1])
    assert xs.shape == (4, 16, 8) and ys.shape == (4, 16)
    for k, seed in enumerate([2, 0, 2, 1]):
        assert torch.equal(xs[k], reference.get(seed)[0]) and torch.equal(ys[k], reference.get(seed)[1])
    fetched = Batch(reference.get)  # no gather (augmented or streamed rows): one stack of each seed's rows
    assert torch.equal(fetched.stacked([2, 0, 2, 1])[0], xs)


def test_a_multi_seed_pack_resumed_from_its_checkpoint_ends_as_one_run_straight():
    shape, augment = (1, 8, 8), AUGMENT
    train, val = data(shape, 64, 1), data(shape, 32, 2)
    spec = TrainSpec(f"{__name__}:bn_cnn", {}, shape, 3, 3, 16, "cross_entropy", augment=augment)
    variants = lr_by_seeds(seeds=(0, 1, 2))
    straight = PackTrainer(variants, spec, torch.device("cpu"))
    expected = straight.run(train, val)
    first = PackTrainer(variants, spec, torch.device("cpu"))
    first.run(train, val, until=1)
    state = first.checkpoint_state()
    resumed = PackTrainer(variants, spec, torch.device("cpu"))
    resumed.restore(state)
    results = resumed.run(train, val)
    for a, b in zip(expected, results):
        assert [e.as_row() | {"seconds": 0} for e in a.epochs] == [e.as_row() | {"seconds": 0} for e in b.epochs]
    for i in range(len(variants)):
        for name, tensor in straight.state_dict(i).items():
            assert torch.equal(resumed.state_dict(i)[name], tensor), name
