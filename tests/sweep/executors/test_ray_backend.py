"""The Ray backend on a local Ray instance (started once for the module): the local backend's summary,
results written by the driver, and a task that keeps crashing fails only its variants."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
import ray
from helpers import Recorded, sibling_tests

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
