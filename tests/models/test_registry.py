"""Every registered model through one contract: built from the dataset's shapes, seeded, checked options."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsweep.errors import ConfigError
from lrsweep.models import MODELS, build_model, check_model_options

IMAGE = (1, 28, 28)  # every built-in model takes an image; linear and mlp flatten it


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_maps_a_batch_to_one_output_per_class_and_its_seed_fixes_the_weights(name):
    model = build_model(name, check_model_options(name, {}), IMAGE, 10, seed=3)
    assert isinstance(model, nn.Module)
    assert model(torch.zeros(2, *IMAGE)).shape == (2, 10)
    again = build_model(name, {}, IMAGE, 10, seed=3)
    other = build_model(name, {}, IMAGE, 10, seed=4)
    first = next(iter(model.state_dict().values()))
    assert torch.equal(first, next(iter(again.state_dict().values())))
    assert not torch.equal(first, next(iter(other.state_dict().values())))


def test_an_unknown_model_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="mlp"):
        check_model_options("mpl", {})


@pytest.mark.parametrize(
    "options, match",
    [
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"hidden": [0]}, "positive integers"),
        ({"dropout": 1.0}, r"\[0, 1\)"),
        ({"width": 2}, "width"),
    ],
)
def test_bad_options_name_the_key(options, match):
    with pytest.raises(ConfigError, match=match):
        check_model_options("mlp", options)


def test_a_users_factory_keeps_its_own_options_checked_against_its_signature_only(tmp_path, monkeypatch):
    (tmp_path / "usermodels.py").write_text(
        "from torch import nn\n\n"
        "def net(input_shape, output_size, hidden=16, channels='wide', dropout=2.0):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], hidden), nn.Linear(hidden, output_size))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    options = {"hidden": 32, "channels": "narrow", "dropout": 5.0}  # fine for this factory; not for lrsweep's mlp
    assert check_model_options("usermodels:net", options) == options
    with pytest.raises(ConfigError, match="must be a number"):
        check_model_options("usermodels:net", {"hidden": "wide"})  # its own signature still holds
    with pytest.raises(ConfigError, match="model.hidden: must be a list, got 32"):
        check_model_options("mlp", {"hidden": 32})  # the built-in models' rules stay theirs
    from lrsweep.config import parse_config

    config = parse_config({"model": {"name": "usermodels:net", "hidden": 32}})
    assert config.model.options == {"hidden": 32}
