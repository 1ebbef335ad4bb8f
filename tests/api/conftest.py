"""What the tune tests share."""

import pytest


@pytest.fixture
def task(tiny_sweep):
    """tiny_sweep, 2 seeds and 3 epochs (its lr list is ignored by tune)."""
    raw = {k: v for k, v in tiny_sweep.items() if k != "seed"}
    return {**raw, "seeds": [0, 1], "train": {"epochs": 3}, "retrain": True}
