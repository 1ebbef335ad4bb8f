"""Grid extension: pure planning, and `grid --extend` moving an edge-best lr to the interior."""

from __future__ import annotations

import json

import pytest
import yaml

from lrsweep.cli import app
from lrsweep.config import parse_config
from lrsweep.select.extend import DEFAULT_MAX_EXTENSIONS, beyond, edge_ratio, extended_grid, next_extension


def summary_with_edge(edge):
    return {"best": {"lr": 1.0, "edge": edge}}


def test_points_beyond_an_edge_keep_the_grid_spacing_there():
    assert beyond((0.01, 0.1, 1.0), "high").added == (10.0, 100.0)
    assert beyond((0.01, 0.1, 1.0), "low").added == (0.0001, 0.001)
    # an uneven list: the spacing at that edge (2.0 / 1.0), not the average
    assert beyond((0.001, 0.01, 0.1, 0.5, 1.0, 2.0), "high").added == (4.0, 8.0)
    assert beyond((0.001, 0.003), "low", points=3).added == (3.7037e-05, 0.000111111, 0.000333333)
    assert edge_ratio((0.5,), "high") == 10.0  # one point: a decade


def test_extended_grid_keeps_the_original_order_and_adds_on_the_right_side():
    low = beyond((0.1, 0.01, 1.0), "low")
    assert extended_grid((0.1, 0.01, 1.0), low) == (0.0001, 0.001, 0.1, 0.01, 1.0)
    high = beyond((0.1, 0.01, 1.0), "high")
    assert extended_grid((0.1, 0.01, 1.0), high) == (0.1, 0.01, 1.0, 10.0, 100.0)
    assert "upwards" in high.describe() and "10, 100" in high.describe()


def test_next_extension_stops_when_interior_absent_or_capped():
    lrs = (0.01, 0.1, 1.0)
    assert next_extension(lrs, summary_with_edge("high"), done=0).edge == "high"
    assert next_extension(lrs, summary_with_edge(None), done=0) is None
    assert next_extension(lrs, {"best": None}, done=0) is None
    assert next_extension(lrs, summary_with_edge("low"), done=DEFAULT_MAX_EXTENSIONS) is None
    assert next_extension(lrs, summary_with_edge("low"), done=1, cap=1) is None


def _rows(statuses: dict[float, str]) -> list[dict]:
    return [{"lr": lr, "optimizer": "sgd", "scheduler": "none", "status": st} for lr, st in statuses.items()]


def test_after_a_diverged_extension_the_decade_below_it_is_bisected():
    lrs = (0.01, 0.1, 1.0, 10.0)  # 1 and 10 came from an extension upwards, and both diverged
    summary = {
        "best": {"lr": 0.1, "optimizer": "sgd", "scheduler": "none", "edge": None},
        "variants": _rows({0.01: "done", 0.1: "done", 1.0: "diverged", 10.0: "diverged"}),
    }
    probe = next_extension(lrs, summary, done=1)
    assert probe.edge == "between" and probe.added == (0.215443, 0.464159)  # log-spaced inside (0.1, 1)
    assert "between lr 0.1 (the best) and 1 (diverged)" in probe.describe()
    assert extended_grid(lrs, probe) == (0.01, 0.1, 0.215443, 0.464159, 1.0, 10.0)
    assert next_extension(lrs, summary, done=0) is None  # the user's own grid: no extension was made, none is
    assert next_extension(lrs, summary, done=DEFAULT_MAX_EXTENSIONS) is None  # the cap holds
    summary["variants"][2]["status"] = "done"  # 1 trained to the end: nothing diverged above the best
    assert next_extension(lrs, summary, done=1) is None
    close = {  # the best and the first diverged LR already within BISECT_MIN_RATIO: resolved enough
        "best": {"lr": 0.464159, "optimizer": "sgd", "scheduler": "none", "edge": None},
        "variants": _rows({0.1: "done", 0.464159: "done", 0.6: "diverged"}),
    }
    assert next_extension((0.1, 0.464159, 0.6), close, done=2) is None


