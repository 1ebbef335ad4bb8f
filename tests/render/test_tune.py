"""``lrsweep tune``'s tables: one row per LR of a stage, and the one-line verdict."""

from __future__ import annotations

import io

from rich.console import Console

from lrsweep.render.tune import tune_stage_rows, tune_verdict


def row(lr, seed, value, stage, status="done", epochs=3, best=False):
    return {"lr": lr, "seed": seed, "val_loss": value, "stage": stage, "status": status, "epochs_run": epochs,
            "best": best}  # fmt: skip


def test_a_stage_row_is_the_seed_mean_of_its_lr_and_none_while_a_seed_has_no_score():
    summary = {
        "metric": "val_loss",
        "variants": [
            row(0.1, 0, 0.5, "final", best=True),
            row(0.1, 1, 0.7, "final", best=True),
            row(1.0, 0, None, "final", status="diverged", epochs=1),
            row(0.01, 0, 0.9, "scout", epochs=1),
        ],
    }
    rows = tune_stage_rows(summary, ("final",))
    assert [r["lr"] for r in rows] == [0.1, 1.0]
    assert rows[0]["seeds"] == 2 and abs(rows[0]["mean"] - 0.6) < 1e-12 and rows[0]["best"]
    assert rows[1]["mean"] is None and rows[1]["status"] == "diverged" and rows[1]["epochs"] == 1


def test_the_verdict_is_one_line_with_the_pick_the_band_and_the_cost():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    tune = {"best": {"lr": 0.065}, "band": {"low": 0.044, "high": 0.099}, "cost": {"trainings": 6.3, "budget": 14}}
    console.print(tune_verdict(tune))
    assert console.file.getvalue().strip() == "lr 0.065 · band 0.044–0.099 · 6.3 trainings (budget 14)"


def test_the_verdict_says_the_wall_seconds_the_time_budget_and_an_unresolved_band():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    band = {"low": 0.065, "high": 0.065, "resolved": False}
    cost = {"trainings": 5.2, "budget": 6, "seconds": 12.34, "time_budget": 30}
    console.print(tune_verdict({"best": {"lr": 0.065}, "band": band, "cost": cost}))
    assert console.file.getvalue().strip() == (
        "lr 0.065 · band the pick alone (unresolved: only the pick had every seed) · 5.2 trainings · 12.3 s "
        "(budget 6, 30 s)"
    )


def test_the_bounds_of_your_own_code_are_titled_as_the_configs_span_not_a_range_test():
    from lrsweep.render.tune import tune_tables

    stage = {"stage": "range", "lrs": [], "trainings": 0.0, "bounds": {"low": 1e-5, "high": 0.1}, "reason": "span"}
    console = Console(file=io.StringIO(), width=120, color_system=None)
    for found in ({**stage, "bounds_from": "lr"}, stage):
        console.print(tune_tables({"stages": [found]}, {"metric": "val_loss", "variants": []})[0])
    text = console.file.getvalue()
    assert text.index("bounds: the config's lr") < text.index("range test: 0 trainings")
