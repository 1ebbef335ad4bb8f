"""pydantic's errors in lrsweep's words: the first error, at its key path (list indices included), with the value."""

import pytest
from pydantic import ValidationError

from lrsweep.config import ConfigFile, parse_config
from lrsweep.config.errors import config_error, dotted
from lrsweep.errors import ConfigError


def error_of(raw: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"optimizer": ["sgd", {"name": "sgd", "momentum": "fast"}]}, "optimizer[1].momentum"),
        ({"optimizer": ["sgd", {"name": 3}]}, "optimizer[1].name"),
        ({"optimizer": ["sgd", 7]}, "optimizer[1]"),
        ({"optimizer": {"name": 3}}, "optimizer.name"),
        ({"lr": [0.1, 0.2, "x"]}, "lr[2]"),
        ({"lr": [0.1, 0.2, -1]}, "lr[2]"),
        ({"seeds": ["0", 1]}, "seeds[0]"),
        ({"scheduler": ["none", {"type": "steplr", "step_size": "2"}]}, "scheduler[1].step_size"),
        ({"lr": {"logspace": {"start": 1e-3, "stop": 1, "num": "9"}}}, "lr.logspace.num"),
        ({"data": {"augment": {"crop": 1.5}}}, "data.augment.crop"),
    ],
)
def test_errors_in_lists_and_nested_sections_name_the_item(raw, key):
    assert error_of(raw).key == key


@pytest.mark.parametrize(
    "raw, text",
    [
        ({"train": {"epochs": "ten"}}, "train.epochs: must be an integer, got 'ten'"),
        ({"train": {"loss": "mes"}}, "train.loss: got 'mes'; did you mean 'mse'? (valid: auto, cross_entropy, "),
        ({"train": {"precision": 16}}, "train.precision: got 16 (valid: auto, 32, bf16-mixed, 16-mixed)"),
        ({"train": {"grad_clip": 0}}, "train.grad_clip: must be > 0, got grad_clip=0"),
        ({"train": {"grad_clip": float("inf")}}, "train.grad_clip: must be finite, got grad_clip=inf"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction: must be in [0, 1), got val_fraction=1.5"),
        ({"data": {"augment": {"cutout": -2}}}, "data.augment.cutout: must be >= 0 pixels, got cutout=-2"),
        ({"data": {"augment": [4]}}, "data.augment: must be a mapping, got [4]"),
        ({"prune": {"type": "asha", "reduction": 1}}, "prune.reduction: must be >= 2, got reduction=1"),
        ({"limits": {"max_variants": 0}}, "limits.max_variants: must be > 0, got max_variants=0"),
        ({"lr": {"linspace": {"start": 0.1, "stop": 1}}}, "lr.linspace.num: missing (required)"),
        ({"lr": {}}, "lr: give one of logspace or linspace"),
        ({"seeds": [1, 1]}, "seeds: seeds repeat, got [1, 1]"),
        ({"seeds": []}, "seeds: must be a non-empty list, got []"),
        ({"name": "a/b"}, "name: must be a plain file-name prefix"),
        ({"engine": "vectorised"}, "engine: got 'vectorised'; did you mean 'vectorized'?"),
        ({1: "x"}, "1: unknown key (valid: command, data, device, "),
    ],
)
def test_messages_say_what_was_given_and_what_is_allowed(raw, text):
    assert text in str(error_of(raw))


def test_an_unknown_key_is_reported_before_other_errors():
    err = error_of({"train": {"epochs": 0, "lsos": "mse"}, "name": 3})
    assert err.key == "train.lsos" and "did you mean 'loss'" in err.message


def test_errors_come_in_key_order_registry_checks_included():
    assert error_of({"name": 3, "data": {"name": "mnst"}}).key == "name"  # name is declared before data
    assert error_of({"data": {"name": "mnst"}, "train": {"epochs": 0}}).key == "data.name"


def test_the_first_pydantic_error_is_translated_at_its_location():
    with pytest.raises(ValidationError) as info:
        ConfigFile.model_validate({"train": {"epochs": "x"}, "select": {"metric": 1}})
    err = config_error(info.value, ConfigFile)
    assert err.key == "train.epochs" and err.message == "must be an integer, got 'x'"


def test_dotted_paths_write_list_indices_in_brackets():
    assert dotted(("optimizer", 1, "momentum")) == "optimizer[1].momentum"
    assert dotted(("lr", 2)) == "lr[2]" and dotted(("seeds",)) == "seeds" and dotted(()) == ""
