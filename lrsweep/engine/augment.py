"""Training-batch augmentation on the device: random crop (zero padding), horizontal flip, cutout.

Batched tensor ops over ``[B, C, H, W]`` (no per-sample Python), for images of any size. Each seed
has its own :class:`Augmenter` (its own ``torch.Generator`` on the device), drawn once per batch in
the batch source, so every variant of a pack that shares the seed trains on the same augmented batch,
and a variant trained alone sees exactly what it would see in a pack. Padding and cutout write zeros
in the data's own (normalised) units, i.e. the training-set mean colour for the built-in datasets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lrsweep.errors import ConfigError

SEED_SALT = 0x5EED_A06  # keeps the augmentation stream apart from the batch-order stream of the same seed


def check_augment(augment, input_shape: tuple[int, ...]) -> None:
    """Refuse augmentation for data that is not images ``[C, H, W]``."""
    if augment is not None and augment.active and len(input_shape) != 3:
        raise ConfigError(
            f"augmentation needs image data [C, H, W], got samples of shape {list(input_shape)}", key="data.augment"
        )


class Augmenter:
    """One seed's augmentation stream; ``state()`` / ``load_state()`` for checkpoints."""

    def __init__(self, config, seed: int, device: torch.device | str):
        self.config = config
        self.generator = torch.Generator(device=device).manual_seed(int(seed) ^ SEED_SALT)

    def __call__(self, x: Tensor) -> Tensor:
        return augment(x, self.config, self.generator)

    def state(self) -> Tensor:
        return self.generator.get_state()

    def load_state(self, state: Tensor) -> None:
        self.generator.set_state(state)


def augment(x: Tensor, config, generator: torch.Generator) -> Tensor:
    """``x`` [B, C, H, W] cropped, flipped and cut out as ``config`` (an ``AugmentConfig``) asks."""
    if x.dim() != 4:
        raise ConfigError(f"augmentation needs image batches [B, C, H, W], got {list(x.shape)}", key="data.augment")
    if config.crop:
        x = random_crop(x, config.crop, generator)
    if config.flip:
        x = random_flip(x, generator)
    if config.cutout:
        x = cutout(x, config.cutout, generator)
    return x


def random_crop(x: Tensor, pad: int, generator: torch.Generator) -> Tensor:
    """Pad each side with ``pad`` zeros, then take an H x W window at a random offset per image."""
    b, c, h, w = x.shape
    offsets = torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=generator.device).to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # [B, H] rows of the padded image
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # [B, W]
    picked = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * pad))
    return picked.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def random_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator, device=generator.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def cutout(x: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Zero a ``size`` x ``size`` square centred on a random pixel of each image (clipped at the borders)."""
    b, _c, h, w = x.shape
    centres = torch.stack(
        [
            torch.randint(0, h, (b,), generator=generator, device=generator.device),
            torch.randint(0, w, (b,), generator=generator, device=generator.device),
        ]
    ).to(x.device)
    top = centres - size // 2  # [2, B]: first row and first column of the square
    ys = torch.arange(h, device=x.device)
    xs = torch.arange(w, device=x.device)
    inside_y = (ys >= top[0, :, None]) & (ys < top[0, :, None] + size)  # [B, H]
    inside_x = (xs >= top[1, :, None]) & (xs < top[1, :, None] + size)  # [B, W]
    return x.masked_fill(inside_y[:, None, :, None] & inside_x[:, None, None, :], 0.0)
