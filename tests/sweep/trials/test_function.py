"""trials/function.py: a function in its thread, each report answered: go on, wait, or stop (TrialStopped)."""

import queue

import pytest

from lrsweep.sweep.trials.function import GO, STOP, FunctionThread, Trial, TrialStopped

VALUES = {"lr": 0.01, "seed": 1, "epochs": 3, "device": "cpu", "trial_dir": "/tmp/t", "trial_id": "lr0.01-s1"}


def test_a_trial_carries_the_values_and_checks_the_epoch():
    trial = Trial(VALUES, {"width": 8}, lambda epoch, metrics: GO)
    assert (trial.lr, trial.seed, trial.epochs, trial.device, str(trial.dir), trial.id) == (
        0.01,
        1,
        3,
        "cpu",
        "/tmp/t",
        "lr0.01-s1",
    )
    assert trial.params == {"width": 8} and "lr=0.01" in repr(trial)
    trial.report(1, val_loss=0.5)
    for bad in (0, 1.5, True, "1"):
        with pytest.raises(ValueError, match="epoch must be a whole number"):
            trial.report(bad, val_loss=0.5)


def run(fn):
    posted: queue.Queue = queue.Queue()
    thread = FunctionThread(fn, VALUES, {}, posted.put)
    return thread, posted


def test_each_report_waits_for_its_answer_and_stop_raises_inside_the_function():
    seen = []

    def train(trial):
        try:
            for epoch in range(1, trial.epochs + 1):
                trial.report(epoch, val_loss=1.0 / epoch)
                seen.append(epoch)
        finally:
            seen.append("cleaned up")

    thread, posted = run(train)
    kind, runner, epoch, metrics = posted.get(timeout=5)
    assert (kind, runner, epoch, metrics) == ("report", thread, 1, {"val_loss": 1.0})
    assert seen == []  # waiting for the answer
    thread.answer(GO)
    assert posted.get(timeout=5)[2] == 2 and seen == [1]
    thread.answer(STOP)
    assert posted.get(timeout=5) == ("exit", thread, None, None)  # TrialStopped is no error
    assert seen == [1, "cleaned up"] and thread.stopping


def test_stop_before_a_report_answers_it_at_once():
    def train(trial):
        trial.report(1, val_loss=1.0)
        trial.report(2, val_loss=0.5)

    thread, posted = run(train)
    posted.get(timeout=5)
    thread.stop()
    assert posted.get(timeout=5) == ("exit", thread, None, None)
    thread.thread.join(5)
    assert not thread.alive()


def test_what_the_function_raises_is_its_error_with_the_traceback():
    def train(trial):
        raise KeyError("no such column: label")

    thread, posted = run(train)
    kind, _runner, error, trace = posted.get(timeout=5)
    assert kind == "exit" and error == "KeyError: 'no such column: label'" and "raise KeyError" in trace


def test_trial_stopped_passes_an_except_exception_of_the_users_code():
    assert not issubclass(TrialStopped, Exception) and issubclass(TrialStopped, BaseException)
