import math

import pytest
import yaml

from lrsweep.config import Config, apply_overrides, load_config, parse_config
from lrsweep.errors import ConfigError


def error_of(raw: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value


def test_defaults_are_a_valid_config():
    config = parse_config({})
    assert config == Config(schedulers=config.schedulers, data=config.data, model=config.model)
    assert config.lrs == (0.1,) and config.seeds == (0,)


@pytest.mark.parametrize(
    "raw, key, fragment",
    [
        ({"trian": {}}, "trian", "did you mean 'train'"),
        ({"train": {"epoch": 3}}, "train.epoch", "did you mean 'epochs'"),
        ({"model": {"name": "mlp", "hiden": [8]}}, "model.hiden", "did you mean 'hidden'"),
        ({"model": {"name": "mpl"}}, "model.name", "did you mean 'mlp'"),
        ({"optimizer": {"name": "sgd", "momentm": 0.9}}, "optimizer.momentm", "did you mean 'momentum'"),
        ({"optimizer": {"name": "adm"}}, "optimizer.name", "did you mean 'adam'"),
        ({"data": {"name": "mnst"}}, "data.name", "did you mean 'mnist'"),
        ({"lr": -0.1}, "lr", "got lr=-0.1"),
        ({"lr": [0.1, 0.0]}, "lr[1]", "got lr=0.0"),
        ({"lr": [0.1, float("nan")]}, "lr[1]", "finite"),
        ({"lr": []}, "lr", "empty"),
        ({"lr": "fast"}, "lr", "got 'fast'"),
        ({"train": {"epochs": 0}}, "train.epochs", "got epochs=0"),
        ({"train": {"epochs": "ten"}}, "train.epochs", "got 'ten'"),
        ({"select": {"metric": "val_los"}}, "select.metric", "did you mean 'val_loss'"),
        ({"data": {"batch_size": 0}}, "data.batch_size", "got batch_size=0"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction", "got val_fraction=1.5"),
        ({"retrain": "yes"}, "retrain", "got 'yes'"),
        ({"lr": {"logspace": {"start": 0, "stop": 1, "num": 3}}}, "lr.logspace.start", "got start=0"),
        ({"lr": {"logspce": {}}}, "lr.logspce", "did you mean 'logspace'"),
        ({"seed": 0, "seeds": [1]}, "seeds", "either"),
        ({"optimizer": {"name": "sgd", "lr": 0.1}}, "optimizer.lr", "top-level 'lr'"),
        ({"optimizer": {"name": "sgd", "nesterov": True}}, "optimizer", "Nesterov"),
    ],
)
def test_errors_name_the_key_and_what_was_given(raw, key, fragment):
    err = error_of(raw)
    assert err.key == key
    assert fragment in str(err)


def test_logspace_grid_is_log_spaced_and_inclusive():
    config = parse_config({"lr": {"logspace": {"start": 1e-4, "stop": 1.0, "num": 5}}})
    assert config.lrs == (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    ratios = [b / a for a, b in zip(config.lrs, config.lrs[1:])]
    assert all(math.isclose(r, 10.0) for r in ratios)


def test_overrides_are_typed_and_nested():
    raw = apply_overrides(
        {"train": {"epochs": 5}}, ["train.epochs=3", "data.batch_size=64", "lr=[0.1, 0.01]", "optimizer.momentum=0.5"]
    )
    config = parse_config(raw)
    assert config.train.epochs == 3 and config.data.batch_size == 64
    assert config.lrs == (0.1, 0.01)
    assert config.optimizers[0].options == {"momentum": 0.5}


def test_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="dotted.key=value"):
        apply_overrides({}, ["train.epochs"])


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntrain:\n  epochs: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "line" in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_errors_from_a_file_name_the_file(write_config):
    path = write_config({"trian": {}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: trian:")


def test_resolved_config_round_trips(tiny_sweep):
    config = parse_config(tiny_sweep)
    again = parse_config(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config
    assert again.fingerprint() == config.fingerprint()


def test_fingerprint_ignores_device_but_not_lrs(tiny_sweep):
    base = parse_config(tiny_sweep).fingerprint()
    assert parse_config({**tiny_sweep, "device": "auto"}).fingerprint() == base
    assert parse_config({**tiny_sweep, "lr": [0.5]}).fingerprint() != base


def test_seeds_and_optimizer_lists_are_axes():
    config = parse_config({"seeds": [0, 1], "optimizer": ["sgd", {"name": "adam"}], "lr": [0.1, 0.01]})
    assert config.seeds == (0, 1)
    assert [o.name for o in config.optimizers] == ["sgd", "adam"]


def test_seed_override_replaces_seeds_and_back():
    assert parse_config(apply_overrides({"seed": 0}, ["seeds=[0, 1, 2]"])).seeds == (0, 1, 2)
    assert parse_config(apply_overrides({"seeds": [0, 1]}, ["seed=3"])).seeds == (3,)
    with pytest.raises(ConfigError, match="either 'seed' or 'seeds'"):
        parse_config({"seed": 0, "seeds": [1, 2]})


def test_override_values_are_yaml_and_a_name_becomes_a_section():
    from lrsweep.config import parse_override

    assert parse_override("lr=[0.1, 1e-2]") == (["lr"], [0.1, 0.01])
    assert parse_override("train.grad_clip=") == (["train", "grad_clip"], None)
    raw = apply_overrides({"model": "mlp", "optimizer": "adam"}, ["model.hidden=[8]", "optimizer.eps=1e-6"])
    assert raw["model"] == {"name": "mlp", "hidden": [8]} and raw["optimizer"] == {"name": "adam", "eps": 1e-6}
    with pytest.raises(ConfigError, match="'lr' is not a section"):
        apply_overrides({"lr": 0.1}, ["lr.start=1"])


def test_set_name_on_a_section_with_the_old_names_keys_says_whose_keys_they_are(write_config, tiny_sweep):
    path = write_config(tiny_sweep)  # optimizer: {name: sgd, momentum: 0.9}
    with pytest.raises(ConfigError) as info:
        load_config(path, ["optimizer.name=nadam"])
    message = str(info.value)
    assert "optimizer.momentum" in message and "did you mean" not in message
    assert "'momentum' belongs to the file's optimizer 'sgd', not to 'nadam'" in message
    assert "--set 'optimizer={name: nadam}'" in message
    assert load_config(path, ["optimizer={name: nadam}"]).optimizers[0].name == "nadam"  # the way it shows
    with pytest.raises(ConfigError, match="did you mean 'momentum_decay'") as info:  # a typo of the new one's key
        load_config(path, ["optimizer.name=nadam", "optimizer.momentum=0.1"])
    config = {**tiny_sweep, "scheduler": {"type": "steplr", "step_size": 2}}
    with pytest.raises(ConfigError, match="'step_size' belongs to the file's scheduler 'steplr', not to 'cosine'"):
        load_config(write_config(config), ["scheduler.type=cosine"])


def test_relative_data_paths_resolve_against_a_base(tmp_path):
    from lrsweep.config import resolve_paths

    raw = {"data": {"name": "csv", "path": "d.csv", "root": "~/data", "target": "y"}}
    resolved = resolve_paths(raw, tmp_path)["data"]
    assert resolved["path"] == str(tmp_path / "d.csv") and resolved["root"] == "~/data"
    own = resolve_paths({"data": {"name": "mypkg.data:f", "path": "x"}}, tmp_path)["data"]
    assert own["path"] == "x"  # a factory of one's own reads its options as it likes


def test_a_default_seed_and_a_null_seed_are_the_same():
    assert parse_config({"seed": None}).seeds == parse_config({}).seeds == (0,)
    assert parse_config({"seed": None, "seeds": [4, 5]}).seeds == (4, 5)


def test_importing_the_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, lrsweep.config; print('torch' in sys.modules, 'yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # `lrsweep show` and friends start fast
