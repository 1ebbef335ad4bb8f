from lrsweep.summary import summarize, variant_row


def row(lr, seed, val_loss, status="done", opt="sgd", sched="none"):
    described = {"id": f"lr{lr}-s{seed}", "lr": lr, "optimizer": opt, "scheduler": sched, "seed": seed}
    records = [{"epoch": 1, "lr": lr, "train_loss": 1.0, "train_acc": 0.5, "val_loss": val_loss, "val_acc": 0.5,
                "seconds": 1.0}]
    return variant_row(described, {"status": status}, records)


def test_best_is_lowest_val_loss_and_diverged_is_never_best():
    rows = [row(0.01, 0, 0.5), row(0.1, 0, 0.2), row(1.0, 0, float("nan"), status="diverged")]
    summary = summarize("s", "val_loss", rows)
    assert summary["best"]["lr"] == 0.1
    assert [r["lr"] for r in summary["variants"]] == [0.1, 0.01, 1.0]
    assert summary["variants"][2]["rank"] is None
    assert summary["complete"]


def test_val_acc_is_maximised():
    rows = [row(0.01, 0, 0.5), row(0.1, 0, 0.2)]
    rows[0]["val_acc"], rows[1]["val_acc"] = 0.9, 0.8
    assert summarize("s", "val_acc", rows)["best"]["lr"] == 0.01


def test_seed_groups_mean_std_and_tie_flag():
    rows = [row(0.01, 0, 0.50), row(0.01, 1, 0.30), row(0.1, 0, 0.41), row(0.1, 1, 0.43)]
    summary = summarize("s", "val_loss", rows)
    best = summary["best"]
    assert best["lr"] == 0.01 and best["n"] == 2
    assert abs(best["mean"] - 0.40) < 1e-12
    assert best["tied_with_runner_up"]  # 0.40 vs 0.42 with std ~0.14


def test_grid_edge_is_flagged():
    rows = [row(0.01, 0, 0.5), row(0.1, 0, 0.4), row(1.0, 0, 0.3)]
    assert summarize("s", "val_loss", rows)["best"]["edge"] == "high"
    rows = [row(0.01, 0, 0.1), row(0.1, 0, 0.4), row(1.0, 0, 0.3)]
    assert summarize("s", "val_loss", rows)["best"]["edge"] == "low"
    rows = [row(0.01, 0, 0.5), row(0.1, 0, 0.1), row(1.0, 0, 0.3)]
    assert summarize("s", "val_loss", rows)["best"]["edge"] is None


def test_pending_variant_makes_summary_incomplete():
    rows = [row(0.01, 0, 0.5), row(0.1, 0, 0.4, status="interrupted")]
    summary = summarize("s", "val_loss", rows)
    assert not summary["complete"] and summary["best"]["lr"] == 0.01
