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


def test_stuck_stopped_batch_sizes_and_best_epochs_are_marked_and_explained():
    from lrsweep.render.tables import STUCK, verdict

    summary = _summary([0.4, 0.5, 0.6])
    summary.update(at="best", status_counts={"done": 3}, best={"lr": 0.1, "optimizer": "sgd", "scheduler": "none"})
    summary["best"].update(mean=1.0, batch_size=32, stop_epoch=2)
    for i, row in enumerate(summary["variants"]):
        row.update(batch_size=(32, 32, 128)[i], best_epoch=i + 1, epochs_run=3)
    summary["variants"][1].update(stopped_early=True)
    summary["variants"][2].update(stuck=True, stuck_reason="val_acc 0.1 is chance")
    text = _text(summary_table(summary))
    assert "at each variant's best epoch" in text and "batch_size" in text and "best_ep" in text
    assert "done, stopped" in text and "done, stuck" in text and STUCK in text
    said = verdict(summary).plain
    assert "Best: lr=0.1 batch_size=32 sgd none (val_loss 1 at epoch 2)" in said
    assert "1 variant(s) stuck at chance (lr 0.3)" in said


def test_the_retrain_and_batch_size_lines():
    from lrsweep.render.tables import retrain_line, scaling_line

    retrain = {"status": "done", "stop_epoch": 4, "test_loss": 0.5, "test_acc": 0.8, "test_f1": 0.75}
    assert retrain_line(retrain) == "Retrained on train+val for 4 epochs: test_loss 0.5, test_acc 0.8, test_f1 0.75"
    scaling = {
        "rule": "sqrt",
        "expected_exponent": 0.5,
        "measured_exponent": 0.46,
        "resolution": 0.25,
        "agrees": True,
        "at_edge": [],
        "best": [{"batch_size": 32, "lr": 0.01}, {"batch_size": 512, "lr": 0.035}],
    }
    assert scaling_line(scaling) == (
        "Best lr per batch size: 32: 0.01, 512: 0.035; best lr ~ batch_size^0.46 (expected: the sqrt rule's 0.5): "
        "as the rule predicts (within one grid step, ±0.25, of it)"
    )
