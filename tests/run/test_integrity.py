"""Tampered run directories: `show` and `grid --resume` refuse them with one line naming the file."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from helpers import TINY_SWEEP, finished_run
from typer.testing import CliRunner

from lrsweep.cli import app


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_run(tmp_path_factory.mktemp("tamper"), name="tamper", train={"epochs": 1})


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def _variant(run):
    return sorted((run / "variants").iterdir())[0]


def _replace(path, content):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "DIR":
        path.mkdir()
    elif content.startswith("LINK:"):
        path.symlink_to(content[5:])
    else:
        path.write_text(content)


TAMPERS = {
    "config-not-utf8": (lambda r: r / "config.yaml", b"name: \xff\xfe\n", "config.yaml is not UTF-8"),
    "config-a-list": (lambda r: r / "config.yaml", "- 1\n- 2\n", "config.yaml: expected a mapping"),
    "config-bad-yaml": (lambda r: r / "config.yaml", "a: [1,\n", "unreadable YAML in"),
    "config-a-directory": (lambda r: r / "config.yaml", "DIR", "config.yaml is not a regular file"),
    "config-dev-zero": (lambda r: r / "config.yaml", "LINK:/dev/zero", "config.yaml is a symbolic link"),
    "meta-garbage": (lambda r: r / "meta.json", "{not json", "unreadable JSON in"),
    "meta-not-lrsweeps": (lambda r: r / "meta.json", '{"command": []}', "no lrsweep version"),
    "meta-a-list": (lambda r: r / "meta.json", "[1, 2]", "meta.json: expected a mapping"),
    "status-a-list": (lambda r: _variant(r) / "status.json", "[]", "status.json: expected a mapping"),
    "status-unknown": (lambda r: _variant(r) / "status.json", '{"status": "bogus"}', "status is 'bogus'"),
    "status-lr-text": (
        lambda r: _variant(r) / "status.json",
        '{"status": "done", "variant": {"id": "x", "lr": "big"}}',
        "lr is not a number",
    ),
    "metrics-text": (
        lambda r: _variant(r) / "metrics.csv",
        "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds\nabc,0.1,1,1,1,1,1\n",
        "epoch is 'abc', not a number",
    ),
    "metrics-dev-zero": (lambda r: _variant(r) / "metrics.csv", "LINK:/dev/zero", "metrics.csv is not a regular file"),
    "metrics-a-directory": (lambda r: _variant(r) / "metrics.csv", "DIR", "metrics.csv is not a regular file"),
    "summary-dev-zero": (lambda r: r / "summary.json", "LINK:/dev/zero", "summary.json is a symbolic link"),
    "summary-shape": (lambda r: r / "summary.json", '{"variants": "x", "groups": []}', "variants and groups must"),
    "variant-symlinked": (lambda r: _variant(r), "LINK:/tmp", "is a symbolic link (to /tmp)"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_show_refuses_a_tampered_run_naming_the_file(run, name):
    where, content, fragment = TAMPERS[name]
    _replace(where(run), content)
    if name.startswith("metrics"):
        (run / "summary.json").unlink()  # as while it trains: show rebuilds the summary from every file
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["show", str(run)])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name",
    ["config-not-utf8", "meta-not-lrsweeps", "status-unknown", "metrics-text", "variant-symlinked", "config-dev-zero"],
)
def test_resume_refuses_a_tampered_run_naming_the_file(run, name):
    where, content, fragment = TAMPERS[name]
    _replace(where(run), content)
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["grid", "--resume", str(run), "--quiet"])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output


def test_resume_wants_a_run_directory_not_any_folder_with_a_config(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(TINY_SWEEP))
    (folder / "notes.txt").write_text("my own files")
    result = CliRunner().invoke(app, ["grid", "--resume", str(folder), "--quiet"])
    assert result.exit_code == 2 and "not a run directory lrsweep made (no meta.json)" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "notes.txt"]  # nothing written into it


def test_a_symlinked_variant_folder_receives_no_write(run, tmp_path):
    outside = tmp_path / "outside"
    victim = _variant(run)
    shutil.move(str(victim), outside)
    os.symlink(outside, victim)
    (outside / "status.json").unlink()
    before = sorted(p.name for p in outside.iterdir())
    result = CliRunner().invoke(app, ["grid", "--resume", str(run), "--quiet"])
    assert result.exit_code == 2
    assert sorted(p.name for p in outside.iterdir()) == before
    assert json.loads((run / "meta.json").read_text()).get("resumes") is None
