"""Every file in configs/ validates (without downloading anything)."""

from pathlib import Path

import pytest

from lrsweep.config import load_config
from lrsweep.errors import ConfigError
from lrsweep.plan import expand

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch):
    """configs/custom-dataset.yaml names a package of examples/, run from there as the README says."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {"quickstart.yaml", "mnist.yaml", "regression.yaml"} <= names


# Datasets another branch adds (data12: cifar10 and data.augment); until it is merged, only these may be missing.
PENDING_DATASETS = {"cifar10.yaml": "unknown dataset 'cifar10'"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path):
    try:
        config = load_config(path)
    except ConfigError as err:
        if path.name in PENDING_DATASETS and PENDING_DATASETS[path.name] in str(err):
            pytest.skip(f"{path.name}: {err} (the dataset's branch is not merged yet)")
        raise
    assert expand(config)
