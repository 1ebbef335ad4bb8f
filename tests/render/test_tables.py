"""A sweep's tables (render/tables.py): what a table says about its numbers."""

import io

from rich.console import Console

from lrsweep.render.tables import SHARED_SECONDS, summary_table


def _summary(seconds):
    rows = [
        {
            "id": f"v{i}",
            "lr": lr,
            "optimizer": "sgd",
            "scheduler": "none",
            "seed": 0,
            "status": "done",
            "epochs_run": 1,
            "train_loss": 1.0,
            "val_loss": 1.0 + i,
            "val_acc": 0.5,
            "seconds": s,
            "rank": i + 1,
            "best": i == 0,
        }
        for i, (lr, s) in enumerate(zip((0.1, 0.2, 0.3), seconds))
    ]
    return {"name": "t", "metric": "val_loss", "direction": "min", "variants": rows, "groups": []}


def _text(table):
    buffer = io.StringIO()
    Console(file=buffer, width=300).print(table)
    return " ".join(buffer.getvalue().split())  # the caption wraps at the table's width


def test_the_s_column_says_when_rows_show_their_share_of_a_pack():
    assert SHARED_SECONDS in _text(summary_table(_summary([0.4, 0.4, 0.4])))
    assert SHARED_SECONDS not in _text(summary_table(_summary([0.4, 0.5, 0.6])))


def test_further_metrics_get_a_column_after_the_standard_ones():
    summary = _summary([0.4, 0.5, 0.6])
    for i, row in enumerate(summary["variants"]):
        row["val_f1"] = 0.25 * (i + 1)
    summary["metrics"] = ["val_f1"]
    text = _text(summary_table(summary))
    assert text.index("val_acc") < text.index("val_f1") < text.index(" s ")
    assert "0.75" in text
