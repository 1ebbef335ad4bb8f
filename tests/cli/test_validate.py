"""`lrsweep validate`, `lrsweep datasets` and `lrsweep schema`: offline, imports shown first, every key described."""

import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from lrsweep.cli import app
from lrsweep.errors import DownloadError, NetworkError

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("validate went to the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_validate_does_not_download_and_passes_a_correct_config(runner, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("LRSWEEP_DATA", str(tmp_path / "empty"))
    result = runner.invoke(app, ["validate", str(ROOT / "configs" / "mnist.yaml")])
    assert result.exit_code == 0, result.output
    assert "downloaded on first run" in result.output and "train-images-idx3-ubyte.gz" in result.output
    assert "'train': 54000" in result.output  # the sizes the run will have
    assert not (tmp_path / "empty").exists()


def test_validate_json_says_what_is_missing(runner, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("LRSWEEP_DATA", str(tmp_path / "empty"))
    result = runner.invoke(app, ["validate", str(ROOT / "configs" / "mnist.yaml"), "--json"])
    plan = json.loads(result.stdout)
    assert plan["task"] == "classification" and plan["sizes"] == {"train": 54000, "val": 6000, "test": 10000}
    assert any("downloaded on first run" in note for note in plan["notes"])


@pytest.mark.parametrize(
    "name, options, sizes, missing",
    [
        ("mnist", {}, {"train": 54000, "val": 6000, "test": 10000}, "train-images-idx3-ubyte.gz"),
        ("fashion-mnist", {}, {"train": 54000, "val": 6000, "test": 10000}, "train-images-idx3-ubyte.gz"),
        ("cifar10", {}, {"train": 45000, "val": 5000, "test": 10000}, "cifar-10-python.tar.gz"),
        ("cifar100", {"label": "coarse"}, {"train": 45000, "val": 5000, "test": 10000}, "cifar-100-python.tar.gz"),
    ],
)
def test_validate_never_downloads_a_remote_dataset(
    runner, write_config, tiny_sweep, tmp_path, name, options, sizes, missing
):
    from helpers import FileServer

    with FileServer({}) as server:  # every request is recorded (and answered 404)
        data = {"name": name, "root": str(tmp_path / "d"), "mirrors": [server.url + "/"], **options}
        config = {**tiny_sweep, "data": data, "model": {"name": "linear"}}
        result = runner.invoke(app, ["validate", str(write_config(config)), "--json"])
    assert result.exit_code == 0, result.output
    assert server.requests == []
    plan = json.loads(result.stdout)
    assert plan["sizes"] == sizes
    assert any("downloaded on first run" in note and missing in note for note in plan["notes"]), plan["notes"]


def test_validate_with_download_off_and_files_missing_is_a_config_error(runner, write_config, tmp_path, no_network):
    path = write_config({"data": {"name": "mnist", "root": str(tmp_path / "d"), "download": False}})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "data.download is false" in result.output


def test_network_failures_have_their_own_exit_code(runner, write_config, tmp_path, monkeypatch):
    import lrsweep.data.idx as idx

    def offline(*args, **kwargs):
        raise DownloadError("mnist: could not download train-images-idx3-ubyte.gz: <urlopen error [Errno -3]>")

    monkeypatch.setattr(idx, "ensure_files", offline)
    path = write_config(
        {"data": {"name": "mnist", "root": str(tmp_path / "d")}, "train": {"epochs": 1}, "lr": 0.1, "device": "cpu"}
    )
    result = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 3, result.output
    assert issubclass(DownloadError, NetworkError) and NetworkError.exit_code == 3


def test_a_user_factory_that_fails_on_the_network_exits_3(runner, write_config, tmp_path):
    pkg = tmp_path / "netpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent("""
        import urllib.error
        def data():
            raise urllib.error.URLError("no route to host")
    """)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        result = runner.invoke(app, ["validate", str(write_config({"data": {"name": "netpkg:data"}}))])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("netpkg", None)
    assert result.exit_code == 3 and "network failure" in result.output


def _plugin(tmp_path, body: str) -> Path:
    pkg = tmp_path / "plugpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "loud.py").write_text(body)
    return tmp_path


LOUD = textwrap.dedent("""
    import os
    open(os.environ["MARKER"], "w").write("imported")
    import torch
    def net(input_shape, output_size):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[0], output_size))
