"""Seeded synthetic datasets: a noisy linear regression and Gaussian-blob classification."""

from __future__ import annotations

from pathlib import Path

import torch

from lrsweep.data.dataset import Dataset


def _truth(gen: torch.Generator, n_features: int) -> tuple[torch.Tensor, float]:
    w = torch.randn(n_features, generator=gen)
    b = float(torch.randn(1, generator=gen))
    return w, b


def regression_truth(n_features: int = 1, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The true (w, b) behind ``synthetic-regression`` with these n_features and seed."""
    return _truth(torch.Generator().manual_seed(int(seed)), int(n_features))


def regression(
    root: Path | None = None,
    download: bool = True,
    n_samples: int = 1000,
    n_features: int = 1,
    noise: float = 0.1,
    n_test: int = 200,
    seed: int = 0,
) -> Dataset:
    """y = w·x + b + noise with x ~ N(0, I): the textbook linear model; w, b from regression_truth.

    Args:
        n_samples: training rows.
        n_features: width of x.
        noise: standard deviation of the Gaussian noise added to y.
        n_test: test rows, drawn from the same distribution (independent of n_samples).
        seed: seeds w, b and every draw.
    """
    gen = torch.Generator().manual_seed(int(seed))
    w, b = _truth(gen, int(n_features))

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, int(n_features), generator=gen)
        y = x @ w + b + float(noise) * torch.randn(n, generator=gen)
        return x, y.unsqueeze(1)

    test_x, test_y = draw(int(n_test))  # test first, so it does not change with n_samples
    train_x, train_y = draw(int(n_samples))
    return Dataset("synthetic-regression", train_x, train_y, test_x, test_y, "regression", None)


def classification(
    root: Path | None = None,
    download: bool = True,
    n_samples: int = 2000,
    n_features: int = 20,
    n_classes: int = 3,
    n_test: int = 500,
    seed: int = 0,
    separation: float = 2.0,
) -> Dataset:
    """Gaussian blobs: one unit-variance blob per class, centres at random directions, ``separation`` from 0.

    Args:
        n_samples: training rows (classes balanced to within one row).
        n_features: width of x.
        n_classes: number of blobs.
        n_test: test rows, drawn from the same blobs (independent of n_samples).
        seed: seeds the centres and every draw.
        separation: distance of each centre from the origin, in noise standard deviations;
            larger is easier (two centres sit about 1.4 x separation apart).
    """
    gen = torch.Generator().manual_seed(int(seed))
    centres = torch.randn(int(n_classes), int(n_features), generator=gen)
    centres = float(separation) * centres / centres.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randperm(n, generator=gen) % int(n_classes)
        x = centres[y] + torch.randn(n, int(n_features), generator=gen)
        return x, y

    test_x, test_y = draw(int(n_test))
    train_x, train_y = draw(int(n_samples))
    return Dataset("synthetic-classification", train_x, train_y, test_x, test_y, "classification", int(n_classes))
