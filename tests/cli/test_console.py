"""What the commands echo: progress on stderr even with --json, no cropped numbers in a pipe, any encoding,
and never a control character from user data."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import yaml
from helpers import ROOT
from rich.console import Console
from typer.testing import CliRunner

from lrsweep.cli import app
from lrsweep.cli.console import EncodingSafe, clean, make_console
from lrsweep.render.tables import summary_table

TINY = {
    "name": "tiny",
    "device": "cpu",
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
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.01, 0.1],
    "scheduler": {"type": "steplr", "step_size": 1, "gamma": 0.5},
    "train": {"epochs": 2},
    "retrain": False,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One finished sweep with a scheduler (so the table has its widest set of columns)."""
    folder = tmp_path_factory.mktemp("console")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(app, ["grid", str(config), "--out", str(folder / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return next((folder / "runs").iterdir())


def _lrsweep(*args, env=None, **kwargs):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "lrsweep", *args], capture_output=True, text=True, env=full_env, timeout=120, **kwargs
    )


def test_json_keeps_progress_on_stderr_and_quiet_keeps_only_the_run_directory(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**TINY, "train": {"epochs": 1}}))
    out = str(tmp_path / "runs")
    result = CliRunner().invoke(app, ["grid", str(config), "--out", out, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["best"]
    assert "run directory:" in result.stderr
    assert sum(line.startswith("done") for line in result.stderr.splitlines()) == 2  # a line per variant
    quiet = CliRunner().invoke(app, ["grid", str(config), "--out", out, "--json", "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.stdout)["best"]
    assert quiet.stderr.strip().splitlines() == [f"run directory: {json.loads(quiet.stdout)['run_dir']}"]
    plain = CliRunner().invoke(app, ["grid", str(config), "--out", out, "--quiet"])
    assert plain.stdout == "" and plain.stderr.startswith("run directory: ")


def test_piped_tables_keep_every_number_whatever_COLUMNS_says(run):
    summary = json.loads((run / "summary.json").read_text())
    result = _lrsweep("show", str(run), env={"COLUMNS": "60"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    header = next(line for line in result.stdout.splitlines() if "final_lr" in line)
    assert "train_loss" in header and "val_acc" in header  # one header line, nothing folded or cropped
    for row in summary["variants"]:
        assert f"{row['val_loss']:.4g}" in result.stdout


def test_a_narrow_terminal_folds_numbers_instead_of_cropping_them(run):
    summary = json.loads((run / "summary.json").read_text())
    buffer = io.StringIO()
    Console(file=buffer, width=50, force_terminal=True, color_system=None).print(summary_table(summary))
    text = buffer.getvalue()
    assert "…" not in text  # before: every number column cropped to "0…"
    assert text.count("│") >= 4 * 10  # still a table: 2 rows of 10 borders, at least


def test_an_ascii_stream_gets_ascii_stand_ins_not_a_unicode_error(run):
    result = _lrsweep("show", str(run), env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "UnicodeEncodeError" not in result.stderr
    assert " *" in result.stdout  # the best's star
    result.stdout.encode("ascii")
    raw = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    EncodingSafe(raw).write("0.1 ± 0.02 ★ – done… é")
    raw.flush()
    assert raw.buffer.getvalue() == b"0.1 +- 0.02 * - done... ?"


def test_control_characters_never_reach_the_terminal(tmp_path, monkeypatch):
    assert clean("x\x1b]0;owned\x07 y\r\n\tz\x9b") == "x]0;owned y\n\tz"
    config = tmp_path / "config.yaml"
    hostile = "x\x1b]0;owned\x07"
    config.write_text(yaml.safe_dump({**TINY, "name": hostile, "train": {"epochs": 1}, "lr": [0.1]}))
    result = CliRunner().invoke(app, ["grid", str(config), "--out", str(tmp_path / "runs")])
    assert "\x1b" not in result.output and "\x07" not in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "model": {"name": "mlp\x1b[2J"}}))
    refused = CliRunner().invoke(app, ["validate", str(bad)])
    assert refused.exit_code == 2 and "mlp[2J" in refused.stderr and "\x1b" not in refused.stderr


def test_consoles_off_a_terminal_have_no_line_length(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    assert make_console().width >= 1000
