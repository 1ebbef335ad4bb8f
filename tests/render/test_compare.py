"""``lrsweep compare``'s data: each run's best, and each run's score at every learning rate."""

from __future__ import annotations

from lrsweep.render.compare import compare_data, compare_tables
from lrsweep.select.summary import summarize, variant_row


def summary(scores: dict[float, float | None], name: str) -> dict:
    rows = []
    for lr, value in scores.items():
        described = {"id": f"{name}-{lr}", "lr": lr, "optimizer": "sgd", "scheduler": "none", "seed": 0}
        record = {"epoch": 1, "lr": lr, "train_loss": 1.0, "val_loss": value, "val_acc": 0.5, "seconds": 1.0}
        status = {"status": "done" if value is not None else "diverged"}
        rows.append(variant_row(described, status, [record] if value is not None else []))
    return summarize(name, "val_loss", rows)


def test_each_run_gets_its_best_and_its_score_at_every_lr_of_any_run():
    data = compare_data({"a": summary({0.1: 0.5, 1.0: 0.3}, "a"), "b": summary({0.1: 0.4, 10.0: None}, "b")})
    best = {run["label"]: run["best"]["lr"] for run in data["runs"]}
    assert best == {"a": 1.0, "b": 0.1}
    by_lr = {line["lr"]: line["runs"] for line in data["by_lr"]}
    assert sorted(by_lr) == [0.1, 1.0, 10.0]
    assert by_lr[1.0]["b"] is None and by_lr[10.0]["b"]["mean"] is None and by_lr[10.0]["b"]["status"] == "diverged"
    assert by_lr[0.1]["a"]["mean"] == 0.5
    best_table, by_lr_table = compare_tables(data)
    assert [c.header for c in best_table.columns] == ["", "a", "b"] and by_lr_table.row_count == 3
