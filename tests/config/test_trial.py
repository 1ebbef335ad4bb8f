"""config/trial.py and the keys of your own training code: command:, function:, params:, trials:, any metric."""

import pytest

from lrsweep.config import parse_config
from lrsweep.config.load import load_config
from lrsweep.errors import ConfigError

COMMAND = "python train.py --lr {lr} --seed {seed} --epochs {epochs} --out {trial_dir}"


def error_of(raw: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value


def test_a_command_config_is_lr_times_seed_and_writes_back_what_ran():
    config = parse_config({"command": COMMAND, "lr": [0.1, 0.01], "seeds": [0, 1], "select": {"metric": "eval_f1"}})
    assert config.kind == "command" and config.select.direction == "max" and not config.retrain
    saved = config.to_dict()
    assert {"data", "model", "optimizer", "scheduler", "engine"}.isdisjoint(saved)
    assert saved["command"] == COMMAND and saved["train"] == {"epochs": 10} and saved["retrain"] is False
    assert parse_config(saved) == config  # config.yaml reads back as the same config (a resume)


def test_the_fingerprint_covers_the_command_and_params_but_not_how_trials_are_stopped():
    base = {"command": COMMAND + " --m {params.m}", "params": {"m": 0.9}}
    fingerprint = parse_config(base).fingerprint()
    assert parse_config({**base, "trials": {"timeout": 60, "stop_grace": 1, "cwd": "/x"}}).fingerprint() == fingerprint
    assert parse_config({**base, "params": {"m": 0.8}}).fingerprint() != fingerprint
    assert parse_config({**base, "command": ["python", "t.py", "{params.m}"]}).fingerprint() != fingerprint


@pytest.mark.parametrize(
    "raw, key, words",
    [
        ({"command": "python t.py --seed {sed}"}, "command", "{sed}: unknown placeholder; did you mean {seed}?"),
        ({"command": "t {params.momentun}", "params": {"momentum": 0.9}}, "command", "params has no key 'momentun'"),
        ({"command": ["python", "t.py", "{trialdir}"]}, "command[2]", "did you mean {trial_dir}?"),
        ({"command": "t {lr!r}"}, "command", "conversions are not supported"),
        ({"command": "t {lr:zz}"}, "command", "placeholder {lr:zz}"),
        ({"command": "t {lr"}, "command", "write {{ and }} for literal braces"),
        ({"command": "python 'train.py"}, "command", "No closing quotation"),
        ({"command": "  "}, "command", "the command is empty"),
        ({"command": []}, "command", None),
        ({"command": "t", "function": "pkg.mod:train"}, "function", "either 'command' or 'function'"),
        ({"function": "not a spec"}, "function", "package.module:function"),
        ({"command": "t", "params": {"1x": 2}}, "params", "a params key must be a name"),
        ({"command": "t", "params": {"x": {1, 2}}}, "params.x", "must be plain data"),
    ],
)
def test_a_bad_command_is_a_config_error_naming_the_valid_placeholders(raw, key, words):
    err = error_of(raw)
    assert err.key == key, str(err)
    if words:
        assert words in err.message
    if "placeholder" in (words or "") and "valid" in err.message:
        assert "{lr}, {seed}, {epochs}, {trial_dir}, {device}, {trial_id}, {run_dir}" in err.message


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"data": {"name": "mnist"}}, "data"),
        ({"model": "mlp"}, "model"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"scheduler": "cosine"}, "scheduler"),
        ({"engine": "sequential"}, "engine"),
        ({"train": {"epochs": 3, "loss": "mse"}}, "train.loss"),
        ({"retrain": True}, "retrain"),
        ({"save": "all"}, "save"),
    ],
)
def test_keys_of_lrsweeps_own_loop_are_refused_with_your_own_code(raw, key):
    err = error_of({"command": "t", **raw})
    assert err.key == key and "your own code" in err.message


def test_the_keys_of_your_own_code_are_refused_without_it():
    assert error_of({"params": {"x": 1}}).key == "params"
    assert error_of({"trials": {"timeout": 5}}).key == "trials"
    assert parse_config({"params": {}, "trials": {}}) == parse_config({})


def test_any_metric_for_your_own_code_and_the_engines_own_for_the_engine():
    assert parse_config({"function": "m:f", "select": {"metric": "eval/top5_acc"}}).select.direction == "max"
    err = error_of({"select": {"metric": "val_f1"}})
    assert err.key == "select.metric" and "val_loss, val_acc" in err.message and "command: or function:" in err.message
    err = error_of({"command": "t", "select": {"metric": "eval_bleurt"}})
    assert err.key == "select.mode" and "give select.mode (min or max)" in err.message
    assert parse_config({"command": "t", "select": {"metric": "eval_bleurt", "mode": "max"}}).select.direction == "max"


def test_a_commands_working_directory_is_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "a.yaml").write_text(f"command: {COMMAND}\n")
    (folder / "b.yaml").write_text(f"command: {COMMAND}\ntrials: {{cwd: scripts}}\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(folder / "a.yaml").trials.cwd == str(folder)
    assert load_config(folder / "b.yaml").trials.cwd == str(folder / "scripts")
    assert load_config(folder / "a.yaml", ["trials.cwd=here"]).trials.cwd == str(tmp_path / "here")
    assert parse_config({"command": COMMAND}).trials.cwd is None  # a dict: the current directory when it runs


def test_the_trials_section_checks_its_values():
    assert error_of({"command": "t", "trials": {"timeout": 0}}).key == "trials.timeout"
    assert error_of({"command": "t", "trials": {"stop_grace": -1}}).key == "trials.stop_grace"
    assert error_of({"command": "t", "trials": {"pauze": False}}).key == "trials.pauze"
    assert error_of({"command": "t", "trials": {"env": {"X": 1}}}).key.startswith("trials.env")