""")


def test_validate_lists_imports_before_importing_and_no_import_imports_nothing(
    runner, write_config, tiny_sweep, tmp_path, monkeypatch
):
    root = _plugin(tmp_path, LOUD)
    marker = tmp_path / "marker"
    monkeypatch.setenv("MARKER", str(marker))
    monkeypatch.syspath_prepend(str(root))
    path = write_config({**tiny_sweep, "model": {"name": "plugpkg.loud:net"}})
    result = runner.invoke(app, ["validate", str(path), "--no-import"])
    assert result.exit_code == 0, result.output
    assert not marker.exists() and "plugpkg.loud" not in sys.modules
    assert "would import: plugpkg.loud (for model.name 'plugpkg.loud:net')" in result.output
    assert "unchecked: model.name 'plugpkg.loud:net'" in result.output
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert marker.exists()
    assert result.output.index("imports: plugpkg.loud (for model.name") < result.output.index("OK:")
    sys.modules.pop("plugpkg.loud", None)


def test_no_import_still_checks_the_rest(runner, write_config, tiny_sweep):
    path = write_config({**tiny_sweep, "data": {"name": "mypkg.data:load"}, "train": {"epochs": 0}})
    result = runner.invoke(app, ["validate", str(path), "--no-import"])
    assert result.exit_code == 2 and "train.epochs" in result.output
    path = write_config({**tiny_sweep, "data": {"name": "mypkg.data:load", "command": "echo pwned"}})
    result = runner.invoke(app, ["validate", str(path), "--no-import"])
    assert result.exit_code == 0 and "unchecked: data.name 'mypkg.data:load'" in result.output
    path = write_config({**tiny_sweep, "data": {"name": "os:system", "command": "echo pwned"}})
    for flags in ([], ["--no-import"]):  # the standard library is refused by its name, imported or not
        result = runner.invoke(app, ["validate", str(path), *flags])
        assert result.exit_code == 2 and "Python's standard library" in result.output


STDLIB_RUNNERS = [
    ("os:popen", "cmd"),
    ("subprocess:getoutput", "cmd"),
    ("subprocess:getstatusoutput", "cmd"),
    ("pty:spawn", "argv"),
    ("runpy:run_path", "path_name"),
]


@pytest.mark.parametrize("spec, arg", STDLIB_RUNNERS)
def test_a_standard_library_factory_is_refused_before_it_runs(runner, write_config, tiny_sweep, tmp_path, spec, arg):
    marker = tmp_path / "pwned"
    command = f"touch {marker}" if arg != "path_name" else str(tmp_path / "script.py")
    (tmp_path / "script.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    path = write_config({**tiny_sweep, "data": {"name": spec, arg: command}})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert not marker.exists(), f"validate ran {spec}"
    assert "data.name" in result.output and "Python's standard library" in result.output


def test_a_standard_library_module_is_not_even_imported(runner, write_config, tiny_sweep):
    sys.modules.pop("this", None)  # importing `this` prints the Zen of Python
    result = runner.invoke(app, ["validate", str(write_config({**tiny_sweep, "model": {"name": "this:s"}}))])
    assert result.exit_code == 2 and "Python's standard library" in result.output
    assert "this" not in sys.modules and "Beautiful is better" not in result.output


def test_a_standard_library_function_re_exported_by_a_user_module_is_refused(
    runner, write_config, tiny_sweep, tmp_path, monkeypatch
):
    (tmp_path / "reexport.py").write_text("from subprocess import getoutput\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_config({**tiny_sweep, "data": {"name": "reexport:getoutput", "cmd": "echo hi"}})
    result = runner.invoke(app, ["validate", str(path)])
    sys.modules.pop("reexport", None)
    assert result.exit_code == 2 and "comes from Python's standard library (subprocess)" in result.output


def test_validate_accepts_an_optimizer_class_named_by_import_path_as_grid_does(runner, write_config, tiny_sweep):
    path = write_config({**tiny_sweep, "optimizer": {"name": "torch.optim:SGD", "momentum": 0.9}})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "imports: torch.optim (for optimizer.name 'torch.optim:SGD')" in result.output
    assert "--no-import" not in result.output
    result = runner.invoke(app, ["validate", str(path), "--no-import"])
    assert result.exit_code == 0, result.output
    assert "unchecked: optimizer.name 'torch.optim:SGD'" in result.output
    typo = write_config({**tiny_sweep, "optimizer": {"name": "torch.optim:SGD", "momentun": 0.9}})
    result = runner.invoke(app, ["validate", str(typo)])
    assert result.exit_code == 2 and "did you mean 'momentum'?" in result.output


SIZED = textwrap.dedent("""
    import os
    import numpy as np

    def rows(n_rows: int = 100, n_features: int = 4, seed: int = 0):
        open(os.environ["MARKER"], "w").close()  # called
        x = np.random.default_rng(seed).normal(size=(n_rows, n_features))
        return x, (x[:, 0] > 0).astype(np.int64), x[:10], (x[:10, 0] > 0).astype(np.int64)
