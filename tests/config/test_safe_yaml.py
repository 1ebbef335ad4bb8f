"""Hostile or broken config files: each refused at validation with one line naming the file, exit 2."""

import time

import pytest

from lrsweep.cli import app
from lrsweep.config import load_config, safe_yaml
from lrsweep.errors import ConfigError, shown

BOMB = (
    "\n".join(
        ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    )
    + "\nlr: *a8\n"
)

BAD_FILES = {
    "non-utf8": (b"name: caf\xe9\n", "not UTF-8 text: byte 0xe9 at line 1"),
    "alias bomb": (BOMB.encode(), "more than 100,000 values once aliases are expanded"),
    "recursive alias": (b"model: &m {name: mlp, hidden: *m}\n", "recursive alias"),
    "deep nesting": (b"lr: " + b"[" * 600 + b"0.1" + b"]" * 600 + b"\n", "nested more than 50 deep"),
    "duplicate key": (
        b"name: a\nseed: 0\nname: b\n",
        "line 3: key 'name' appears twice in one mapping (first at line 1)",
    ),
    "int past 64 bits": (b"seed: 18446744073709551616\n", "does not fit in 64 bits"),
    "int past 4300 digits": (b"seed: " + b"9" * 5000 + b"\n", "integers must fit in 64 bits"),
    "bad date": (b"name: 2020-13-01\n", "month must be in 1..12"),
    "big list": (b"lr: [" + b", ".join(b"%d" % (i + 1) for i in range(120_000)) + b"]\n", "100,000 values"),
    # PyYAML's own constructors raise IndexError/KeyError/AttributeError on these (#20 item 6)
    "empty float tag": (b"train: {epochs: !!float ''}\n", "line 1: '' cannot be read as !!float"),
    "empty int tag": (b"train: {epochs: !!int ''}\n", "line 1: '' cannot be read as !!int"),
    "sign-only int tag": (b"train: {epochs: !!int '-'}\n", "line 1: '-' cannot be read as !!int"),
    "empty bool tag": (b"retrain: !!bool ''\n", "line 1: '' cannot be read as !!bool"),
    "bad timestamp tag": (b"name: !!timestamp 'x'\n", "line 1: 'x' cannot be read as !!timestamp"),
    "oversized file": (b"# " + b"x" * (safe_yaml.MAX_CONFIG_BYTES + 10) + b"\n", "larger than 1024 KiB"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_files_are_refused_in_one_line_naming_the_file(runner, tmp_path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    started = time.perf_counter()
    result = runner.invoke(app, ["validate", str(path)])
    assert time.perf_counter() - started < 20  # refused before anything big is built (generous: a busy box)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.output.strip()
    assert str(path) in line and message in line, line
    assert len(line) < 600


def test_duplicate_keys_in_nested_mappings_are_refused_but_merge_keys_are_not():
    with pytest.raises(ConfigError, match="key 'batch_size' appears twice"):
        safe_yaml.load("data:\n  batch_size: 8\n  batch_size: 16\n")
    merged = safe_yaml.load("base: &b {x: 1, y: 2}\nother: {<<: *b, x: 3}\n")
    assert merged["other"] == {"x": 3, "y": 2}


def test_a_modest_alias_is_fine():
    assert safe_yaml.load("h: &h [64, 64]\nmodel: {hidden: *h}\n")["model"]["hidden"] == [64, 64]


def test_the_resolved_config_of_an_alias_heavy_value_is_not_echoed_in_full(tmp_path):
    # 9,000 values behind one alias: under the cap, but an error must not quote them all
    path = tmp_path / "c.yaml"
    path.write_text("x: &x [" + ", ".join(["1"] * 3000) + "]\nname: [*x, *x, *x]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "name" in str(info.value) and len(str(info.value)) < 300


def test_shown_bounds_any_value():
    nested = [[list(range(1000))] * 1000] * 1000  # a billion elements by reference
    assert len(shown(nested)) <= 80
    assert shown("x" * 10_000).endswith("...'") or len(shown("x" * 10_000)) <= 80
    assert shown(0.1) == "0.1"


def test_set_values_go_through_the_same_bounds(runner, write_config, tiny_sweep):
    path = write_config(tiny_sweep)
    result = runner.invoke(app, ["validate", str(path), "--set", "lr=" + "[" * 600 + "]" * 600])
    assert result.exit_code == 2 and "nested more than 50 deep" in result.output


def test_a_config_that_is_a_directory_or_missing_or_unreadable(runner, tmp_path):
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "config file not found" in result.output
    result = runner.invoke(app, ["validate", "x" * 5000 + ".yaml"])  # name too long for the file system
    assert result.exit_code == 2, result.output


def test_exponents_without_a_dot_are_numbers(runner, write_config, tiny_sweep, tmp_path):
    assert safe_yaml.load("lr: [1e-3, 3E+1]")["lr"] == [0.001, 30.0]  # YAML 1.1 alone reads '1e-3' as text
    path = tmp_path / "c.yaml"
    path.write_text("lr: [1e-3, 1e-2]\noptimizer: {name: sgd, weight_decay: 5e-4}\n")
    config = load_config(path)
    assert config.lrs == (0.001, 0.01) and config.optimizers[0].options["weight_decay"] == 0.0005


def test_a_run_directory_config_is_read_with_the_same_bounds(tmp_path):
    from lrsweep.errors import RunDirError
    from lrsweep.run.store import RunStore

    run = tmp_path / "run"
    run.mkdir()
    for text in (BOMB, "name: a\nname: b\n", "lr: " + "[" * 600 + "]" * 600):
        (run / "config.yaml").write_text(text)
        with pytest.raises(RunDirError, match="unreadable YAML in"):
            RunStore(run).read_config()
    (run / "config.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(RunDirError):
        RunStore(run).read_config()
