"""The range checks of the built-in datasets' options, through ``check_options``."""

from __future__ import annotations

import pytest

from lrsweep.data import check_options
from lrsweep.errors import ConfigError


@pytest.mark.parametrize(
    "name, options, key",
    [
        ("synthetic-regression", {"n_samples": 0}, "data.n_samples"),
        ("synthetic-regression", {"n_features": 2.5}, "data.n_features"),
        ("synthetic-classification", {"n_classes": 1}, "data.n_classes"),
        ("synthetic-regression", {"noise": -1.0}, "data.noise"),
        ("synthetic-regression", {"noise": float("nan")}, "data.noise"),
        ("synthetic-regression", {"n_test": float("inf")}, "data.n_test"),
        ("csv", {"path": "a.csv", "target": "y", "test_fraction": 1.0}, "data.test_fraction"),
        ("csv", {"path": "a.csv", "target": "y", "task": "ranking"}, "data.task"),
        ("mnist", {"mirrors": "http://one/"}, "data.mirrors"),
        ("synthetic-regression", {"seed": None}, "data.seed"),
        ("csv", {"path": None, "target": "y"}, "data.path"),
    ],
)
def test_check_options_range_checks_builtin_options(name, options, key):
    with pytest.raises(ConfigError) as err:
        check_options(name, options)
    assert err.value.key == key


def test_none_means_default_only_where_the_default_is_none():
    assert check_options("mnist", {"mirrors": None, "md5s": None}) == {"mirrors": None, "md5s": None}
