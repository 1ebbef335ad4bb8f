"""Device-side augmentation: crop/flip/cutout correctness on hand-made images, seeding, packs, config."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lrsweep.config import AugmentConfig, parse_config
from lrsweep.engine.augment import Augmenter, augment, check_augment, cutout, random_crop, random_flip
from lrsweep.engine.batches import ResidentBatches
from lrsweep.engine.common import TrainSpec
from lrsweep.engine.loop import train_variant
from lrsweep.engine.vectorized import train_pack
from lrsweep.errors import ConfigError
from lrsweep.sweep.plan import expand


def _images(b=64, c=3, h=8, w=6):
    """Every pixel distinct and non-zero, so a window or a mirror image can be recognised exactly."""
    return (torch.arange(b * c * h * w, dtype=torch.float32) + 1).view(b, c, h, w)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(5, 3, 32, 32), (5, 1, 28, 28), (5, 2, 7, 4)])
def test_every_op_keeps_the_shape_and_dtype_of_any_image_size(shape):
    x = torch.randn(shape)
    for out in (
        random_crop(x, 4, _gen()),
        random_flip(x, _gen()),
        cutout(x, 3, _gen()),
        augment(x, AugmentConfig(crop=2, flip=True, cutout=2), _gen()),
    ):
        assert out.shape == x.shape and out.dtype == x.dtype


def test_crop_is_a_window_of_the_zero_padded_image_at_every_offset():
    x, pad = _images(), 2
    out = random_crop(x, pad, _gen(3))
    padded = F.pad(x, (pad,) * 4)
    h, w = x.shape[2:]
    offsets = set()
    for i in range(len(x)):
        match = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + h, dx : dx + w])
        ]
        assert len(match) == 1, f"image {i} is not a window of its padded self"
        offsets.add(match[0])
    assert len(offsets) > 10  # 64 images spread over the 25 offsets
    assert (out == 0).any()  # some windows reach into the zero padding


def test_flip_mirrors_left_right_about_half_the_images():
    x = _images()
    out = random_flip(x, _gen(1))
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))]
    assert all(f or torch.equal(out[i], x[i]) for i, f in enumerate(flipped))
    assert 16 < sum(flipped) < 48
    assert torch.equal(x[0].flip(-1)[0, 0], x[0, 0, 0].flip(0))  # the last column comes first


def test_cutout_zeroes_one_square_clipped_at_the_borders():
    x, size = _images(h=10, w=10), 4
    out = cutout(x, size, _gen(2))
    for i in range(len(x)):
        zero = (out[i] == 0).all(dim=0)  # every channel of a pixel, together
        assert torch.equal(out[i][:, ~zero], x[i][:, ~zero])  # the rest untouched
        rows, cols = zero.any(dim=1).nonzero().flatten(), zero.any(dim=0).nonzero().flatten()
        assert 1 <= len(rows) <= size and 1 <= len(cols) <= size
        assert zero[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a filled rectangle
        assert zero.sum() == len(rows) * len(cols)
    assert any((out[i] == 0).all(dim=0).sum() == size * size for i in range(len(x)))


def test_same_seed_same_augmentation_other_seed_other():
    x, config = torch.randn(32, 3, 8, 8), AugmentConfig(crop=2, flip=True, cutout=3)
    a, b, c = Augmenter(config, 5, "cpu"), Augmenter(config, 5, "cpu"), Augmenter(config, 6, "cpu")
    first = a(x)
    assert torch.equal(first, b(x)) and not torch.equal(first, c(x))
    assert not torch.equal(a(x), first)  # the stream moves on batch by batch
    state = a.state()
    again = a(x)
    a.load_state(state)
    assert torch.equal(a(x), again)  # state capturable for checkpoints


def test_a_batch_is_augmented_once_per_seed_and_shared():
    x, y = torch.randn(40, 1, 6, 6), torch.arange(40)
    source = ResidentBatches(x, y, [0, 0, 1], batch_size=16, augment=AugmentConfig(crop=1, flip=True))
    batch = next(source.epoch())
    assert batch.get(0)[0] is batch.get(0)[0]  # every variant of seed 0 gets this very tensor
    assert not torch.equal(batch.get(0)[0], batch.get(1)[0])
    plain = next(ResidentBatches(x, y, [0], batch_size=16).epoch()).get(0)
    assert not torch.equal(batch.get(0)[0], plain[0])  # augmented
    assert torch.equal(batch.get(0)[1], plain[1])  # the same rows, in the seed's order


def _spec(augment):
    return TrainSpec("cnn", {"channels": [4], "hidden": [16]}, (1, 8, 8), 3, 2, 16, "cross_entropy", augment=augment)


def _variants(lrs, seed=0):
    config = parse_config(
        {"seed": seed, "lr": list(lrs), "optimizer": {"name": "sgd", "momentum": 0.9}, "train": {"epochs": 2}}
    )
    return expand(config)


def test_a_pack_trains_each_variant_as_it_would_alone_on_the_same_augmented_batches():
    torch.manual_seed(0)
    x, y = torch.randn(96, 1, 8, 8), torch.randint(0, 3, (96,))
    val = (torch.randn(32, 1, 8, 8), torch.randint(0, 3, (32,)))
    spec = _spec(AugmentConfig(crop=2, flip=True, cutout=2))
    variants = _variants([0.01, 0.05, 0.2])
    packed = train_pack(variants, spec, (x, y), val)
    for variant, result in zip(variants, packed):
        alone = train_variant(variant, spec, (x, y), val)
        for a, b in zip(result.epochs, alone.epochs):
            assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4, abs=1e-6)
            assert a.val_loss == pytest.approx(b.val_loss, rel=1e-4, abs=1e-6)
    unaugmented = train_variant(variants[1], _spec(None), (x, y), val)
    assert unaugmented.epochs[0].train_loss != pytest.approx(packed[1].epochs[0].train_loss, rel=1e-6)


def test_augmentation_of_non_images_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data.augment: augmentation needs image data \[C, H, W\], got .*\[8\]"):
        check_augment(AugmentConfig(flip=True), (8,))
    check_augment(AugmentConfig(), (8,))  # inactive: nothing to check
    check_augment(AugmentConfig(crop=4), (1, 28, 28))


@pytest.mark.parametrize("augment, message", [
    ({"crpo": 4}, "data.augment.crpo: unknown key; did you mean 'crop'?"),
    ({"crop": -1}, "data.augment.crop: must be >= 0 pixels, got crop=-1"),
    ({"flip": "yes"}, "data.augment.flip: must be true/false"),
    ({"cutout": 2.5}, "data.augment.cutout: must be an integer"),
])  # fmt: skip
def test_bad_augment_keys_are_refused_at_validation(augment, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"data": {"name": "mnist-sample", "augment": augment}})
    assert message in str(err.value)


def test_augment_and_num_workers_round_trip_and_only_augment_changes_the_fingerprint():
    base = parse_config({"data": {"name": "mnist-sample"}})
    aug = parse_config({"data": {"name": "mnist-sample", "augment": {"crop": 4, "flip": True}}})
    workers = parse_config({"data": {"name": "mnist-sample", "num_workers": 3}})
    assert aug.data.augment == AugmentConfig(crop=4, flip=True) and workers.data.num_workers == 3
    assert parse_config(aug.to_dict()) == aug and parse_config(workers.to_dict()) == workers
    assert base.fingerprint() == workers.fingerprint() != aug.fingerprint()
