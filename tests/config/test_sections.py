"""The section models: strict, closed (or checked against a registry), frozen, one default and description per key."""

import dataclasses

import pytest

from lrsweep.config import (
    AugmentConfig,
    ConfigFile,
    DataConfig,
    LimitsConfig,
    ModelConfig,
    OptimizerConfig,
    PruneConfig,
    SelectConfig,
    SpacedGrid,
    Spacing,
    TrainConfig,
    parse_config,
)
from lrsweep.config.metrics import engine_metrics
from lrsweep.config.sections import SELECT_METRICS, fields_of
from lrsweep.errors import ConfigError

MODELS = [
    AugmentConfig,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    TrainConfig,
    SelectConfig,
    PruneConfig,
    LimitsConfig,
    Spacing,
    SpacedGrid,
    ConfigFile,
]

# A misspelt key in every section model: (config, the key path, the spelling it should suggest).
TYPOS = {
    ConfigFile: ({"trian": {}}, "trian", "train"),
    TrainConfig: ({"train": {"epoch": 3}}, "train.epoch", "epochs"),
    SelectConfig: ({"select": {"metrc": "val_acc"}}, "select.metrc", "metric"),
    PruneConfig: ({"prune": {"type": "asha", "reductoin": 2}}, "prune.reductoin", "reduction"),
    LimitsConfig: ({"limits": {"max_varients": 5}}, "limits.max_varients", "max_variants"),
    AugmentConfig: ({"data": {"augment": {"fllip": True}}}, "data.augment.fllip", "flip"),
    DataConfig: ({"data": {"batchsize": 8}}, "data.batchsize", "batch_size"),
    ModelConfig: ({"model": {"name": "mlp", "hiden": [8]}}, "model.hiden", "hidden"),
    OptimizerConfig: ({"optimizer": {"name": "sgd", "momentm": 0.9}}, "optimizer.momentm", "momentum"),
    SpacedGrid: ({"lr": {"logspce": {"start": 0.1, "stop": 1, "num": 2}}}, "lr.logspce", "logspace"),
    Spacing: ({"lr": {"linspace": {"start": 0.1, "stop": 1, "nm": 2}}}, "lr.linspace.nm", "num"),
}
MORE_TYPOS = [  # the open sections' own keys, in lists too, and the scheduler (checked by its registry)
    ({"sedes": [0, 1]}, "sedes", "seeds"),
    ({"data": {"name": "synthetic-regression", "n_sample": 8}}, "data.n_sample", "n_samples"),
    ({"optimizer": ["sgd", {"name": "adam", "betaz": [0.9, 0.99]}]}, "optimizer[1].betaz", "betas"),
    ({"scheduler": {"type": "steplr", "step_sise": 2}}, "scheduler.step_sise", "step_size"),
    ({"scheduler": ["none", {"type": "cosine", "T_mx": 2}]}, "scheduler[1].T_mx", "T_max"),
]


def test_there_is_a_typo_for_every_section_model():
    assert set(TYPOS) == set(MODELS)


@pytest.mark.parametrize(
    "raw, key, guess", [*TYPOS.values(), *MORE_TYPOS], ids=[t[1] for t in [*TYPOS.values(), *MORE_TYPOS]]
)
def test_every_section_refuses_an_unknown_key_naming_the_nearest(raw, key, guess):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert info.value.key == key
    assert f"did you mean '{guess}'?" in info.value.message and "valid: " in info.value.message


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_key_has_a_one_line_description(model):
    for name, field in fields_of(model).items():
        assert field.description and "\n" not in field.description, f"{model.__name__}.{name}"


@pytest.mark.parametrize("model", [m for m in MODELS if m is not ConfigFile], ids=lambda m: m.__name__)
def test_every_section_is_closed_and_frozen(model):
    config = getattr(model, "__pydantic_config__", {})
    assert config.get("extra") == "forbid"
    assert model.__dataclass_params__.frozen


