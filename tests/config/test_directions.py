"""Which way a metric is better, from its name: select.mode's default."""

import pytest

from lrsweep.config.directions import inferred_mode, metric_mode


@pytest.mark.parametrize(
    "name, mode",
    [
        ("val_loss", "min"),
        ("train_loss", "min"),
        ("eval_losses", "min"),
        ("val_mae", "min"),
        ("val_rmse", "min"),
        ("val_error", "min"),
        ("eval/perplexity", "min"),
        ("val_acc", "max"),
        ("accuracy", "max"),
        ("eval_f1", "max"),
        ("val_auroc", "max"),
        ("val_r2", "max"),
        ("val_top5", "max"),
        ("eval/top5_acc", "max"),
        ("eval_bleu", "max"),
        ("throughput", None),
        ("loss_acc", None),
        ("val_widgets", None),
    ],
)
def test_the_name_tells_the_direction_or_nothing(name, mode):
    assert inferred_mode(name) == mode


def test_a_given_mode_wins_and_an_unknown_name_asks_for_one():
    assert metric_mode("val_loss", "max") == "max"
    assert metric_mode("eval_f1") == "max"
    with pytest.raises(ValueError, match="give select.mode"):
        metric_mode("throughput")
    with pytest.raises(ValueError, match="min or max"):
        metric_mode("val_loss", "up")
