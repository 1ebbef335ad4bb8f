"""tune's stages: each in the one run directory, the budget never exceeded, the pick among the finals."""

import json

import pytest

from lrsweep.api.tuning import TuneSettings, tune
from lrsweep.errors import UsageError
from lrsweep.run.store import RunStore

SMALL = TuneSettings(scouts=4, finalists=2)


def test_tune_picks_among_its_finals_within_budget_and_records_every_stage(task, tmp_path):
    result = tune(task, out=tmp_path, budget=10, settings=SMALL)
    assert result.status == "finished" and result.best is not None
    assert result.cost["trainings"] <= 10
    names = [s["stage"] for s in result.stages]
    assert names[:2] == ["range", "scout"] and names[-1] == "final"
    final = next(s for s in result.stages if s["stage"] == "final")
    assert result.best["lr"] in final["lrs"] and result.best["n"] == 2
    assert result.band["low"] <= result.best["lr"] <= result.band["high"]
    low, high = result.stages[0]["bounds"]["low"], result.stages[0]["bounds"]["high"]
    assert all(low * 0.99 <= lr <= high * 1.01 for lr in result.stages[1]["lrs"])
    store = RunStore.open(result.run_dir)
    assert store.read_tune() == json.loads(json.dumps(result.to_dict()))
    stages = {store.read_status(v)["stage"] for v in store.variant_ids()}
    assert stages <= {"scout", "rung", "refine", "final"} and {"scout", "rung", "final"} <= stages
    summary = store.read_summary()
    assert summary["best"]["lr"] == result.best["lr"] and summary["retrain"]["status"] == "done"
    assert len(summary["variants"]) == len(store.variant_ids()) and all(r["stage"] for r in summary["variants"])
    epochs = sum(len(store.read_metrics(v)) for v in store.variant_ids())
    assert result.cost["variant_epochs"] == epochs  # the cost is what the files say was trained


@pytest.mark.parametrize("budget", [5.5])
def test_the_budget_is_never_exceeded(task, tmp_path, budget):
    result = tune(task, out=tmp_path, budget=budget, settings=SMALL)
    assert result.cost["trainings"] <= budget
    assert result.best is not None


def test_a_budget_too_small_is_a_usage_error(task, tmp_path):
    with pytest.raises(UsageError, match="budget"):
        tune(task, out=tmp_path, budget=1, settings=SMALL)


def test_a_ceiling_where_the_range_test_blew_up_gets_one_scout_above_it(task, tmp_path):
    """RMSprop's range test blows up (no stability edge for an adaptive method): the top scout checks above the
    ceiling, a spacing up, and tune.json says so; SGD's ceiling is its stability edge, and no scout passes it."""
    settings = TuneSettings(scouts=5, finalists=1)
    result = tune({**task, "optimizer": {"name": "rmsprop"}}, out=tmp_path / "rmsprop", budget=8, settings=settings)
    ceiling = result.range_test["ceiling"]
    scout = next(s for s in result.stages if s["stage"] == "scout")
    below = scout["lrs"][:-1]
    assert max(below) == ceiling and scout["above_ceiling"] == scout["lrs"][-1] > ceiling
    assert scout["lrs"][-1] / ceiling == pytest.approx(below[-1] / below[-2], rel=1e-2)  # one spacing up
    assert "above the range test's ceiling" in scout["reason"]
    assert result.cost["trainings"] <= 8

    plain = tune({**task, "optimizer": {"name": "sgd"}}, out=tmp_path / "sgd", budget=8, settings=settings)
    scout = next(s for s in plain.stages if s["stage"] == "scout")
    assert plain.range_test["edge_lr"] is not None and scout["above_ceiling"] is None
    assert max(scout["lrs"]) == plain.range_test["ceiling"]
