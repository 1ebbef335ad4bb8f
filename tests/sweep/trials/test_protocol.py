"""trials/protocol.py: what a trial reports becomes rows, and the verdicts drawn from it."""

import math

import pytest

from lrsweep.sweep.trials.protocol import DIVERGED, DONE, FAILED, PROTOCOL, Reports


def reports(epochs=3, metric="val_loss", direction="min"):
    return Reports(epochs, metric, direction, blowup=10.0)


def test_json_lines_with_an_epoch_are_reports_and_everything_else_is_ignored():
    r = reports()
    lines = [
        "Epoch 1/3: 100%|#####|",
        '{"epoch": 1, "val_loss": 0.5, "acc": 0.8}',
        "{not json",
        '["epoch", 2]',
        '{"loss": 0.1}',
        '  {"epoch": 2, "val_loss": 0.4, "note": "text", "ok": true, "none": null}  ',
    ]
    assert [r.line(line) for line in lines] == [False, True, False, False, False, True]
    assert r.rows == [{"epoch": 1, "val_loss": 0.5, "acc": 0.8}, {"epoch": 2, "val_loss": 0.4, "none": None}]
    assert r.dropped == {"note", "ok"} and r.verdict is None


def test_a_second_report_of_an_epoch_adds_to_it_and_earlier_or_later_epochs_are_ignored():
    r = reports(epochs=2)
    for line in ('{"epoch": 1, "train_loss": 0.9}', '{"epoch": 1, "val_loss": 0.5}', '{"epoch": 2, "val_loss": 0.4}'):
        r.line(line)
    r.line('{"epoch": 1, "val_loss": 99}')  # an old epoch
    r.line('{"epoch": 3, "val_loss": 0.1}')  # beyond the epochs asked for
    assert r.rows == [{"epoch": 1, "train_loss": 0.9, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.4}]
    assert r.finish() == (DONE, None)


@pytest.mark.parametrize(
    "second, status, words",
    [
        ({"val_loss": math.nan}, DIVERGED, "val_loss is nan at epoch 2"),
        ({"val_loss": 0.3, "train_loss": math.inf}, DIVERGED, "train_loss is inf"),
        ({"val_loss": 5.1}, DIVERGED, "more than 10x its first value 0.5"),
        ({"val_loss": 4.9}, None, None),
    ],
)
def test_a_non_finite_loss_or_a_runaway_selection_metric_is_a_divergence(second, status, words):
    r = reports()
    r.add(1, {"val_loss": 0.5})
    r.add(2, second)
    assert (r.verdict or (None, None))[0] == status
    if words:
        assert words in r.verdict[1]


def test_a_metric_where_higher_is_better_never_runs_away_but_nan_still_diverges():
    r = reports(metric="val_f1", direction="max")
    r.add(1, {"val_f1": 0.01})
    r.add(2, {"val_f1": 0.9})
    assert r.verdict is None
    r.add(3, {"val_f1": math.nan})
    assert r.verdict == (DIVERGED, "val_f1 is nan at epoch 3")


@pytest.mark.parametrize(
    "lines, words",
    [
        ([], "reported no epoch"),
        (['{"epoch": 1, "val_loss": 0.5}'], "ended after reporting epoch 1 of 3"),
        (['{"epoch": 1, "val_loss": 0.5}', '{"epoch": 3, "val_loss": 0.4}'], "reported epoch 3 after epoch 1"),
        (['{"epoch": 0, "val_loss": 0.5}'], "the epoch must be a whole number >= 1"),
        (['{"epoch": "1", "val_loss": 0.5}'], "the epoch must be a whole number >= 1"),
        (['{"epoch": 1, "eval_loss": 0.5}', '{"epoch": 2, "eval_loss": 0.4}'], "epoch 1 reported no val_loss"),
    ],
)
def test_breaking_the_protocol_fails_the_trial_saying_how(lines, words):
    r = reports()
    for line in lines:
        r.line(line)
    status, why = r.finish()
    assert status == FAILED and words in why


def test_no_report_explains_the_protocol_and_an_error_of_the_trial_comes_first():
    r = reports()
    assert PROTOCOL in r.finish()[1]
    assert '{"epoch": 1, "val_loss": 0.42}' in PROTOCOL and "$LRSWEEP_METRICS_FILE" in PROTOCOL
    r.add(1, {"val_loss": 0.5})
    assert r.finish("exited with code 3: boom") == (FAILED, "exited with code 3: boom")


def test_numbers_of_numpy_and_torch_are_read_and_integers_become_floats():
    np = pytest.importorskip("numpy")
    r = reports(epochs=1)
    r.add(1, {"val_loss": np.float32(0.25), "count": 3, "flag": np.array([1.0, 2.0])})
    assert r.rows == [{"epoch": 1, "val_loss": 0.25, "count": 3.0}] and r.dropped == {"flag"}
    assert isinstance(r.rows[0]["count"], float)