""")


def test_limits_apply_to_a_factory_named_by_import_path_before_it_is_called(
    runner, write_config, tiny_sweep, tmp_path, monkeypatch
):
    (tmp_path / "sized.py").write_text(SIZED)
    marker = tmp_path / "called"
    monkeypatch.setenv("MARKER", str(marker))
    monkeypatch.syspath_prepend(str(tmp_path))
    started = time.perf_counter()
    for data in (
        {"name": "lrsweep.data.synthetic:classification", "n_samples": 10**9},
        {"name": "sized:rows", "n_rows": 10**9, "n_features": 100},
        {"name": "sized:rows", "n_rows": 10**5, "n_features": 10**5},
    ):
        result = runner.invoke(app, ["validate", str(write_config({**tiny_sweep, "data": data}))])
        assert result.exit_code == 2 and "limits.max_data_values" in result.output, result.output
    assert time.perf_counter() - started < 20  # refused from the arguments, nothing allocated
    assert not marker.exists()
    sys.modules.pop("sized", None)


def test_limits_apply_to_what_a_factory_returns(runner, write_config, tiny_sweep, tmp_path, monkeypatch):
    unsized = SIZED.replace("n_rows: int = 100", "count: int = 100").replace("n_rows", "count")  # no size argument
    (tmp_path / "sized.py").write_text(unsized)
    monkeypatch.setenv("MARKER", str(tmp_path / "called"))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {**tiny_sweep, "data": {"name": "sized:rows", "count": 3000}, "limits": {"max_data_values": 5000}}
    result = runner.invoke(app, ["validate", str(write_config(config))])
    sys.modules.pop("sized", None)
    assert result.exit_code == 2, result.output
    assert "returned 12,040 input values" in result.output and "limits.max_data_values=5,000" in result.output


def test_a_plateau_schedule_that_cannot_fire_is_a_notice(runner, write_config, tiny_sweep, tmp_path):
    config = {**tiny_sweep, "scheduler": {"type": "plateau", "patience": 10}, "train": {"epochs": 3}}
    result = runner.invoke(app, ["validate", str(write_config(config))])
    assert result.exit_code == 0, result.output
    assert "patience=10 cannot lower the LR in a 3-epoch run" in result.output
    config["retrain"] = False
    result = runner.invoke(app, ["grid", str(write_config(config)), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0 and "patience=10 cannot lower the LR" in result.stderr
    config["scheduler"] = "plateau"  # the derived patience (0 in 3 epochs) can fire: nothing to say
    assert "cannot lower" not in runner.invoke(app, ["validate", str(write_config(config))]).output


def test_validate_help_says_a_config_can_name_code(runner):
    result = runner.invoke(app, ["validate", "--help"])
    assert "A config is code when it names code" in result.output and "--no-import" in result.output


# --------------------------------------------------------------------------- item 7: data keys, `datasets`


def test_a_data_key_typo_suggests_the_nearest_spelling(runner, write_config):
    result = runner.invoke(app, ["validate", str(write_config({"data": {"name": "mnist-sample", "batchsize": 8}}))])
    assert result.exit_code == 2
    assert (
        "did you mean 'batch_size'?" in result.output and "(valid: augment, batch_size, download, name" in result.output
    )
    result = runner.invoke(
        app,
        [
            "validate",
            str(write_config({"data": {"name": "csv", "path": "a.csv", "target": "y", "standardise": False}})),
        ],
    )
    assert "did you mean 'standardize'?" in result.output


def test_datasets_lists_every_dataset_with_its_options(runner):
    from lrsweep.data import DATASETS

    result = runner.invoke(app, ["datasets", "--json"])
    assert result.exit_code == 0
    described = json.loads(result.stdout)
    assert [d["name"] for d in described["datasets"]] == DATASETS.names()
    csv = next(d for d in described["datasets"] if d["name"] == "csv")
    options = {o["name"]: o for o in csv["options"]}
    assert options["standardize"]["default"] == "true" and options["standardize"]["meaning"]
    assert options["task"]["meaning"] and options["path"]["default"] == "required"
    assert {k["name"] for k in described["common"]} == {
        "name",
        "root",
        "download",
        "val_fraction",
        "batch_size",
        "augment",
        "num_workers",
    }
    assert all(k["meaning"] for k in described["common"])
    table = runner.invoke(app, ["datasets"])
    assert table.exit_code == 0 and "synthetic-regression" in table.output and "n_samples" in table.output


# --------------------------------------------------------------------------- item 8: relative paths


def test_relative_paths_resolve_against_the_config_file(runner, tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i * 0.5}\n" for i in range(40)))
    config = folder / "sweep.yaml"
    config.write_text(
        yaml.safe_dump({"data": {"name": "csv", "path": "data.csv", "target": "y"}, "lr": 0.1, "device": "cpu"})
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder
    result = runner.invoke(app, ["validate", str(config.relative_to(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["data"]["path"] == str(folder / "data.csv")
    missing = runner.invoke(app, ["validate", str(config), "--set", "data.path=nope.csv"])
    assert missing.exit_code == 2 and str(tmp_path / "nope.csv") in missing.output  # --set: relative to cwd


# --------------------------------------------------------------------------- item 12: the schema


def _check(instance, schema, where="$"):
    """The subset of JSON Schema that `lrsweep schema` emits (jsonschema is not a dependency)."""
    errors = []
    if "anyOf" in schema:
        if not any(not _check(instance, option, where) for option in schema["anyOf"]):
            errors.append(f"{where}: matches none of anyOf")
        return errors
    if "not" in schema and not _check(instance, schema["not"], where):
        errors.append(f"{where}: matches what it must not")
    for part in schema.get("allOf", []):
        errors += _check(instance, part, where)
    if "if" in schema and not _check(instance, schema["if"], where):
        errors += _check(instance, schema.get("then", {}), where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        py = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
        ok = any(
            (k == "integer" and isinstance(instance, int) and not isinstance(instance, bool))
            or (k == "number" and isinstance(instance, (int, float)) and not isinstance(instance, bool))
            or (k in py and isinstance(instance, py[k]))
            for k in kinds
        )
        if not ok:
            return [f"{where}: {instance!r} is not {kinds}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{where}: not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{where}: {instance!r} not in enum")
    if "pattern" in schema and isinstance(instance, str) and not __import__("re").search(schema["pattern"], instance):
        errors.append(f"{where}: {instance!r} does not match {schema['pattern']}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{where}: below minimum")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: not above exclusiveMinimum")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{where}: missing {key}")
        if "maxProperties" in schema and len(instance) > schema["maxProperties"]:
            errors.append(f"{where}: too many properties")
        for key, value in instance.items():
            if key in props:
                errors += _check(value, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{where}: unknown key {key}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{where}: too few items")
        for i, item in enumerate(instance):
            errors += _check(item, schema.get("items", {}), f"{where}[{i}]")
    return errors


@pytest.fixture(scope="module")
def schema():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    return json.loads(result.stdout)


def test_the_schema_is_generated_from_config_py(schema):
    from lrsweep.config import DataConfig, TrainConfig

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    props = schema["properties"]
    assert props["train"]["properties"]["epochs"] == {
        "type": "integer",
        "description": "passes over the training split per variant",
        "default": TrainConfig().epochs,
    }
    data = props["data"]["anyOf"][0]["properties"]
    assert (
        data["batch_size"]["default"] == DataConfig().batch_size and "mnist-sample" in data["name"]["anyOf"][0]["enum"]
    )
    assert set(props) == set(__import__("lrsweep.config", fromlist=["TOP_KEYS"]).TOP_KEYS)


@pytest.mark.parametrize("path", CONFIGS + [ROOT / "lrsweep" / "config" / "quick.yaml"], ids=lambda p: p.name)
def test_every_bundled_config_validates_against_the_schema(schema, path):
    assert _check(yaml.safe_load(path.read_text()), schema) == []


def test_the_schema_catches_what_an_editor_should_flag(schema):
    assert _check({"trian": {"epochs": 3}}, schema)  # a misspelt section
    assert _check({"train": {"epochs": "ten"}}, schema)
    assert _check({"select": {"metric": "val_accuracy"}}, schema)  # lrsweep's own loop reports val_acc
    assert not _check({"command": "python t.py", "select": {"metric": "val_accuracy", "mode": "max"}}, schema)
    assert _check({"scheduler": {"type": "cosinee"}}, schema)
    assert not _check(
        {"model": "mypkg.models:net", "scheduler": ["none", {"type": "cosine"}], "lr": [0.1, 0.3]}, schema
    )


def test_validate_never_imports_torch_dynamo(write_config, tiny_sweep):
    """The compiler stack (torch._dynamo, about a second of start-up) is not needed to check a config: not for
    an optimizer's own checks, nor a schedule's dry run, nor sizing an MLP (a fresh process sees every import)."""
    config = write_config(
        {
            **tiny_sweep,
            "optimizer": [{"name": "sgd", "momentum": 0.9, "nesterov": True}, {"name": "adam"}],
            "scheduler": [{"type": "onecycle"}, {"type": "warmup", "then": {"type": "cosine"}}],
        }
    )
    code = (
        "import sys\nfrom lrsweep.cli import app\n"
        f"app(['validate', {str(config)!r}], standalone_mode=False)\n"
        "from lrsweep.optim import OPTIMIZERS, trial_optimizer\n"
        "for name in OPTIMIZERS.names(): trial_optimizer(OPTIMIZERS.get(name), lr=0.1)\n"
        "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "no dynamo"
    assert "is valid (12 variants" in done.stdout
