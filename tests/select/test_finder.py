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
