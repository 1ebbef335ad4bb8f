"""The Ray backend on a local Ray instance (started once for the module): the local backend's summary,
results written by the driver, and a task that keeps crashing fails only its variants; trials of your own code
(executors/ray_trials.py) share the instance."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
import ray
from helpers import Recorded, sibling_tests

import lrsweep
from lrsweep.cli import app
from lrsweep.sweep.executors.ray_backend import RayExecutor

_executors = sibling_tests("sweep/executors/test_executors.py")
SWEEP, assert_same_sweep, sweep = _executors.SWEEP, _executors.assert_same_sweep, _executors.sweep

# Kills the Ray worker that builds it for seed 1; the driver (no task id) builds it unharmed.
CRASHING_MODEL = """
import math, os
import ray, torch
from torch import nn

def make(input_shape, output_size):
    if ray.is_initialized() and ray.get_runtime_context().get_task_id() and torch.initial_seed() == 1:
        os._exit(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), output_size))
"""


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A 2-CPU local Ray whose workers can import the test's model module."""
    folder = tmp_path_factory.mktemp("ray_models")
    (folder / "ray_crashing_model.py").write_text(textwrap.dedent(CRASHING_MODEL))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
        mp.syspath_prepend(str(folder))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        yield folder
        ray.shutdown()


def test_ray_backend_gives_the_summary_of_the_local_backend(local_ray, tmp_path):
    reference = sweep(SWEEP, tmp_path / "local")
    events = Recorded()
    executor = RayExecutor()
    summary = sweep(SWEEP, tmp_path / "ray", executor, events)
    assert_same_sweep(summary, reference)
    assert executor.parallelism == 2 and events.packs == [2, 2]
    assert {r["backend"] for r in summary["variants"]} == {"ray"}
    assert all(r["device"].startswith("cpu@") for r in summary["variants"])
    run = next((tmp_path / "ray").iterdir())
    assert len(list(run.glob("variants/*/metrics.csv"))) == 4 and (run / "retrain" / "status.json").exists()


def test_a_ray_task_that_keeps_crashing_fails_its_variants_after_rays_retry(local_ray, runner, write_config, tmp_path):
    raw = {**SWEEP, "seeds": [0, 1], "lr": [0.1], "model": {"name": "ray_crashing_model:make"}}
    raw.pop("seed")
    result = runner.invoke(
        app, ["grid", str(write_config(raw)), "--backend", "ray", "--json", "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 1, result.output
    rows = {r["seed"]: r for r in json.loads(result.stdout)["variants"]}
    assert rows[0]["status"] == "done" and rows[0]["backend"] == "ray"
    assert rows[1]["status"] == "failed" and "Ray task failed" in rows[1]["error"]


def test_missing_ray_is_a_usage_error_naming_the_extra(runner, write_config, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    result = runner.invoke(app, ["grid", str(write_config(SWEEP)), "--backend", "ray"])
    assert result.exit_code == 2
    assert "pip install 'lrsweep[ray]'" in result.output


def test_asha_on_ray_makes_the_local_cuts(local_ray, tmp_path):
    halving = sibling_tests("select/test_halving.py")
    TOY, by_lr, toy_sweep = halving.TOY, halving.by_lr, halving.sweep

    from lrsweep.run.store import RunStore

    local = toy_sweep(TOY, RunStore.create(tmp_path, "local"))
    remote = toy_sweep(TOY, RunStore.create(tmp_path, "ray"), executor=RayExecutor())
    assert {lr: (r["status"], r["epochs_run"]) for lr, r in by_lr(remote).items()} == {
        lr: (r["status"], r["epochs_run"]) for lr, r in by_lr(local).items()
    }
    assert remote["best"]["lr"] == local["best"]["lr"]


# Trials of your own code on Ray (executors/ray_trials.py): one task per trial, on the instance started above.

_trials = sibling_tests("sweep/executors/test_trials.py")


def test_command_trials_on_ray_are_one_task_each_and_train_again_from_epoch_1_when_promoted(local_ray, tmp_path):
    config = _trials.command_config([1.0, 0.01, 0.03], {0.03: "silent"}, prune={"type": "asha", "reduction": 3})
    result = lrsweep.grid(config, out=tmp_path, backend="ray")
    rows, run = _trials.rows_by_lr(result), result.run_dir
    assert (rows[0.01]["status"], rows[0.01]["epochs_run"], rows[0.01]["backend"]) == ("done", 3, "ray")
    assert rows[0.01]["device"].startswith("cpu@") and rows[1.0]["status"] == "pruned"
    assert rows[0.03]["status"] == "failed" and "reported no epoch" in rows[0.03]["error"]
    assert len(_trials.pids_of(run, rows[0.01]["id"])) == 2  # to the rung, then from epoch 1 to the end
    log = (run / "variants" / rows[0.01]["id"] / "stdout.log").read_text()
    assert log.count("{not json") == 2 and "---- lrsweep: the trial starts again ----" in log
    assert (run / "variants" / rows[0.03]["id"] / "stderr.log").read_text() == "done\n"
    assert result.failed and all(_trials.gone(pid) for row in rows.values() for pid in _trials.pids_of(run, row["id"]))


def test_a_function_on_ray_reports_back_from_its_task(local_ray, tmp_path):
    def train(trial):
        for epoch in range(1, trial.epochs + 1):
            trial.report(epoch, val_acc=1.0 / (1.0 + abs(trial.lr - 0.1)) - 0.1 / epoch)

    result = lrsweep.grid(train, lr=[0.01, 0.1], epochs=2, metric="val_acc", out=tmp_path, backend="ray")
    assert result.best.lr == 0.1 and {r["backend"] for r in result.summary["variants"]} == {"ray"}
    assert [r["epoch"] for r in lrsweep.load_run(result.run_dir).metrics(result.best.id)] == [1, 2]
