"""Every file in configs/ validates (without downloading anything)."""

from pathlib import Path

import pytest

from lrsweep.config import load_config
from lrsweep.plan import expand

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {"quickstart.yaml", "mnist.yaml", "regression.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path):
    config = load_config(path)
    assert expand(config)
