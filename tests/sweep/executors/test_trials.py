"""executors/trials.py: command trials through the one runner: every outcome of a bad trial, the logs, --jobs and
--devices slots, and successive halving that pauses trials at a rung, continues the promoted and stops the pruned."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from helpers import ROOT, Recorded

import lrsweep
from lrsweep.api.runs import load_run

FAKE = str(ROOT / "tests" / "sweep" / "trials" / "fake_train.py")
ARGV = [sys.executable, FAKE, "--lr", "{lr}", "--seed", "{seed}", "--epochs", "{epochs}", "--sleep", "{params.sleep}"]


def command_config(lrs, modes=None, sleep=0.0, epochs=3, **more) -> dict:
    return {
        "name": "fake",
        "command": [*ARGV, "--modes", "{params.modes}"],
        "params": {"sleep": sleep, "modes": json.dumps({repr(lr): mode for lr, mode in (modes or {}).items()})},
        "lr": list(lrs),
        "train": {"epochs": epochs},
        **more,
    }


def pids_of(run_dir: Path, variant_id: str) -> list[int]:
    path = run_dir / "variants" / variant_id / "pids"
    return [int(line.split()[0]) for line in path.read_text().splitlines()] if path.exists() else []


def gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return True
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def rows_by_lr(result) -> dict:
    return {row["lr"]: row for row in result.summary["variants"]}


def test_bad_trials_get_clear_outcomes_and_every_trial_keeps_its_output(tmp_path):
    modes = {
        0.02: "exit",
        0.03: "silent",
        0.04: "nan",
        0.05: "runaway",
        0.06: "hang",
        0.07: "gap",
        0.08: "short",
        0.09: "file",
        0.011: "child",
    }
    config = command_config([0.01, *modes], modes, trials={"timeout": 2.0, "stop_grace": 0.5})
    events = Recorded()
    result = lrsweep.grid(config, out=tmp_path, jobs=5, events=events)
    rows = rows_by_lr(result)
    expected = {
        0.01: ("done", None),
        0.011: ("done", None),
        0.09: ("done", None),
        0.02: ("failed", "exited with code 3: ValueError: a bad batch"),
        0.03: ("failed", 'reported no epoch: report each epoch as one JSON object per line on stdout, e.g. {"epoch"'),
        0.04: ("diverged", "val_loss is nan at epoch 2"),
        0.05: ("diverged", "is more than 10x its first value"),
        0.06: ("failed", "timed out after 2 s of training (trials.timeout)"),
        0.07: ("failed", "reported epoch 3 after epoch 1: report every epoch, in order"),
        0.08: ("failed", "ended after reporting epoch 1 of 3"),
    }
    for lr, (status, words) in expected.items():
        assert rows[lr]["status"] == status, (lr, rows[lr])
        assert (rows[lr]["error"] is None) if words is None else (words in rows[lr]["error"]), (lr, rows[lr]["error"])
    assert result.failed and result.best.lr == 0.01 and result.summary["status_counts"]["failed"] == 5
    run = result.run_dir
    exited = json.loads((run / "variants" / rows[0.02]["id"] / "status.json").read_text())
    assert "Traceback (most recent call last):" in exited["traceback"] and exited["computed"]["exit_code"] == 3
    assert exited["computed"]["trial"] == "command" and exited["computed"]["argv"][1] == FAKE
    for row in result.summary["variants"]:
        folder = run / "variants" / row["id"]
        assert "{not json" in (folder / "stdout.log").read_text()  # every other line kept in the log
        if row["epochs_run"]:
            assert len((folder / "metrics.csv").read_text().splitlines()) == 1 + row["epochs_run"]
        assert all(gone(pid) for pid in pids_of(run, row["id"])), row["lr"]  # grandchild (child mode) too
    assert "a bad batch" in (run / "variants" / rows[0.02]["id"] / "stderr.log").read_text()
    assert rows[0.01]["val_loss"] == 1 / 3 and rows[0.01]["train_loss"] == 0.9 / 3 and rows[0.01]["lr"] == 0.01
    assert any("ignored values that are not numbers: phase" in n for n in events.notices)
    assert any("select: val_loss, lower is better (inferred from its name" in n for n in events.notices)
    assert load_run(run).best.lr == 0.01  # a run of a command reads back like any other


class Watching(Recorded):
    """Records, when the survivor reports its epoch 3, which of the pruned trials' processes still run."""

    def __init__(self, run_dirs):
        super().__init__()
        self.run_dirs, self.alive_then = run_dirs, None

    def on_epoch(self, variant_id, record):
        super().on_epoch(variant_id, record)
        if variant_id.startswith("lr0.01-") and record.epoch == 3:
            run = next(p for p in self.run_dirs.iterdir() if p.is_dir())
            pids = [
                p
                for vid in ("lr1-", "lr0.1-")
                for v in (run / "variants").glob(f"{vid}*")
                for p in pids_of(run, v.name)
            ]
            self.alive_then = [pid for pid in pids if not gone(pid, within=0.0)]


