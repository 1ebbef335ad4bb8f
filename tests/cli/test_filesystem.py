"""The file system says no: --out a file, /dev/null, a dangling link, unwritable or read-only, a name too long,
a full disk mid-run. One line naming the path and the cause, never a traceback; what finished is kept."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import lrsweep.run.files as files_module
from lrsweep.cli import app

TINY = {
    "name": "fs",
    "device": "cpu",
    "engine": "sequential",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 200,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 50,
        "val_fraction": 0.2,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [8]},
    "optimizer": {"name": "sgd"},
    "lr": [0.01, 0.1, 0.5],
    "train": {"epochs": 1},
    "retrain": False,
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _grid(config, out, *extra):
    return CliRunner().invoke(app, ["grid", str(config), "--out", str(out), "--quiet", *extra])


def _one_line_error(result, *fragments):
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_out_that_is_a_file_or_dev_null(config, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, Path("/dev/null")):
        result = _grid(config, out)
        assert result.exit_code == 2
        _one_line_error(result, f"--out {out} is not a directory")


def test_out_that_is_a_dangling_symlink(config, tmp_path):
    link = tmp_path / "gone"
    link.symlink_to(tmp_path / "nowhere")
    result = _grid(config, link)
    assert result.exit_code == 2
    _one_line_error(result, f"--out {link} is a dangling symbolic link")


@pytest.mark.parametrize("code, cause", [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system")])
def test_out_that_cannot_be_created(config, tmp_path, monkeypatch, code, cause):
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.name == "runs":
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    result = _grid(config, tmp_path / "runs")
    assert result.exit_code == 2
    _one_line_error(result, str(tmp_path / "runs"), cause)


def test_a_name_too_long_and_a_nul_in_the_name(config, tmp_path, write_config):
    long_out = tmp_path / ("d" * 300)
    result = _grid(config, long_out)
    assert result.exit_code == 2
    _one_line_error(result, "File name too long", str(long_out))
    nul = write_config({**TINY, "name": "a\0b"}, "nul.yaml")
    for command in ("validate", "grid"):
        refused = CliRunner().invoke(
            app, [command, str(nul), *(["--out", str(tmp_path / "runs")] * (command == "grid"))]
        )
        assert refused.exit_code == 2
        _one_line_error(refused, "name", "no control characters")


def test_a_disk_that_fills_mid_run_keeps_what_finished_and_resumes(config, tmp_path, monkeypatch):
    real = files_module._atomic_write
    first = []

    def fill_up(path, data):
        if path.name == "metrics.csv":
            first.append(path.parent.name) if not first else None
            if path.parent.name != first[0]:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(files_module, "_atomic_write", fill_up)
    result = CliRunner().invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 1
    _one_line_error(result, "metrics.csv", "No space left on device", "--resume")
    assert "│ done" in result.stdout and "1 done, 2 pending" in result.stdout  # the summary of what finished
    run = next((tmp_path / "runs").iterdir())
    status = json.loads((run / "variants" / first[0] / "status.json").read_text())
    assert status["status"] == "done"
    monkeypatch.setattr(files_module, "_atomic_write", real)
    resumed = CliRunner().invoke(app, ["grid", "--resume", str(run), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert "2 of 3" not in resumed.stderr and "1 of 3 variants already finished" in resumed.stderr
    assert json.loads(resumed.stdout)["complete"]
