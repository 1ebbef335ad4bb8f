"""benchmarks/selection.py's instrument: its tasks' truths are cached and informative, its own models and
data are what they say, its report's arithmetic is right. Nothing here trains."""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# The truths cached before issue #19: their keys (a hash of the task) must never change.
FIRST_SIX = {
    "mnist-mlp-sgdm": "18f81d3720",
    "mnist-cnn-adam": "1589dfa678",
    "tabular-mlp-sgd": "2f1c4a69c9",
    "logreg-adam": "fa6b36de12",
    "linreg-gd-synthetic": "c4ff39a3a0",
    "linreg-gd-raw-csv": "507c61912a",
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The benchmark's modules, importable by name as selection.py imports them; generated data in a tmp folder."""
    names = ("selection_data", "selection_models", "selection_tasks", "selection_report", "selection_timing")
    names += ("selection", "selection_compare")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "benchmarks"))
        patch.setenv("LRSWEEP_DATA", str(tmp_path_factory.mktemp("selection-data")))
        yield {name: importlib.import_module(name) for name in names}
        for name in names:
            sys.modules.pop(name, None)


def test_every_task_has_a_cached_truth_under_its_key(bench):
    tasks = bench["selection_tasks"]
    truths = tasks.load_truths()
    defined = tasks.tasks()
    assert len(defined) == 12 and set(FIRST_SIX) < set(defined)
    for name, (raw, _) in defined.items():
        assert truths[name]["key"] == tasks.task_key(raw), f"{name}: the task changed; its truth would be recomputed"
        assert truths[name]["key"] == FIRST_SIX.get(name, truths[name]["key"])
        assert truths[name]["data"] == tasks.data_name(raw), f"{name}: its data file changed"
    assert set(tasks.DEV_TASKS) < set(FIRST_SIX)  # the new tasks are all held out


def test_the_new_tasks_bands_are_informative_and_timed(bench):
    """Not every LR in the band, nor a single grid point; each truth says how long it took."""
    tasks = bench["selection_tasks"]
    truths = tasks.load_truths()
    for name in set(tasks.tasks()) - set(FIRST_SIX):
        entry = truths[name]
        means = [tasks.seed_mean(s) for s in entry["grid"].values()]
        best = min(means)
        inside = sum(m <= (1 + tasks.BAND) * best for m in means)
        assert len(means) == tasks.TRUTH_POINTS and 2 <= inside <= tasks.TRUTH_POINTS // 2, (name, inside)
        assert entry["timing"]["seconds"] > 0 and entry["timing"]["cpu_seconds"] > 0


def test_the_models_map_images_to_logits(bench):
    models = bench["selection_models"]
    x = torch.randn(5, 1, 28, 28)
    for model in (models.bn_cnn((1, 28, 28), 10), models.row_gru((1, 28, 28), 10, width=8)):
        assert model(x).shape == (5, 10)
    gru = models.row_gru((1, 28, 28), 10, width=8)
    assert gru.gru.input_size == 28  # one row of pixels per step, 28 steps


def test_noisy_labels_flip_the_asked_share_to_another_class(bench):
    data = bench["selection_data"]
    clean = np.load(data.mnist_subset(1500, 500))
    noisy = np.load(data.mnist_noisy(1500, 500, flip=0.2))
    changed = clean["y"] != noisy["y"]
    assert abs(changed.mean() - 0.2) < 0.03  # every drawn flip moves to one of the 9 other classes
    assert set(np.unique(noisy["y"])) == set(range(10))
    assert np.array_equal(clean["y_test"], noisy["y_test"]) and np.array_equal(clean["x"], noisy["x"])
    assert np.array_equal(noisy["y"], np.load(data.mnist_noisy(1500, 500, flip=0.2))["y"])  # seeded


