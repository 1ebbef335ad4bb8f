"""api/trials.py: your own Python function through lrsweep.grid and lrsweep.tune, the same results as any run."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import pytest

import lrsweep
from lrsweep.api.runs import load_run
from lrsweep.api.trials import function_spec
from lrsweep.errors import ConfigError, UsageError
from lrsweep.sweep.trials import TrialStopped


def loss_at(lr: float, epoch: int, seed: int = 0) -> float:
    return (math.log10(lr) + 2) ** 2 + 1.0 / epoch + 0.01 * seed


def test_grid_over_a_function_ranks_any_metric_it_reports(tmp_path):
    seen = []

    def train(trial):
        seen.append((trial.lr, trial.seed, trial.epochs, trial.device, trial.dir.is_dir(), trial.params))
        for epoch in range(1, trial.epochs + 1):
            loss = loss_at(trial.lr, epoch, trial.seed)
            trial.report(epoch, val_loss=loss, val_f1=1 / (1 + loss))

    result = lrsweep.grid(
        train, lr=[1e-3, 1e-2, 1e-1], epochs=2, seeds=[0, 1], metric="val_f1", mode="max", out=tmp_path
    )
    assert result.best.lr == 0.01 and result.best.n == 2 and not result.failed and result.retrain is None
    assert result.summary["direction"] == "max" and result.summary["metrics"] == ["val_f1"]
    assert sorted(seen) == sorted((lr, s, 2, "cpu", True, {}) for lr in (1e-3, 1e-2, 1e-1) for s in (0, 1))
    run = load_run(result.run_dir)
    assert run.config["function"] == function_spec(train) and run.config["train"] == {"epochs": 2}
    assert [r["val_f1"] for r in run.metrics(result.best.id)] == [1 / (1 + loss_at(0.01, e)) for e in (1, 2)]
    assert result.table()[0]["lr"] == 0.01 and result.run_dir.name.startswith("train-")


def test_a_function_waits_at_the_rung_and_a_pruned_one_is_stopped_inside_report(tmp_path):
    events = []

    def train(trial):
        try:
            for epoch in range(1, trial.epochs + 1):
                events.append((trial.lr, epoch, threading.active_count()))
                trial.report(epoch, val_loss=loss_at(trial.lr, epoch))
        except TrialStopped:
            events.append((trial.lr, "stopped"))
            raise

    result = lrsweep.grid(
        train, lr=[1.0, 0.1, 0.01, 0.0001], epochs=3, out=tmp_path, overrides={"prune": "asha"}, jobs=2
    )
    statuses = {r["lr"]: (r["status"], r["epochs_run"]) for r in result.summary["variants"]}
    assert statuses == {0.01: ("done", 3), 0.1: ("pruned", 1), 1.0: ("pruned", 1), 0.0001: ("pruned", 1)}
    assert sorted(e[0] for e in events if e[1] == "stopped") == [0.0001, 0.1, 1.0]
    assert [e[1] for e in events if e[0] == 0.01] == [1, 2, 3]  # carried on where it waited, not started again
    assert not [e for e in events if e[0] != 0.01 and e[1] not in (1, "stopped")]  # nobody trained past the rung


def test_what_goes_wrong_in_a_function_becomes_its_outcome(tmp_path):
    stopped = []

    def train(trial):
        if trial.lr == 0.2:
            raise RuntimeError("CUDA out of memory")
        if trial.lr == 0.3:
            return  # never reports
        try:
            for epoch in range(1, trial.epochs + 1):
                if trial.lr == 0.5 and epoch == 2:
                    time.sleep(2)  # a timeout, noticed at its next report
                trial.report(epoch, val_loss=math.nan if trial.lr == 0.4 and epoch == 2 else loss_at(trial.lr, epoch))
        except TrialStopped:
            stopped.append(trial.lr)
            raise

    lrs = [0.1, 0.2, 0.3, 0.4, 0.5]
    stopping = {"trials.timeout": 1.0, "trials.stop_grace": 0.1}
    result = lrsweep.grid(train, lr=lrs, epochs=3, out=tmp_path, overrides=stopping, jobs=5)
    rows = {r["lr"]: r for r in result.summary["variants"]}
    assert rows[0.1]["status"] == "done" and result.failed
    assert rows[0.2]["status"] == "failed" and rows[0.2]["error"] == "RuntimeError: CUDA out of memory"
    status = load_run(result.run_dir)._files().read_status(rows[0.2]["id"])
    assert 'raise RuntimeError("CUDA out of memory")' in status["traceback"]
    assert rows[0.3]["status"] == "failed" and "reported no epoch: call trial.report(epoch" in rows[0.3]["error"]
    assert rows[0.4]["status"] == "diverged" and rows[0.4]["epochs_run"] == 2
    assert rows[0.5]["status"] == "failed" and "timed out after 1 s" in rows[0.5]["error"]
    deadline = time.monotonic() + 10
    while 0.5 not in stopped and time.monotonic() < deadline:  # its thread stops at its next report
        time.sleep(0.05)
    assert sorted(stopped) == [0.4, 0.5]


def test_tune_searches_the_span_of_lr_for_a_function(tmp_path):
    def train(trial):
        for epoch in range(1, trial.epochs + 1):
            trial.report(epoch, val_loss=loss_at(trial.lr, epoch, trial.seed))

    result = lrsweep.tune(train, lr=(1e-5, 1e-1), epochs=3, seeds=[0, 1], out=tmp_path, budget=8)
    assert result.status == "finished" and result.range_test is None
    assert result.stages[0]["stage"] == "range" and result.stages[0]["bounds"] == {"low": 1e-5, "high": 0.1}
    assert "the range test needs lrsweep's own training loop" in result.stages[0]["reason"]
    assert 0.003 < result.best.lr < 0.03 and result.best.lr == result.best["lr"]
    assert result.band.low <= result.best.lr <= result.band.high and result.cost.trainings <= 8
    assert result.cost.range_test_steps == 0


def test_a_function_run_resumes_from_python_with_the_function_again(tmp_path):
    calls = []

    def train(trial):
        calls.append(trial.lr)
        for epoch in range(1, trial.epochs + 1):
            trial.report(epoch, val_loss=loss_at(trial.lr, epoch))
            if trial.lr == 0.1 and len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while it trains: the next report stops it

    with pytest.raises(lrsweep.api.Interrupted) as stop:
        lrsweep.grid(train, lr=[0.01, 0.1], epochs=2, out=tmp_path)
    run_dir = stop.value.run_dir
    assert {r["status"] for r in stop.value.summary["variants"]} >= {"done"}
    result = lrsweep.grid(train, resume=run_dir)
    assert result.run_dir == run_dir and {r["status"] for r in result.summary["variants"]} == {"done"}
    assert calls == [0.01, 0.1, 0.1]  # 0.01 finished before the interrupt: not trained again


def test_the_python_keywords_are_checked_like_the_config():
    with pytest.raises(ConfigError, match="give select.mode"):
        lrsweep.grid(lambda trial: None, lr=[0.1], metric="eval_bleurt", out="/nonexistent/never")
    with pytest.raises(UsageError, match="--jobs runs several trials of your own code"):
        lrsweep.grid({"lr": [0.1]}, jobs=2, out="/nonexistent/never")
    with pytest.raises(UsageError, match="tune searches the span of lr"):
        lrsweep.tune(lambda trial: None, lr=[0.1], epochs=1, out="/tmp/lrsweep-test-never")


def test_a_functions_name_in_the_config_is_a_valid_spec_even_for_locals_and_lambdas():
    def inner(trial):
        pass

    assert function_spec(inner).split(":")[1].startswith("test_a_functions_name_in_the_config_is_a_valid_spec")
    assert function_spec(inner).split(":")[0].endswith("test_trials")
    assert function_spec(inner).endswith(".locals.inner")
    assert function_spec(lambda trial: None).endswith(".locals.lambda")


def test_a_trials_seconds_are_its_epochs_and_its_table_and_plots_name_no_optimizer_of_lrsweeps(tmp_path):
    from rich.console import Console

    from lrsweep.render.plots import write_plots
    from lrsweep.render.tables import summary_table, verdict
    from lrsweep.run.store import RunStore

    def train(trial):
        for epoch in range(1, trial.epochs + 1):
            time.sleep(0.05)
            trial.report(epoch, eval_f1=0.5 + epoch * trial.lr)

    result = lrsweep.grid(train, lr=[0.01, 0.1], epochs=2, metric="eval_f1", out=tmp_path)
    run = load_run(result.run_dir)
    for row in result.summary["variants"]:
        epochs = [r["seconds"] for r in run.metrics(row["id"])]
        status = RunStore(result.run_dir).read_status(row["id"])
        assert row["seconds"] == pytest.approx(sum(epochs), abs=2e-3)  # one definition: the sum of its epochs'
        assert status["seconds"] == pytest.approx(sum(epochs), abs=2e-3)
    console = Console(width=200, record=True)
    console.print(summary_table(result.summary))
    console.print(verdict(result.summary))
    shown = console.export_text()
    assert "trained by your function" in shown and "optimizer:" not in shown and "scheduler:" not in shown
    assert "Best: lr=0.1 (eval_f1" in shown and "val_loss" not in shown  # it reported no val_loss: no empty column
    written = {p.name for p in write_plots(RunStore(result.run_dir), result.summary)}
    assert "lr_schedule.png" not in written and "metric_vs_lr.png" in written  # no lr reported: no empty panel
