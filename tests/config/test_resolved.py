"""The runtime Config: its interface, its defaults (read from ConfigFile), and fingerprints pinned across versions.

A run directory is resumed only when the config's fingerprint matches the one it was made with, so a fingerprint
must not change for the same input. The values below were computed by lrsweep before the config became pydantic.
"""

import dataclasses

import pytest
import yaml
from helpers import ROOT

from lrsweep.config import Config, ConfigFile, OptimizerConfig, parse_config, read_yaml

CONFIGS = {  # name -> the config (as parsed from YAML)
    "empty": {},
    "seeds": {"seeds": [0, 1, 2], "lr": [0.1, 0.01]},
    "seed3": {"seed": 3},
    "optimizer-list": {
        "optimizer": [
            "sgd",
            {"name": "adam", "betas": [0.8, 0.99]},
            {"name": "SGD", "momentum": 0.9, "nesterov": True},
        ],
        "lr": [0.1, 0.3],
    },
    "schedulers": {
        "scheduler": ["none", {"type": "cosine"}, {"type": "steplr", "step_size": 2, "gamma": 0.5}],
        "lr": 0.05,
    },
    "warmup": {"scheduler": {"type": "warmup", "warmup_epochs": 2, "then": "cosine"}, "train": {"epochs": 5}},
    "limits": {
        "limits": {"max_variants": 1e3, "max_parameters": "1e9", "max_weight_decay": 20},
        "optimizer": {"name": "adamw", "weight_decay": 15},
    },
    "augment": {"data": {"name": "mnist-sample", "augment": {"crop": 4, "flip": True, "cutout": 8}, "num_workers": 2}},
    "augment-off": {"data": {"augment": {"crop": 0}}},
    "prune": {
        "prune": {"type": "asha", "grace_epochs": 2, "reduction": 4},
        "lr": {"logspace": {"start": 1e-4, "stop": 1, "num": 9}},
    },
    "prune-str": {"prune": "asha", "lr": {"linspace": {"start": 0.01, "stop": 0.1, "num": 4}}},
    "train": {"train": {"epochs": 3, "loss": "cross_entropy", "precision": 32, "grad_clip": 1, "compile": False}},
    "train2": {
        "train": {"precision": "bf16-mixed", "grad_clip": 0.5, "compile": True},
        "select": {"metric": "val_acc"},
    },
    "synthetic": {
        "data": {"name": "synthetic-regression", "n_samples": 300, "n_features": 4, "noise": 0, "val_fraction": 0},
        "model": {"name": "mlp", "hidden": [16, 8], "dropout": 0.1},
    },
    "synthetic-cls": {
        "data": {"name": "synthetic_classification", "n_classes": 3, "batch_size": 32, "root": "/x"},
        "model": "linear",
    },
    "ints-as-floats": {
        "lr": 1,
        "data": {"val_fraction": 0},
        "optimizer": {"name": "sgd", "momentum": 0, "weight_decay": 0},
    },
    "misc": {"name": "x", "device": "cpu", "engine": "sequential", "retrain": False, "save": "all"},
    "model-cnn": {"model": {"name": "lenet", "channels": [4, 8], "hidden": [32]}, "optimizer": "adam"},
}

PINNED = {
    "empty": "992abf4f",
    "seeds": "c1815b92",
    "seed3": "4e0bee16",
    "optimizer-list": "f1f09111",
    "schedulers": "68c76a4a",
    "warmup": "3a7b3456",
    "limits": "88441236",
    "augment": "1aba1d3f",
    "augment-off": "992abf4f",
    "prune": "a1899d22",
    "prune-str": "4d8897db",
    "train": "6bc119b4",
    "train2": "aa19aec1",
    "synthetic": "473fa851",
    "synthetic-cls": "c2d62e10",
    "ints-as-floats": "1667c475",
    "misc": "b4061ad6",
    "model-cnn": "cce282fb",
}
BUNDLED = {
    "cifar10.yaml": "4cf22b43",
    "custom-dataset.yaml": "2314faf1",
    "mnist.yaml": "d1395822",
    "quickstart.yaml": "6e904cf0",
    "regression.yaml": "d026a9ea",
    "quick.yaml": "9781ec0c",
}


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))  # configs/custom-dataset.yaml names examples/mypkg


@pytest.mark.parametrize("name", PINNED)
def test_fingerprints_are_those_of_earlier_versions(name):
    assert parse_config(CONFIGS[name]).fingerprint() == PINNED[name]


@pytest.mark.parametrize("name", BUNDLED)
def test_fingerprints_of_the_bundled_configs_are_those_of_earlier_versions(name):
    path = ROOT / ("lrsweep/config" if name == "quick.yaml" else "configs") / name
    assert parse_config(read_yaml(path)).fingerprint() == BUNDLED[name]  # unresolved: paths as written


def test_the_config_reads_as_before():
    config = parse_config(CONFIGS["optimizer-list"])
    assert [o.label for o in config.optimizers] == ["sgd", "adam(betas=(0.8, 0.99))", "sgd(momentum=0.9,nesterov=True)"]
    assert config.optimizers[2].to_dict() == {"name": "sgd", "momentum": 0.9, "nesterov": True}
    assert config.select.direction == "min" and not config.prune.active and config.data.options == {}
    for attribute in ("name", "seeds", "device", "engine", "lrs", "data", "model", "optimizers", "schedulers"):
        assert hasattr(config, attribute)
    for attribute in ("train", "select", "prune", "retrain", "limits", "save", "source"):
        assert hasattr(config, attribute)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "x"  # type: ignore[misc]


def test_the_defaults_are_the_files():
    default = Config()
    for key in ("name", "device", "engine", "retrain", "save"):
        assert getattr(default, key) == ConfigFile.model_fields[key].default
    assert default.seeds == (ConfigFile.model_fields["seed"].default,)
    assert default.lrs == (ConfigFile.model_fields["lr"].default,) and default.optimizers == (OptimizerConfig(),)


@pytest.mark.parametrize("name", PINNED)
def test_to_dict_loads_back_to_an_equal_config(name):
    config = parse_config(CONFIGS[name])
    again = parse_config(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config and again.fingerprint() == config.fingerprint()


def test_a_config_is_replaced_like_a_dataclass():
    config = parse_config({})
    assert dataclasses.replace(config, lrs=(0.5,)).lrs == (0.5,)


def test_keys_added_for_metrics_and_batch_sizes_leave_old_fingerprints_alone_at_their_defaults():
    base = parse_config({}).fingerprint()
    for raw in (
        {"train": {"metrics": []}},
        {"train": {"early_stopping": None, "loss": {"name": "auto", "label_smoothing": 0.0}}},
        {"select": {"at": "last"}},
        {"lr_scaling": "none"},
    ):
        assert parse_config(raw).fingerprint() == base, raw
    changed = [
        {"train": {"metrics": ["f1"]}},
        {"train": {"early_stopping": {}}},
        {"train": {"loss": {"name": "cross_entropy", "label_smoothing": 0.1}}},
        {"select": {"at": "best"}},
        {"data": {"batch_size": [128]}},  # a list is an axis: each variant names its batch size
        {"lr_scaling": "sqrt"},
    ]
    prints = {parse_config(raw).fingerprint() for raw in changed}
    assert len(prints) == len(changed) and base not in prints