def test_the_ratio_summary_is_a_geometric_mean(bench):
    report = bench["selection_report"]
    cell = report.ratio_cell([(0.5, 1.0), (2.0, 4.0), (1.0, 1.0)])
    assert cell == f"geo-mean 1.00 ({math.pow(4, 1 / 3):.2f}) · 0.50–2.00 · ≤1 on 2/3"


def test_unknown_task_or_strategy_exits_2_naming_the_nearest(bench, capsys):
    selection = bench["selection"]
    with pytest.raises(SystemExit) as stop:
        selection.main(["logreg-adm"])
    assert stop.value.code == 2 and "did you mean 'logreg-adam'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        selection.main(["--strategies", "tune,grd5", "logreg-adam"])
    assert stop.value.code == 2 and "unknown strategy 'grd5' (did you mean 'grid5'?)" in capsys.readouterr().err


def test_the_readme_table_comes_from_the_json_file(bench):
    report = bench["selection_report"]

    def row(strategy, lr, ok, seconds):
        return dict(strategy=strategy, lr=lr, ok=ok, cost=15.0, loss=0.5, seconds=seconds, cpu_seconds=1.0)

    tasks = [
        {"task": "logreg-adam", "held_out": True, "band": [0.004, 0.1], "dense": {"seconds": 30.0}, "strategies": {}},
        {"task": "mnist-mlp-sgdm", "held_out": False, "band": [0.01, 0.01], "dense": {"seconds": 10.0}},
    ]
    tasks[0]["strategies"] = {"tune": row("tune", 0.04, True, 2.0), "grid5": row("grid5", 0.01, True, 4.0)}
    tasks[1]["strategies"] = {"tune": row("tune", 0.02, False, 8.0), "grid5": row("grid5", float("nan"), False, 2.0)}
    lines = report.markdown({"meta": {"strategies": ["tune", "grid5"]}, "tasks": tasks}).splitlines()
    assert len(lines) == 5 and lines[0].count("|") == 8
    assert lines[2].startswith("| logreg-adam (held out) | logistic regression, Adam | 0.004–0.1 | 72 · 30.0s |")
    assert "| yes 0.04 · 15.0 · 2.0s |" in lines[2] and lines[2].endswith("| 0.50 (1.00) |")
    assert "0.01 (one grid point)" in lines[3] and "NO (no pick) · 15.0 · 2.0s" in lines[3]
    summary = "| **72 · 20.0s** | **1/2 · 15.0 · 5.0s** | **1/2 · 15.0 · 3.0s** |"
    assert lines[4].endswith(summary + " **geo-mean 1.41 (1.00) · 0.50–4.00 · ≤1 on 1/2** |")


def test_before_and_after_runs_compare_task_by_task(bench):
    compare = bench["selection_compare"]

    def row(strategy, cost, seconds):
        return dict(strategy=strategy, lr=0.01, ok=True, cost=cost, loss=0.5, seconds=seconds, cpu_seconds=seconds)

    def run(budget, tune_s, strategies):
        rows = {"tune": row("tune", budget - 2, tune_s), "grid5": row("grid5", 15.0, 4.0)}
        rows.update({s: row(s, 1.0, 1.0) for s in strategies if s not in rows})
        task = {"task": "logreg-adam", "held_out": True, "band": [0.004, 0.1], "strategies": rows}
        return {"meta": {"budget": budget, "strategies": strategies, "load": [1.0, 2.0], "cpus": 2}, "tasks": [task]}

    table = compare.markdown(run(14.0, 8.0, ["tune", "find", "grid5"]), run(8.0, 2.0, ["tune", "grid5"]))
    lines = table.splitlines()
    assert "tune before (budget 14)" in lines[0] and "tune after (budget 8)" in lines[0]
    assert "find (before's run)" in lines[0]
    assert "| yes 0.01 · 12.0 · 8.0s | yes 0.01 · 6.0 · 2.0s | yes 0.01 · 15.0 · 4.0s | 2.00 | 0.50 |" in lines[2]
    assert "geo-mean 0.50 (0.50)" in lines[3] and "1 tasks; 2 CPUs" in lines[5]
