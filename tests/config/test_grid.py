"""The learning-rate grid: a number, a list, or a log- or linearly spaced grid, bounded by limits.max_variants."""

import pytest

from lrsweep.config import parse_config, parse_lrs
from lrsweep.errors import ConfigError


def test_a_number_a_list_and_a_spaced_grid():
    assert parse_lrs(0.1) == (0.1,) and parse_lrs([1, 0.5]) == (1.0, 0.5)
    assert parse_lrs({"logspace": {"start": 1e-3, "stop": 1e-1, "num": 3}}) == (1e-3, 1e-2, 1e-1)
    assert parse_lrs({"linspace": {"start": 0.1, "stop": 0.3, "num": 3}}) == (0.1, 0.2, 0.3)
    assert parse_lrs({"linspace": {"start": 0.1, "stop": 0.3, "num": 1}}) == (0.1,)


@pytest.mark.parametrize(
    "lr, key, fragment",
    [
        ({"linspace": {"start": -0.1, "stop": 0.1, "num": 3}}, "lr[0]", "finite and > 0, got lr=-0.1"),
        ({"logspace": {"start": 1e-3, "stop": -1, "num": 3}}, "lr.logspace.stop", "got stop=-1"),
        ({"logspace": {"start": 1e-3, "stop": 1, "num": 20_000}}, "lr.logspace.num", "limits.max_variants=10,000"),
        (
            {"logspace": {"start": 1e-3, "stop": 1, "num": 2}, "linspace": {"start": 1, "stop": 2, "num": 2}},
            "lr",
            "one of",
        ),
        ([0.1, 0.1], "lr", "repeats"),
        (float("inf"), "lr", "finite"),
    ],
)
def test_bad_grids_are_refused(lr, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config({"lr": lr})
    assert info.value.key == key and fragment in info.value.message


def test_a_raised_limit_allows_a_bigger_grid_and_is_applied_before_the_grid_is_made():
    grid = {"logspace": {"start": 1e-4, "stop": 1, "num": 12_000}}
    assert len(parse_config({"lr": grid, "limits": {"max_variants": 20_000}}).lrs) == 12_000
    with pytest.raises(ConfigError, match="limits.max_variants"):
        parse_lrs({"logspace": {"start": 1e-4, "stop": 1, "num": 10**12}})