def test_extended_grids_are_valid_configs():
    lrs = (1e-4, 1e-3)
    for edge in ("low", "high", "low"):
        lrs = extended_grid(lrs, beyond(lrs, edge))
    config = parse_config({"lr": list(lrs), "data": {"name": "synthetic-regression"}, "model": "linear"})
    assert config.lrs == lrs


REGRESSION = {  # configs/regression.yaml, smaller: full-batch gradient descent on y = w·x + b + noise
    "name": "regression",
    "seed": 0,
    "device": "cpu",
    "data": {
        "name": "synthetic-regression",
        "n_samples": 300,
        "n_features": 1,
        "noise": 0.1,
        "val_fraction": 0.2,
        "batch_size": 300,
    },
    "model": {"name": "linear"},
    "optimizer": {"name": "sgd"},
    "lr": [0.0001, 0.001],
    "train": {"epochs": 30, "loss": "mse"},
    "select": {"metric": "val_loss"},
    "retrain": True,
}


def test_grid_extend_moves_an_edge_best_lr_to_the_interior(runner, write_config, tmp_path):
    path = write_config(REGRESSION)
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--extend", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # 1e-4, 1e-3: best at the high edge -> +0.01, 0.1: still the edge -> +1, 10 (too large): 0.1 is interior,
    # and 1 diverged: the decade between is probed (0.215, 0.464: both as good as 0.1, on this noise floor)
    assert [e["added"] for e in summary["extensions"]] == [[0.01, 0.1], [1.0, 10.0], [0.215443, 0.464159]]
    assert summary["extensions"][2]["edge"] == "between" and summary["extensions"][2]["bounds"] == [0.1, 1.0]
    assert summary["best"]["lr"] == 0.1 and summary["best"]["edge"] is None
    lrs = [0.0001, 0.001, 0.01, 0.1, 0.215443, 0.464159, 1.0, 10.0]
    assert sorted(r["lr"] for r in summary["variants"]) == lrs
    assert {r["lr"]: r["status"] for r in summary["variants"]}[0.464159] == "done"
    assert summary["retrain"]["lr"] == 0.1 and summary["retrain"]["status"] == "done"

    run = next((tmp_path / "runs").iterdir())
    stored = parse_config(yaml.safe_load((run / "config.yaml").read_text()))
    assert stored.lrs == tuple(lrs)
    assert json.loads((run / "meta.json").read_text())["fingerprint"] == stored.fingerprint()
    shown = json.loads(runner.invoke(app, ["show", str(run), "--json"]).stdout)
    assert shown["best"] == summary["best"] and len(shown["meta"]["extensions"]) == 3
    text = runner.invoke(app, ["show", str(run)]).stdout
    assert "grid extension 2: upwards, added lr = 1, 10" in text
    assert "grid extension 3: between the best and the first diverged lr, added lr = 0.215443, 0.464159" in text
    with_original = runner.invoke(app, ["grid", str(path), "--resume", str(run)])
    assert with_original.exit_code == 2 and "extended by --extend" in with_original.stderr
    resumed = runner.invoke(app, ["grid", "--resume", str(run), "--json"])  # consistent: nothing left to run
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["best"] == summary["best"]


def test_grid_extend_stops_at_the_cap_and_says_so(runner, write_config, tmp_path):
    path = write_config({**REGRESSION, "retrain": False})
    result = runner.invoke(
        app, ["grid", str(path), "--out", str(tmp_path / "runs"), "--extend", "--max-extensions", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "extending the grid upwards (×10 spacing): adding lr = 0.01, 0.1 (extension 1 of at most 1)" in result.stderr
    assert "still at the edge of the grid after 1 extension(s)" in result.stderr
    assert "Grid extended upwards: added lr = 0.01, 0.1" in result.stdout
    assert "The best learning rate is the largest in the grid" in result.stdout


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_extensions_must_be_positive(runner, write_config, value):
    result = runner.invoke(app, ["grid", str(write_config(REGRESSION)), "--extend", "--max-extensions", value])
    assert result.exit_code == 2
