import pytest

from lrsweep.select.summary import summarize, summary_columns, variant_row


def row(lr, seed, val_loss, status="done", opt="sgd", sched="none"):
    described = {"id": f"lr{lr}-s{seed}", "lr": lr, "optimizer": opt, "scheduler": sched, "seed": seed}
    records = [
        {
            "epoch": 1,
            "lr": lr,
            "train_loss": 1.0,
            "train_acc": 0.5,
            "val_loss": val_loss,
            "val_acc": 0.5,
            "seconds": 1.0,
        }
    ]
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


def test_a_pick_that_wins_on_every_seed_is_not_tied_however_noisy_the_runner_up():
    rows = [
        row(0.01, 0, 0.30),
        row(0.01, 1, 0.31),
        row(0.01, 2, 0.32),
        row(0.1, 0, 0.31),
        row(0.1, 1, 0.60),
        row(0.1, 2, 0.33),
    ]  # runner-up std 0.16 > gap 0.10
    assert summarize("s", "val_loss", rows)["best"]["tied_with_runner_up"] is False


def test_a_pick_that_loses_a_seed_within_noise_is_tied():
    rows = [
        row(0.01, 0, 0.30),
        row(0.01, 1, 0.40),
        row(0.01, 2, 0.32),
        row(0.1, 0, 0.36),
        row(0.1, 1, 0.35),
        row(0.1, 2, 0.34),
    ]
    assert summarize("s", "val_loss", rows)["best"]["tied_with_runner_up"] is True


def test_losses_equal_up_to_round_off_are_tied():
    rows = [row(0.1, s, 0.0086) for s in range(3)] + [row(0.1000001, s, 0.0086 + 4e-9) for s in range(3)]
    assert summarize("s", "val_loss", rows)["best"]["tied_with_runner_up"] is True  # std 0, gap 4e-9


def test_exact_ties_are_flagged_with_one_seed_too():
    rows = [row(0.01, 0, 0.25), row(0.1, 0, 0.25), row(1.0, 0, 0.5)]
    assert summarize("s", "val_loss", rows)["best"]["tied_with_runner_up"] is True
    rows = [row(0.01, 0, 0.25), row(0.1, 0, 0.26)]
    assert summarize("s", "val_loss", rows)["best"]["tied_with_runner_up"] is False


def test_val_acc_ties_are_paired_in_the_maximising_direction():
    rows = [row(0.01, s, 0.5) for s in range(2)] + [row(0.1, s, 0.5) for s in range(2)]
    for r, acc in zip(rows, (0.90, 0.91, 0.80, 0.90)):
        r["val_acc"] = acc
    assert summarize("s", "val_acc", rows)["best"]["tied_with_runner_up"] is False  # wins both seeds


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


def test_further_metrics_reach_the_row_the_summary_and_its_columns_and_rank_by_their_direction():
    rows = []
    for lr, f1 in ((0.01, 0.6), (0.1, 0.8), (1.0, 0.7)):
        described = {"id": f"lr{lr}", "lr": lr, "optimizer": "sgd", "scheduler": "none", "seed": 0}
        record = {
            "epoch": 1,
            "lr": lr,
            "train_loss": 1.0,
            "train_acc": None,
            "val_loss": 0.5,
            "val_acc": None,
            "seconds": 1.0,
            "val_f1": f1,
        }
        rows.append(variant_row(described, {"status": "done"}, [record]))
    summary = summarize("s", "val_f1", rows)
    assert summary["direction"] == "max" and summary["best"]["lr"] == 0.1  # f1: higher is better, inferred
    assert summary["metrics"] == ["val_f1"]
    assert [r["val_f1"] for r in summary["variants"]] == [0.8, 0.7, 0.6]
    columns = summary_columns(summary, extra=("stage",))
    assert columns.index("val_acc") < columns.index("val_f1") < columns.index("best_val_loss")
    assert columns[-1] == "stage"
    assert summarize("s", "val_f1", rows, direction="min")["best"]["lr"] == 0.01  # select.mode overrides


def test_every_key_a_variant_describes_itself_with_is_a_row_key_not_a_metric():
    from lrsweep.config import parse_config
    from lrsweep.select.summary import ROW_KEYS
    from lrsweep.sweep.plan import expand

    config = parse_config({"lr": [0.1], "scheduler": [{"type": "cosine"}], "seeds": [0, 1]})
    for variant in expand(config):
        assert set(variant.describe()) <= set(ROW_KEYS)
    sized = parse_config({"lr": [0.1], "data": {"batch_size": [32, 64]}, "lr_scaling": "linear"})
    for variant in expand(sized):
        assert {"batch_size", "base_lr"} <= set(variant.describe()) <= set(ROW_KEYS)


