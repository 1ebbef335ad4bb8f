"""select.at (the epoch a variant is scored at) and stuck at chance, from metrics.csv rows alone."""

from lrsweep.select.health import Scoring, best_epoch_row, health, scored_row, stuck_reason


def rows(val_loss, val_acc=None, train_loss=None):
    n = len(val_loss)
    return [
        {
            "epoch": e + 1,
            "train_loss": (train_loss or [1.0 / (e + 1)] * n)[e],
            "val_loss": val_loss[e],
            "val_acc": (val_acc or [None] * n)[e],
        }
        for e in range(n)
    ]


def test_at_best_picks_the_best_epoch_by_the_metric_and_direction_earliest_of_equals():
    epochs = rows([0.9, 0.5, 0.5, 0.7], val_acc=[0.6, 0.8, 0.9, 0.9])
    assert scored_row(epochs, Scoring("val_loss", "min", "best"))["epoch"] == 2
    assert scored_row(epochs, Scoring("val_acc", "max", "best"))["epoch"] == 3
    assert scored_row(epochs, Scoring("val_loss", "min", "last"))["epoch"] == 4
    assert best_epoch_row(rows([float("nan"), None]), "val_loss", "min") is None
    assert scored_row(rows([float("nan"), None]), Scoring("val_loss", "min", "best"))["epoch"] == 2  # the last
    assert scored_row([], Scoring(at="best")) == {}


def test_scoring_from_a_config_yaml_mapping_infers_the_direction():
    assert Scoring.of({"metric": "val_f1", "at": "best"}) == Scoring("val_f1", "max", "best")
    assert Scoring.of({}) == Scoring("val_loss", "min", "last")


def test_accuracy_at_the_majority_class_rate_is_stuck_after_the_first_epochs():
    healthy = rows([1.0, 0.8, 0.6], val_acc=[0.5, 0.8, 0.9])
    chance = rows([2.3, 2.3, 2.3], val_acc=[0.6, 0.2, 0.095], train_loss=[0.9, 2.1, 2.3])  # learned, collapsed
    assert stuck_reason(healthy, healthy[-1], chance=0.11) is None
    reason = stuck_reason(chance, chance[-1], chance=0.11)
    assert reason.startswith("val_acc 0.095 at epoch 3 is chance") and "0.11" in reason
    assert stuck_reason(chance[:1], chance[0], chance=0.11) is None  # one epoch: too young to tell
    assert stuck_reason(chance, chance[0], chance=0.11) is None  # scored at its best epoch, it had learned


def test_a_training_loss_never_below_its_first_epochs_is_stuck_regression_too():
    flat = rows([5.0, 5.1, 5.0], train_loss=[4.0, 4.0, 4.2])
    assert "never fell below its first epoch's 4" in stuck_reason(flat, flat[-1], chance=None)
    learning = rows([5.0, 4.0, 3.0], train_loss=[4.0, 3.9, 3.0])
    assert stuck_reason(learning, learning[-1], chance=None) is None


def test_health_is_what_status_json_says_of_a_finished_variant():
    epochs = rows([1.0, 0.5, 0.6], val_acc=[0.4, 0.9, 0.85])
    assert health(epochs, Scoring("val_loss", "min", "best"), chance=0.3) == {
        "stuck": False,
        "stuck_reason": None,
        "best_epoch": 2,
    }
    assert "best_epoch" not in health(epochs, Scoring(), chance=0.3)
