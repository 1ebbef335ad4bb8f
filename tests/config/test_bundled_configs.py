"""Every file in configs/ validates (without downloading anything)."""

import pytest
from helpers import ROOT

from lrsweep.config import load_config
from lrsweep.sweep.plan import expand

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch):
    """configs/custom-dataset.yaml names a package of examples/, run from there as the README says."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {"quickstart.yaml", "mnist.yaml", "regression.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path):
    config = load_config(path)
    assert expand(config)
