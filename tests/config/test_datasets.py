"""What `lrsweep datasets` shows: the common keys' defaults and meaning come from the DataConfig model."""

from lrsweep.config import AugmentConfig, DataConfig
from lrsweep.config.datasets import common_keys, describe_datasets
from lrsweep.config.sections import fields_of


def test_the_common_keys_are_the_models_with_their_defaults_written_out():
    shown = {key["name"]: key for key in common_keys()}
    assert list(shown) == [k for k in fields_of(DataConfig) if k != "options"]
    for name, field in fields_of(DataConfig).items():
        if name != "options":
            assert shown[name]["meaning"] == field.description
    assert shown["augment"]["default"] == "{crop: 0, flip: false, cutout: 0}"  # not <dataclasses._MISSING_TYPE ...>
    assert shown["batch_size"]["default"] == str(DataConfig().batch_size) and shown["root"]["default"] == "none"
    assert AugmentConfig() == DataConfig().augment


def test_no_default_is_a_python_repr():
    described = describe_datasets()
    for key in [*described["common"], *(o for d in described["datasets"] for o in d["options"])]:
        assert "MISSING" not in key["default"] and " object at 0x" not in key["default"], key


def test_the_datasets_command_shows_no_python_repr(runner):
    from lrsweep.cli import app

    for args in (["datasets"], ["datasets", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "MISSING" not in result.output and "object at 0x" not in result.output
