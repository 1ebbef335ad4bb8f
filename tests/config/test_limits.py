"""Checks of a whole sweep: sizes past the limits (naming the limit to raise), a validation split for a sweep."""

import pytest

from lrsweep.config import parse_config
from lrsweep.errors import ConfigError


def error_of(raw: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value


def test_every_axis_counts_toward_max_variants():
    raw = {"lr": [0.1, 0.2], "seeds": [0, 1], "optimizer": ["sgd", "adam"], "scheduler": ["none", "cosine"]}
    assert len(parse_config({**raw, "limits": {"max_variants": 16}}).lrs) == 2
    err = error_of({**raw, "limits": {"max_variants": 15}})
    assert err.key == "lr" and "16 variants, more than limits.max_variants=15" in err.message


def test_a_weight_decay_past_the_limit_names_the_optimizer_in_a_list():
    err = error_of({"optimizer": ["sgd", {"name": "adamw", "weight_decay": 50}]})
    assert err.key == "optimizer[1].weight_decay" and "--set limits.max_weight_decay=X" in err.message
    assert error_of({"optimizer": {"name": "adamw", "weight_decay": 50}}).key == "optimizer.weight_decay"


def test_a_generated_dataset_past_the_limits_is_refused_before_it_is_made():
    err = error_of({"data": {"name": "synthetic-classification", "n_classes": 200_000}})
    assert err.key == "data.n_classes" and "limits.max_classes" in err.message


def test_a_sweep_needs_a_validation_split():
    assert parse_config({"data": {"val_fraction": 0}}).data.val_fraction == 0
    assert error_of({"data": {"val_fraction": 0}, "lr": [0.1, 0.2]}).key == "data.val_fraction"
