"""The plan: variants and their ids (batch size as an axis, lr scaling), and what check_task refuses."""

import pytest

from lrsweep.config import parse_config
from lrsweep.engine.packing import make_packs
from lrsweep.errors import ConfigError
from lrsweep.sweep.plan import check_task, expand

ONE_SIZE = {"lr": [0.1, 0.01], "seeds": [0, 1], "optimizer": {"name": "sgd", "momentum": 0.9}}


def test_ids_of_a_config_with_one_batch_size_are_those_of_earlier_versions():
    ids = [v.id for v in expand(parse_config({**ONE_SIZE, "data": {"batch_size": 64}}))]
    assert ids == [
        "lr0.1-sgd-none-s0-f1cd89",
        "lr0.1-sgd-none-s1-8373af",
        "lr0.01-sgd-none-s0-b9eb13",
        "lr0.01-sgd-none-s1-308581",
    ]
    assert all(v.batch_size is None and v.base_lr is None for v in expand(parse_config(ONE_SIZE)))


def test_a_batch_size_list_is_an_axis_whose_lrs_follow_the_scaling_rule():
    config = parse_config(
        {"lr": [0.01, 0.1], "data": {"batch_size": [32, 128]}, "lr_scaling": {"rule": "linear", "base_batch_size": 64}}
    )
    variants = expand(config)
    assert [(v.batch_size, v.base_lr, v.lr) for v in variants] == [
        (32, 0.01, 0.005),
        (32, 0.1, 0.05),
        (128, 0.01, 0.02),
        (128, 0.1, 0.2),
    ]
    assert variants[0].id.startswith("lr0.005-b32-sgd-none-s0-") and len({v.id for v in variants}) == 4
    assert "b=32" in variants[0].group and variants[0].describe()["batch_size"] == 32
    unscaled = expand(parse_config({"lr": [0.1], "data": {"batch_size": [32, 128]}}))
    assert [(v.lr, v.base_lr) for v in unscaled] == [(0.1, None), (0.1, None)]
    assert unscaled[0].id != unscaled[1].id  # the same lr at two batch sizes: two variants


def test_packs_hold_variants_of_one_batch_size():
    variants = expand(parse_config({"lr": [0.01, 0.1, 1.0], "data": {"batch_size": [32, 128]}}))
    packs = make_packs(variants, 16)
    assert sorted(len(p) for p in packs) == [3, 3] and all(len({v.batch_size for v in p}) == 1 for p in packs)


def config_with(train=None, select=None):
    return parse_config({"train": train or {}, "select": select or {"metric": "val_loss"}})


@pytest.mark.parametrize(
    "train, task, classes, text",
    [
        ({"loss": "huber"}, "classification", 3, "huber needs a regression dataset; this one is classification"),
        ({"loss": "bce_with_logits"}, "regression", None, "bce_with_logits needs a classification dataset"),
        ({"loss": "bce_with_logits"}, "classification", 10, "bce_with_logits needs binary targets (two classes)"),
        (
            {"loss": {"name": "auto", "label_smoothing": 0.1}},
            "regression",
            None,
            "label_smoothing is an option of cross_entropy, not of mse",
        ),
        ({"metrics": ["f1"]}, "regression", None, "f1 needs a classification dataset; this one is regression"),
        ({"metrics": ["r2"]}, "classification", 3, "r2 needs a regression dataset; this one is classification"),
        ({"metrics": ["top5"]}, "classification", 5, "top5 needs more than 5 classes; this dataset has 5"),
        ({"loss": "bce_with_logits", "metrics": ["top2"]}, "classification", 2, "bce_with_logits has one"),
    ],
)
def test_a_loss_or_metric_that_does_not_fit_the_task_is_refused_naming_the_key(train, task, classes, text):
    with pytest.raises(ConfigError) as err:
        check_task(config_with(train), task, classes)
    assert text in str(err.value) and err.value.key.startswith("train.")


def test_each_loss_fits_its_task():
    for loss in ("mse", "l1", "huber", "smooth_l1", "auto"):
        assert check_task(config_with({"loss": loss, "metrics": ["r2", "mae", "rmse"]}), "regression") in (
            loss,
            "mse",
        )
    assert check_task(config_with({"loss": "bce_with_logits", "metrics": ["f1", "auroc"]}), "classification", 2)
    smoothed = {"loss": {"name": "cross_entropy", "label_smoothing": 0.1}, "metrics": ["top3"]}
    assert check_task(config_with(smoothed), "classification", 10) == "cross_entropy"