def test_successive_halving_pauses_trials_at_a_rung_continues_the_promoted_and_stops_the_pruned(tmp_path):
    config = command_config([1.0, 0.1, 0.01, 0.001], sleep=0.15, epochs=4, prune={"type": "asha", "reduction": 2})
    events = Watching(tmp_path)
    result = lrsweep.grid(config, out=tmp_path, jobs=2, events=events)
    rows, run = rows_by_lr(result), result.run_dir
    assert [(rows[lr]["status"], rows[lr]["epochs_run"]) for lr in (0.01, 0.001, 0.1, 1.0)] == [
        ("done", 4),
        ("pruned", 2),
        ("pruned", 1),
        ("pruned", 1),
    ]
    for lr in (1.0, 0.1):  # started first, paused at epoch 1 while the other two trained, then stopped
        log = (run / "variants" / rows[lr]["id"] / "stdout.log").read_text()
        assert [json.loads(line)["epoch"] for line in log.splitlines() if line.startswith('{"')] == [1]
    assert events.alive_then == []  # the pruned were gone at the cut, not when the sweep ended
    for lr in (0.01, 0.001):  # promoted: the same process carried on
        assert len(pids_of(run, rows[lr]["id"])) == 1
    assert all(gone(pid) for row in rows.values() for pid in pids_of(run, row["id"]))


def test_with_pause_off_a_promoted_trial_trains_again_from_epoch_1(tmp_path):
    config = command_config(
        [1.0, 0.01, 0.001], epochs=3, prune={"type": "asha", "reduction": 3}, trials={"pause": False}
    )
    result = lrsweep.grid(config, out=tmp_path, jobs=3)
    rows, run = rows_by_lr(result), result.run_dir
    assert (rows[0.01]["status"], rows[0.01]["epochs_run"]) == ("done", 3)
    assert len(pids_of(run, rows[0.01]["id"])) == 2  # to the rung, then again from epoch 1
    assert (
        "---- lrsweep: the trial starts again ----" in (run / "variants" / rows[0.01]["id"] / "stdout.log").read_text()
    )
    assert [r["epoch"] for r in load_run(run).metrics(rows[0.01]["id"])] == [1, 2, 3]


def test_devices_give_each_trial_a_slot_and_trials_run_side_by_side(tmp_path):
    config = command_config([0.01, 0.1], sleep=0.3, epochs=2)
    result = lrsweep.grid(config, out=tmp_path, devices="cpu,cpu")
    run, rows = result.run_dir, result.summary["variants"]
    starts = {}
    for row in rows:
        status = json.loads((run / "variants" / row["id"] / "status.json").read_text())
        assert (status["backend"], status["device"], status["computed"]["device"]) == ("devices", "cpu", "cpu")
        assert "on cpu" in (run / "variants" / row["id"] / "stdout.log").read_text()  # $LRSWEEP_DEVICE
        line = (run / "variants" / row["id"] / "pids").read_text().split()
        starts[row["id"]] = float(line[1])
    assert abs(starts[rows[0]["id"]] - starts[rows[1]["id"]]) < 0.5  # both started at once (each runs 0.6 s+)
