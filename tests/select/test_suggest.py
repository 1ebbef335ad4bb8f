"""The LRs read off a range-test curve."""

from __future__ import annotations

import math

import pytest

from lrsweep.select.suggest import divergence_onset, gradient, suggest, valley_index


def test_suggestions_on_a_synthetic_curve():
    """Loss falls fastest at 1e-3, bottoms out near 1e-1, then climbs."""
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    logs = [math.log10(lr) for lr in lrs]
    curve = [2 - math.tanh(2 * (t + 3)) + (5 * (t + 1) ** 2 if t > -1 else 0) for t in logs]
    got = suggest(lrs, curve)
    step = 10 ** (6 / 99)  # one grid step, as a factor
    assert 1e-3 / step <= got["steep"] <= 1e-3 * step
    assert 1e-2 / step <= got["min10"] <= 1e-2 * step
    assert 1e-3 / step**2 <= got["valley"] <= 1e-3 * step**2  # the middle of the fall is its steepest point here


def test_valley_sits_mid_descent_past_a_noisy_plateau_and_bumps():
    plateau = [2.0 + 0.01 * (-1) ** i - 0.0005 * i for i in range(40)]  # noise that drifts down: fastai's trap
    descent = [1.98 - 0.1 * i for i in range(1, 11)]  # indices 40..49, down to 0.98
    y = plateau + descent + [1.2, 3.0]
    assert 43 <= valley_index(y) <= 46
    assert valley_index([10, 9, 8, 8.5, 7, 6, 6.2, 5, 4, 3.5, 5, 9]) == 4  # 10%..90% of the fall: index 0..8
    assert valley_index([3, 4, 5]) == 0  # no fall at all: the minimum


def test_gradient_is_exact_for_quadratics_on_an_uneven_grid():
    x = [0.0, 0.1, 0.3, 0.35, 0.9, 1.0]
    slopes = gradient([t * t for t in x], x)
    assert slopes[1:-1] == pytest.approx([2 * t for t in x[1:-1]])


def test_divergence_onset_is_the_lowest_finite_loss():
    assert divergence_onset([5, 4, 3, 3.5, 2, 1, 1.5, 4, math.nan]) == 5
    assert divergence_onset([3, 2, 1]) == 2
    assert divergence_onset([3, 1, 5, 2, 8]) == 1  # a blow-up that dips on its way up is dated from its start
