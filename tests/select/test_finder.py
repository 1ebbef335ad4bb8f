"""The range test's settings, and the grid written around its suggestion."""

from __future__ import annotations

import math

import pytest

from lrsweep.errors import UsageError
from lrsweep.select.finder import GRID_MARGIN, FinderSettings, grid_around


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr"),
        ({"end_lr": math.inf}, "end_lr"),
        ({"steps": 1}, "steps"),
        ({"mode": "cosine"}, "mode"),
        ({"smooth_beta": 1.0}, "smooth_beta"),
        ({"diverge_factor": 1.0}, "diverge_factor"),
        ({"accumulate": 0}, "accumulate"),
    ],
)
def test_settings_refuse_impossible_values(kwargs, word):
    with pytest.raises(UsageError, match=word):
        FinderSettings(**kwargs)


def test_grid_around_is_log_spaced_and_stays_below_the_divergence_lr():
    free = grid_around(1e-2, None, num=7)
    assert free[0] == pytest.approx(1e-3) and free[3] == pytest.approx(1e-2) and free[-1] == pytest.approx(0.1)
    ratios = [b / a for a, b in zip(free, free[1:])]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-2)
    bounded = grid_around(1e-2, 0.04, num=5)
    assert len(bounded) == 5 and bounded == sorted(bounded) and bounded[-1] == pytest.approx(0.04 * GRID_MARGIN)
    assert grid_around(1e-2, 0.0123456, num=3, digits=3)[-1] <= 0.0123456 * GRID_MARGIN  # rounded down, not up
    with pytest.raises(UsageError, match="no room"):
        grid_around(1e-2, 1e-3)


@pytest.mark.parametrize("suggestion", [0.0313, 0.05, 0.09, 0.0955])
def test_grid_around_is_centred_on_the_suggestion_under_the_ceiling(suggestion):
    ceiling = 0.0955  # the quick start's divergence LR; valley and divergence may coincide
    grid = grid_around(suggestion, ceiling, num=7)
    top = ceiling * GRID_MARGIN
    centre = grid[3]
    assert grid[-1] <= top and grid[-1] == pytest.approx(top, rel=1e-2)
    assert grid[0] * grid[-1] == pytest.approx(centre**2, rel=2e-2)  # log-symmetric about its middle point
    assert grid[-1] / grid[0] >= 10 * 0.99  # at least a decade wide: the best has room on both sides
    assert centre == pytest.approx(min(suggestion, top / math.sqrt(10)), rel=1e-2)  # the suggestion, or below it
    assert max(grid) > centre > min(grid)  # never the grid's top
