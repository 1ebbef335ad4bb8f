"""grid's run directory: a resume's config checked, meta.json kept through resumes and extensions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from helpers import TINY_SWEEP, finished_run

from lrsweep.api.common import load_config_any
from lrsweep.api.grid_dir import load_for_grid, note_resume, record_extension
from lrsweep.errors import RunDirError, UsageError
from lrsweep.select.extend import Extension


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return finished_run(tmp_path)


def test_a_new_grid_needs_a_config():
    with pytest.raises(UsageError, match="give a CONFIG"):
        load_for_grid(None, [], None, False)
    config, store = load_for_grid(TINY_SWEEP, ["train.epochs=3"], None, False)
    assert store is None and config.train.epochs == 3


def test_a_resume_refuses_a_changed_config_unless_forced(run_dir):
    config, store = load_for_grid(None, [], run_dir, False)
    assert store.path == run_dir and config.fingerprint() == load_config_any(run_dir / "config.yaml").fingerprint()
    with pytest.raises(RunDirError, match=r"changed: .*lr.*--force"):
        load_for_grid({**TINY_SWEEP, "lr": [0.5]}, [], run_dir, False)
    forced, _ = load_for_grid({**TINY_SWEEP, "lr": [0.5]}, [], run_dir, True)
    assert forced.lrs == (0.5,)


def test_meta_keeps_every_resume_and_every_extension(run_dir):
    config, store = load_for_grid(None, [], run_dir, False)
    started = store.read_meta()["fingerprint"]
    note_resume(store, config)
    assert len(store.read_meta()["resumes"]) == 1 and store.read_meta()["fingerprint"] == started
    grown = replace(config, lrs=(*config.lrs, 1.0))
    record_extension(store, grown, Extension("high", (1.0,), 10.0))
    meta = store.read_meta()
    assert meta["fingerprint"] == grown.fingerprint() != started
    assert meta["extensions"] == [{"edge": "high", "added": [1.0], "ratio": 10.0, "fingerprint": grown.fingerprint()}]
    assert store.read_config()["lr"] == [0.01, 0.1, 1.0]
