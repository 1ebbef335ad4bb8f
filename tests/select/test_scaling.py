"""Batch size as an axis: each batch size's best LR and the measured exponent against the scaling rule."""

import math

import pytest

from lrsweep.select.scaling import batch_size_scaling, slope


def test_slope_is_the_least_squares_fit():
    assert slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert slope([1.0, 1.0], [2.0, 3.0]) is None


def groups_and_rows(best_lrs, grid=(0.25, 0.5, 1.0, 2.0, 4.0)):
    """Rows of a grid per batch size, and ranked groups with each batch size's best first."""
    rows, ranked = [], []
    for size, best in best_lrs.items():
        lrs = [best * f for f in grid]
        rows += [{"lr": lr, "batch_size": size} for lr in lrs]
        ranked.append({"lr": best, "batch_size": size, "mean": 0.1, "optimizer": "sgd", "scheduler": "none"})
    ranked += [{"lr": r["lr"], "batch_size": r["batch_size"], "mean": 0.5} for r in rows if r not in ranked]
    return ranked, rows


def test_a_best_lr_growing_as_the_square_root_measures_one_half():
    ranked, rows = groups_and_rows({32: 0.01, 128: 0.02, 512: 0.04})
    found = batch_size_scaling(ranked, rows, "sqrt")
    assert found["measured_exponent"] == pytest.approx(0.5)
    assert found["expected_exponent"] == 0.5 and found["agrees"] is True
    assert found["resolution"] == pytest.approx(math.log(2) / math.log(16))  # one grid step over the span
    assert [e["lr"] for e in found["best"]] == [0.01, 0.02, 0.04] and not found["at_edge"]
    assert batch_size_scaling(ranked, rows, "linear")["agrees"] is False


def test_no_batch_axis_no_entry_and_a_stuck_batch_size_has_no_best():
    assert batch_size_scaling([], [{"lr": 0.1}], "none") is None
    ranked, rows = groups_and_rows({32: 0.01, 128: 0.02})
    ranked = [{**g, "stuck": True} if g["batch_size"] == 128 else g for g in ranked]
    found = batch_size_scaling(ranked, rows)
    assert found["best"][1]["lr"] is None and found["measured_exponent"] is None
