"""train.metrics and select.metric: the names lrsweep's own loop computes, refused with the nearest spelling."""

import pytest

from lrsweep.config import parse_config
from lrsweep.config.metrics import engine_metrics, metric_task, top_k
from lrsweep.errors import ConfigError


def error_of(raw):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    return str(err.value)


def test_select_metric_is_any_metric_the_config_computes():
    config = parse_config({"train": {"metrics": ["f1", "top3", "auroc"]}, "select": {"metric": "val_top3"}})
    assert config.select.direction == "max"
    assert engine_metrics(config.train.metrics) == ("val_loss", "val_acc", "val_f1", "val_top3", "val_auroc")
    assert parse_config({"train": {"metrics": ["rmse"]}, "select": {"metric": "val_rmse"}}).select.direction == "min"


@pytest.mark.parametrize(
    "raw, text",
    [
        (
            {"select": {"metric": "val_f1"}},
            "select.metric: got 'val_f1' (valid: val_loss, val_acc): add f1 to train.metrics to rank by val_f1",
        ),
        ({"select": {"metric": "val_acx"}}, "select.metric: got 'val_acx'; did you mean 'val_acc'?"),
        ({"train": {"metrics": ["f1"]}, "select": {"metric": "val_f2"}}, "did you mean 'val_f1'?"),
        ({"train": {"metrics": ["aucroc"]}}, "train.metrics[0]: got 'aucroc'; did you mean 'auroc'?"),
        ({"train": {"metrics": ["f1", "top1"]}}, "train.metrics[1]: top-k needs k >= 2 (top1 is val_acc)"),
        ({"train": {"metrics": ["r2", "r2"]}}, "train.metrics: the metric list repeats an entry"),
        ({"train": {"metrics": "f1"}}, "train.metrics: must be a list"),
    ],
)
def test_unknown_metrics_name_the_key_and_the_nearest_spelling(raw, text):
    assert text in error_of(raw)


def test_each_metric_knows_its_task_and_top_k_its_k():
    assert [metric_task(m) for m in ("f1", "auroc", "top5", "r2", "mae", "rmse")] == ["classification"] * 3 + [
        "regression"
    ] * 3
    assert top_k("top12") == 12 and top_k("f1") is None
