"""Reading run directories back for the CLI: a summary as it stands, a tune run, a schedule preview."""

from __future__ import annotations

import json

import pytest
from helpers import finished_run

from lrsweep import api
from lrsweep.errors import RunDirError


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return finished_run(tmp_path_factory.mktemp("sweep"))


def test_summary_of_is_the_summary_show_prints_with_its_run_directory(sweep_dir):
    summary = api.summary_of(sweep_dir)
    assert summary["run_dir"] == str(sweep_dir)
    assert {k: v for k, v in summary.items() if k != "run_dir"} == api.load_run(sweep_dir).summary


def test_a_sweep_is_neither_a_tune_run_nor_a_preview(sweep_dir):
    assert api.load_tune_run(sweep_dir) is None
    assert api.load_preview(sweep_dir) is None
    with pytest.raises(RunDirError, match="not a run directory"):
        api.load_tune_run(sweep_dir.parent)


def test_a_tune_run_still_running_shows_its_variants_read_from_their_files(sweep_dir, tmp_path):
    import shutil

    run = shutil.copytree(sweep_dir, tmp_path / "tune-run")
    (run / "summary.json").unlink()  # a tune run writes its summary only at the end
    (run / "tune.json").write_text(json.dumps({"status": "running", "stages": []}))
    tuned = api.load_tune_run(run)
    assert tuned.tune == {"status": "running", "stages": []} and tuned.details["run_dir"] == str(run)
    assert tuned.details["meta"]["fingerprint"] == json.loads((run / "meta.json").read_text())["fingerprint"]
    rows = tuned.summary["variants"]
    assert len(rows) == len(api.load_run(sweep_dir).summary["variants"]) and all(r["stage"] is None for r in rows)
    assert tuned.summary["best"] is None and tuned.summary["metric"] == "val_loss"


def test_a_preview_folder_reads_back_as_its_record(tmp_path):
    config = {
        "name": "p",
        "data": {"name": "synthetic-regression"},
        "model": {"name": "linear"},
        "lr": 0.1,
        "train": {"epochs": 3},
    }
    preview = api.schedule_preview(config, types="steplr", params=["step_size=1"], out=tmp_path)
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert api.preview_file(folder) == folder / "preview.json"
    data = api.load_preview(folder)
    assert data["schedules"][0]["epoch_lrs"] == preview.data["schedules"][0]["epoch_lrs"]