@pytest.mark.parametrize(
    "raw, key, fragment",
    [
        ({"train": {"epochs": "3"}}, "train.epochs", "must be an integer, got '3'"),
        ({"train": {"epochs": True}}, "train.epochs", "must be an integer, got True"),
        ({"train": {"epochs": 3.0}}, "train.epochs", "must be an integer, got 3.0"),
        ({"data": {"val_fraction": "0.1"}}, "data.val_fraction", "must be a number, got '0.1'"),
        ({"data": {"val_fraction": True}}, "data.val_fraction", "must be a number, got True"),
        ({"data": {"download": 1}}, "data.download", "must be true/false, got 1"),
        ({"device": 0}, "device", "must be a string, got 0"),
        ({"seeds": [0, "1"]}, "seeds[1]", "must be an integer, got '1'"),
    ],
)
def test_values_are_strict(raw, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert info.value.key == key and fragment in info.value.message


def test_integers_are_numbers_and_yaml_numbers_are_read_as_numbers():
    config = parse_config({"data": {"val_fraction": 0}, "lr": 1, "train": {"grad_clip": 2}})
    assert config.data.val_fraction == 0.0 and isinstance(config.data.val_fraction, float)
    assert config.lrs == (1.0,) and isinstance(config.train.grad_clip, float)
    assert parse_config({"limits": {"max_parameters": "1e9"}}).limits.max_parameters == 10**9  # YAML 1.1 text


def test_sections_are_made_positionally_compared_replaced_and_validated_in_code():
    assert OptimizerConfig("sgd", {"momentum": 0.9}).label == "sgd(momentum=0.9)"
    assert dataclasses.replace(TrainConfig(), epochs=3) == TrainConfig(epochs=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        dataclasses.replace(TrainConfig(), epochs=0)
    assert PruneConfig(type="asha").active and not PruneConfig().active
    assert AugmentConfig(flip=True).active and not AugmentConfig().active


def test_open_sections_keep_their_own_keys_under_options():
    config = parse_config({"data": {"name": "synthetic-regression", "n_samples": 64}, "model": "linear"})
    assert config.data.options == {"n_samples": 64} and config.model == ModelConfig("linear", {})


def test_null_and_empty_sections_are_their_defaults():
    assert parse_config({"train": None, "select": {}, "data": None, "prune": None}) == parse_config({})
    assert parse_config({"data": {"augment": None}}).data.augment == AugmentConfig()


def test_choices_agree_with_their_tables():
    from lrsweep.data import COMMON_KEYS

    assert set(SELECT_METRICS) == set(engine_metrics(()))  # what every sweep of lrsweep's own loop ranks by
    assert set(COMMON_KEYS) == set(fields_of(DataConfig)) - {"options"}  # the data room's list of the same keys


def test_select_mode_overrides_the_direction_a_metric_name_implies_and_leaves_old_fingerprints_alone():
    from lrsweep.config import parse_config

    assert parse_config({"select": {"metric": "val_acc"}}).select.direction == "max"
    flipped = parse_config({"select": {"metric": "val_loss", "mode": "max"}})
    assert flipped.select.direction == "max"
    assert (
        parse_config({"select": {"metric": "val_loss", "mode": None}}).fingerprint() == parse_config({}).fingerprint()
    )
    assert flipped.fingerprint() != parse_config({}).fingerprint()
    assert parse_config(flipped.to_dict()) == flipped


def test_train_loss_is_a_name_or_a_name_with_the_option_it_takes():
    from lrsweep.config import LossConfig

    assert parse_config({"train": {"loss": "huber"}}).train.loss == LossConfig("huber")
    huber = parse_config({"train": {"loss": {"name": "huber", "delta": 2}}})
    assert huber.train.loss.options == {"delta": 2.0}
    assert huber.to_dict()["train"]["loss"] == {"name": "huber", "delta": 2.0}
    assert parse_config({"train": {"loss": {"name": "smooth_l1"}}}).to_dict()["train"]["loss"] == "smooth_l1"
    assert parse_config(huber.to_dict()) == huber
    for raw, text in (
        ({"name": "mse", "delta": 2.0}, "train.loss: delta is an option of huber, not of mse"),
        ({"name": "huber", "beta": 0.5}, "train.loss: beta is an option of smooth_l1, not of huber"),
        ({"name": "cross_entropy", "label_smoothing": 1.5}, "train.loss.label_smoothing: must be in [0, 1], got "),
        ({"name": "huber", "dleta": 1.0}, "train.loss.dleta: unknown key; did you mean 'delta'?"),
        ("hubber", "train.loss: got 'hubber'; did you mean 'huber'?"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config({"train": {"loss": raw}})
        assert text in str(err.value)


def test_early_stopping_select_at_batch_sizes_and_lr_scaling():
    config = parse_config(
        {
            "train": {"early_stopping": {}},
            "select": {"at": "best"},
            "data": {"batch_size": [32, 128, 512]},
            "lr_scaling": {"rule": "sqrt", "base_batch_size": 128},
            "lr": [0.1],
        }
    )
    assert config.train.early_stopping.patience == 3 and config.train.early_stopping.min_delta == 0.0
    assert config.batch_sizes == (32, 128, 512) and config.batch_axis and config.base_batch_size == 128
    assert config.lrs_for(512) == (0.2,) and config.lrs_for(32) == (0.05,) and config.lr_scaling.exponent == 0.5
    assert parse_config({"lr_scaling": "linear", "lr": [0.1], "data": {"batch_size": [10, 40]}}).lrs_for(40) == (0.4,)
    single = parse_config({})
    assert single.batch_sizes == (128,) and not single.batch_axis and single.lrs_for(128) == single.lrs
    for raw, text in (
        ({"data": {"batch_size": [32, 0]}}, "data.batch_size: must be >= 1, got batch_size[1]=0"),
        ({"data": {"batch_size": [32, 32]}}, "data.batch_size: batch sizes repeat"),
        ({"data": {"batch_size": 1.5}}, "data.batch_size: must be an integer, got batch_size=1.5"),
        ({"lr_scaling": "sqr"}, "lr_scaling.rule: got 'sqr'; did you mean 'sqrt'?"),
        ({"lr_scaling": {"rule": "sqrt", "base_batch_size": 0}}, "lr_scaling.base_batch_size: must be >= 1"),
        ({"train": {"early_stopping": {"patience": 0}}}, "train.early_stopping.patience: must be >= 1"),
        ({"train": {"early_stopping": {"patient": 2}}}, "did you mean 'patience'?"),
        ({"select": {"at": "bset"}}, "select.at: got 'bset'; did you mean 'best'?"),
        ({"select": {"at": "best"}, "data": {"val_fraction": 0}}, "select.at: needs a validation split to watch"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config(raw)
        assert text in str(err.value)
