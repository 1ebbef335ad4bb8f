"""Synthetic datasets: deterministic by seed, and learnable in the way they claim."""

from __future__ import annotations

import torch

from lrsweep.data import load_dataset
from lrsweep.data.synthetic import classification, regression, regression_truth


def test_regression_least_squares_recovers_the_truth():
    ds = regression(n_samples=2000, n_features=3, noise=0.1, seed=7)
    w, b = regression_truth(n_features=3, seed=7)
    design = torch.cat([ds.train_x, torch.ones(len(ds.train_x), 1)], dim=1)
    fit = torch.linalg.lstsq(design, ds.train_y).solution.squeeze(1)
    assert torch.allclose(fit[:3], w, atol=0.02) and abs(float(fit[3]) - b) < 0.02
    residual = ds.test_y.squeeze(1) - (ds.test_x @ w + b)
    assert abs(float(residual.std()) - 0.1) < 0.02  # the noise is what was asked for


def test_regression_defaults_are_the_one_feature_textbook_case():
    ds = load_dataset("synthetic-regression", {})
    assert ds.train_x.shape == (1000, 1) and ds.train_y.shape == (1000, 1) and ds.test_x.shape == (200, 1)
    assert ds.task == "regression" and ds.num_classes is None


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = regression(seed=1), regression(seed=1), regression(seed=2)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert not torch.equal(regression_truth(1, 1)[0], regression_truth(1, 2)[0])


def test_test_split_does_not_depend_on_the_training_size():
    small, large = classification(n_samples=50, seed=3), classification(n_samples=500, seed=3)
    assert torch.equal(small.test_x, large.test_x) and torch.equal(small.test_y, large.test_y)
    assert torch.equal(regression(n_samples=10).test_x, regression(n_samples=30).test_x)


def test_classification_is_balanced_and_learnable():
    ds = classification(n_samples=600, n_features=10, n_classes=4, n_test=200, separation=3.0, seed=0)
    assert ds.num_classes == 4 and ds.train_x.shape == (600, 10) and ds.train_y.dtype == torch.int64
    assert ds.train_y.bincount().tolist() == [150, 150, 150, 150]
    centroids = torch.stack([ds.train_x[ds.train_y == k].mean(0) for k in range(4)])
    predicted = torch.cdist(ds.test_x, centroids).argmin(1)
    assert (predicted == ds.test_y).float().mean() > 0.8


def test_separation_controls_difficulty():
    def centroid_accuracy(separation):
        ds = classification(n_samples=400, n_features=5, n_classes=3, separation=separation, seed=1)
        centroids = torch.stack([ds.train_x[ds.train_y == k].mean(0) for k in range(3)])
        return float((torch.cdist(ds.test_x, centroids).argmin(1) == ds.test_y).float().mean())

    assert centroid_accuracy(0.1) < 0.5 < 0.9 < centroid_accuracy(4.0)
