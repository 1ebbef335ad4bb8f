"""Every file in configs/ validates (without downloading anything)."""

from pathlib import Path

import pytest

from lrsweep.config import load_config
from lrsweep.sweep.plan import expand

ROOT = Path(__file__).resolve().parent.parent
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
