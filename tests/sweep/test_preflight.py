"""What validation cannot see in the config alone but training would fail on: refused before training,
by `validate` and by `grid` (which then leaves no run directory behind)."""

import copy

import pytest

from lrsweep.cli import app


def _with(base: dict, **changes) -> dict:
    config = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config


# (changes to the tiny sweep, a phrase of the error)
FAILING_LATE = {
    "mse on classification": ({"train__loss": "mse"}, "mse needs a regression dataset"),
    "steplr step_size 0": ({"scheduler": {"type": "steplr", "step_size": 0}}, "step_size=0"),
    "cosine T_max 0": ({"scheduler": {"type": "cosine", "T_max": 0}}, "T_max=0"),
    "gamma inf": ({"scheduler": {"type": "steplr", "gamma": float("inf")}}, "finite"),
    "plateau patience -1": ({"scheduler": {"type": "plateau", "patience": -1}}, "patience=-1"),
    "sgdr T_0 0": ({"scheduler": {"type": "sgdr", "T_0": 0}}, "T_0=0"),
    "weight_decay 1e308": ({"optimizer": {"name": "sgd", "weight_decay": 1e308}}, "limits.max_weight_decay"),
    "momentum nan": ({"optimizer": {"name": "sgd", "momentum": float("nan")}}, "finite"),
    "no parameters": ({"model": {"name": "torch.nn:Identity"}}, "no trainable parameters"),
    "wrong output shape": ({"model": {"name": "tests.sweep.test_preflight:wide_model"}}, "the loss needs [2, 3]"),
    "hidden 1000000": (
        {"data": {"name": "mnist-sample"}, "model": {"name": "mlp", "hidden": [1000000]}},
        "795,000,010 parameters, more than limits.max_parameters",
    ),
    "channels 40000": (
        {"data": {"name": "mnist-sample"}, "model": {"name": "cnn", "channels": [40000], "hidden": []}},
        "limits.max_activations",
    ),
    "n_samples 2^31": ({"data__n_samples": 2**31}, "limits.max_data_values"),
    "n_classes 1e9": ({"data__n_classes": 10**9}, "limits.max_classes"),
    "generator by import path, n_samples 1e9": (
        {"data": {"name": "lrsweep.data.synthetic:classification", "n_samples": 10**9}},
        "limits.max_data_values",
    ),
    "generator by import path, n_classes 1e9": (
        {"data": {"name": "lrsweep.data.synthetic:classification", "n_classes": 10**9}},
        "limits.max_classes",
    ),
    "logspace num 1e9": ({"lr": {"logspace": {"start": 1e-4, "stop": 1, "num": 10**9}}}, "limits.max_variants"),
    "too many variants": ({"seed": None, "seeds": list(range(4000))}, "limits.max_variants"),
    "builtins:dict": ({"model": {"name": "builtins:dict"}}, "Python's standard library"),
    "sys:exit": ({"data": {"name": "sys:exit"}}, "Python's standard library"),
    "torch:add": ({"model": {"name": "torch:add"}}, "built into Python"),
    "torch.nn:Dropout": ({"model": {"name": "torch.nn:Dropout"}}, "must take input_shape and output_size"),
    "not callable": ({"model": {"name": "torch:float32"}}, "not a function or class"),
    "vectorized adadelta": (
        {"engine": "vectorized", "optimizer": [{"name": "sgd"}, {"name": "adadelta"}]},
        "engine: vectorized cannot train these variants as one pack: optimizer 'adadelta' has no stacked update",
    ),
    "adam betas of 3": ({"optimizer": {"name": "adam", "betas": [0.9, 0.99, 0.5]}}, "must be a list of 2 numbers"),
    "rprop etas of 1": ({"optimizer": {"name": "rprop", "etas": [0.5]}}, "must be a list of 2 numbers"),
    "factory raises": (
        {"data": {"name": "tests.sweep.test_preflight:broken_data"}},
        "raised RuntimeError: disk on fire",
    ),
}


def wide_model(input_shape, output_size):
    import torch

    return torch.nn.Linear(input_shape[0], output_size + 4)


def broken_data():
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize("case", FAILING_LATE)
def test_validate_refuses_what_training_would_fail_on(runner, write_config, tiny_sweep, case):
    changes, phrase = FAILING_LATE[case]
    path = write_config(_with(tiny_sweep, **changes))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert phrase in result.output and str(path) in result.output, result.output


@pytest.mark.parametrize(
    "case",
    [
        "mse on classification",
        "cosine T_max 0",
        "no parameters",
        "hidden 1000000",
        "vectorized adadelta",
        "adam betas of 3",
    ],
)
def test_grid_refuses_before_creating_a_run_directory(runner, write_config, tiny_sweep, tmp_path, case):
    changes, phrase = FAILING_LATE[case]
    path = write_config(_with(tiny_sweep, **changes))
    out = tmp_path / "runs"
    result = runner.invoke(app, ["grid", str(path), "--out", str(out)])
    assert result.exit_code == 2 and phrase in result.output, result.output
    assert not out.exists() or not any(out.iterdir())  # no orphan run directory


def test_engine_vectorized_with_an_optimizer_alone_in_its_pack_is_fine(runner, write_config, tiny_sweep):
    config = _with(tiny_sweep, engine="vectorized", optimizer={"name": "adadelta"}, lr=[0.1])  # a pack of one
    assert runner.invoke(app, ["validate", str(write_config(config))]).exit_code == 0
    config["lr"] = [0.1, 0.2]
    result = runner.invoke(app, ["validate", str(write_config(config)), "--set", "engine=auto"])
    assert result.exit_code == 0, result.output


def test_a_limit_can_be_raised_in_the_config(runner, write_config, tiny_sweep):
    seeds = _with(tiny_sweep, seeds=list(range(12)))
    seeds.pop("seed", None)
    seeds["limits"] = {"max_variants": 20}
    assert runner.invoke(app, ["validate", str(write_config(seeds))]).exit_code == 2  # 12 seeds x 3 lrs = 36
    result = runner.invoke(app, ["validate", str(write_config(seeds)), "--set", "limits.max_variants=1e3"])
    assert result.exit_code == 0, result.output


def test_limits_stay_out_of_the_fingerprint(write_config, tiny_sweep):
    from lrsweep.config import load_config

    plain = load_config(write_config(tiny_sweep))
    raised = load_config(write_config(_with(tiny_sweep, limits={"max_parameters": 10**9})))
    assert raised.limits.max_parameters == 10**9 and raised.fingerprint() == plain.fingerprint()


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("mlp", {"hidden": [16, 8]}),
        ("mlp", {"hidden": [32], "dropout": 0.2, "activation": "gelu"}),
        ("mlp", {"hidden": []}),
        ("linear", {}),
    ],
)
def test_a_plain_linear_stack_is_sized_from_its_shapes_as_the_meta_forward_sizes_it(name, options, monkeypatch):
    from types import SimpleNamespace

    from lrsweep.sweep import preflight

    spec = SimpleNamespace(model_name=name, model_options=options, input_shape=(1, 28, 28), output_size=10)
    from_shapes = preflight._meta_sizes(spec)
    monkeypatch.setattr(preflight, "_linear_stack_activations", lambda model, shape: None)
    assert from_shapes == preflight._meta_sizes(spec)  # the meta forward's count, without it


def test_other_models_are_sized_by_the_meta_forward():
    from lrsweep.models import build_model
    from lrsweep.sweep.preflight import _linear_stack_activations

    cnn = build_model("cnn", {}, (1, 28, 28), 10, seed=0)
    assert _linear_stack_activations(cnn, (1, 28, 28)) is None