def curve(lr, seed, val_losses, status="done", size=None, **status_extra):
    """A variant row from a whole val_loss curve (one epoch per value)."""
    described = {"id": f"lr{lr}-b{size}-s{seed}", "lr": lr, "optimizer": "sgd", "scheduler": "none", "seed": seed}
    if size is not None:
        described["batch_size"] = size
    records = [
        {"epoch": e, "lr": lr, "train_loss": 1.0 / e, "val_loss": v, "val_acc": None, "seconds": 1.0}
        for e, v in enumerate(val_losses, start=1)
    ]
    return described, {"status": status, **status_extra}, records


def test_at_best_scores_each_variant_at_its_best_epoch_and_the_retrain_stops_there():
    from lrsweep.select.health import Scoring

    made = [curve(0.01, 0, [0.9, 0.6, 0.5]), curve(0.1, 0, [0.7, 0.3, 0.8])]  # 0.1 peaks early, ends worse
    last = summarize("s", "val_loss", [variant_row(*m) for m in made])
    best = summarize("s", "val_loss", [variant_row(*m, Scoring("val_loss", "min", "best")) for m in made], at="best")
    assert last["best"]["lr"] == 0.01 and "stop_epoch" not in last["best"]
    assert best["best"]["lr"] == 0.1 and best["best"]["stop_epoch"] == 2 and best["at"] == "best"
    top = best["variants"][0]
    assert (top["best_epoch"], top["val_loss"], top["epochs_run"]) == (2, 0.3, 3)
    columns = summary_columns(best)
    assert columns.index("epochs_run") + 1 == columns.index("best_epoch")
    assert "best_epoch" not in summary_columns(last) and "stuck" not in summary_columns(last)


def test_a_variant_stuck_at_chance_ranks_after_every_healthy_one_but_is_best_when_alone():
    stuck = variant_row(*curve(0.1, 0, [0.2], stuck=True, stuck_reason="val_acc 0.1 is chance"))
    healthy = variant_row(*curve(0.01, 0, [0.5]))
    summary = summarize("s", "val_loss", [stuck, healthy])
    assert [r["lr"] for r in summary["variants"]] == [0.01, 0.1] and summary["best"]["lr"] == 0.01
    assert not summary["best"]["tied_with_runner_up"]  # a stuck runner-up is no rival, however it scored
    assert summary["variants"][1]["rank"] == 2  # still ranked, flagged
    columns = summary_columns(summary)
    assert columns.index("status") + 1 == columns.index("stuck") and "stuck_reason" in columns
    alone = summarize("s", "val_loss", [stuck])
    assert alone["best"]["lr"] == 0.1 and alone["best"]["stuck"]


def test_stopped_early_sets_the_retrains_epochs_to_where_the_winner_stopped():
    rows = [variant_row(*curve(0.1, s, [0.5, 0.4, 0.45][: 2 + s], stopped_early=s == 0)) for s in (0, 1)]
    summary = summarize("s", "val_loss", rows)
    assert summary["best"]["stop_epoch"] == round((2 + 3) / 2)  # mean of the seeds' scored epochs
    assert "stopped_early" in summary_columns(summary)


def test_batch_sizes_group_apart_and_the_summary_says_how_the_best_lr_moved():
    rows = [
        variant_row(*curve(lr, 0, [loss], size=size))
        for size, lrs in ((32, {0.01: 0.3, 0.02: 0.5, 0.04: 0.6}), (128, {0.01: 0.6, 0.02: 0.2, 0.04: 0.5}))
        for lr, loss in lrs.items()
    ]
    summary = summarize("s", "val_loss", rows, lr_scaling="linear")
    assert len(summary["groups"]) == 6 and summary["best"]["batch_size"] == 128
    scaling = summary["batch_sizes"]
    assert [(e["batch_size"], e["lr"]) for e in scaling["best"]] == [(32, 0.01), (128, 0.02)]
    assert scaling["measured_exponent"] == pytest.approx(0.5) and scaling["expected_exponent"] == 1.0
    assert scaling["best"][0]["edge"] == "low"
    assert summary_columns(summary).index("batch_size") == summary_columns(summary).index("scheduler") + 1
