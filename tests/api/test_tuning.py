"""lrsweep.tune: an interrupted run resumed to the same pick; a resume keeps its settings."""

import pytest

from lrsweep.api.tuning import TuneSettings, tune
from lrsweep.errors import UsageError
from lrsweep.sweep.runner import Interrupted

SMALL = TuneSettings(scouts=4, finalists=2)


def test_an_interrupted_tune_resumes_to_the_same_pick(task, tmp_path, monkeypatch):
    whole = tune(task, out=tmp_path / "whole", budget=8, settings=SMALL)
    import lrsweep.sweep.runner as runner

    real, calls = runner.run_sweep, []

    def stop_in_the_finals(config, *args, **kwargs):
        calls.append(config)
        if len(config.seeds) > 1:
            raise Interrupted({})
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner, "run_sweep", stop_in_the_finals)
    with pytest.raises(Interrupted) as stopped:
        tune(task, out=tmp_path / "cut", budget=8, settings=SMALL)
    partial = stopped.value.summary
    assert partial["status"] == "interrupted" and partial["best"] is None
    monkeypatch.setattr(runner, "run_sweep", real)
    resumed = tune(resume=partial["run_dir"])
    wall = ("seconds",)  # wall time differs run to run; the resume adds its own to the interrupted run's
    assert resumed.best["lr"] == whole.best["lr"]
    assert {k: v for k, v in resumed.cost.items() if k not in wall} == {
        k: v for k, v in whole.cost.items() if k not in wall
    }
    assert resumed.cost["seconds"] >= partial["cost"]["seconds"]
    assert [s["lrs"] for s in resumed.stages if "lrs" in s] == [s["lrs"] for s in whole.stages if "lrs" in s]


def test_resume_refuses_other_settings_or_overrides(task, tmp_path):
    result = tune(task, out=tmp_path, budget=6, settings=SMALL)
    with pytest.raises(UsageError, match="budget=6"):
        tune(resume=result.run_dir, budget=9)
    with pytest.raises(UsageError, match="--set"):
        tune(resume=result.run_dir, overrides=["train.epochs=5"])


def test_a_tune_of_several_batch_sizes_interrupted_in_the_second_resumes_keeping_the_first(task, tmp_path, monkeypatch):
    import lrsweep.sweep.runner as runner

    raw = {**task, "data": {**task["data"], "batch_size": [8, 32]}, "retrain": False, "seeds": [0]}
    real = runner.run_sweep

    def stop_at_batch_size_8(config, *args, **kwargs):
        if config.batch_sizes == (8,):
            raise Interrupted({})
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner, "run_sweep", stop_at_batch_size_8)
    with pytest.raises(Interrupted) as stopped:
        tune(raw, out=tmp_path, budget=7, settings=SMALL)  # 32 first (its range test costs the most), then 8
    partial = stopped.value.summary
    assert partial["status"] == "interrupted" and partial["batch_sizes"]["32"]["status"] == "finished"
    monkeypatch.setattr(runner, "run_sweep", real)
    resumed = tune(resume=partial["run_dir"])
    assert list(resumed.batch_sizes) == ["8", "32"] and resumed.status == "finished"
    assert resumed.batch_sizes["32"]["best"] == partial["batch_sizes"]["32"]["best"]
    assert resumed.best["batch_size"] in (8, 32) and resumed.scaling["measured_exponent"] is not None
