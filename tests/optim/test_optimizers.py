"""Every torch.optim optimizer by name, refusals with reasons, and a third-party class by import path."""

from __future__ import annotations

import pytest
import torch
from helpers import Recorded, splits_of

from lrsweep.config import parse_config
from lrsweep.engine.stacked_optim import supports
from lrsweep.errors import ConfigError
from lrsweep.optim import OPTIMIZERS, REFUSED, check_optimizer_options, trial_optimizer
from lrsweep.run.store import RunStore
from lrsweep.sweep.runner import run_sweep

EXPECTED = {
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "asgd",
    "nadam",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
}


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), the sign of an interpolated momentum: a third-party-style optimizer."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        if lr <= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                avg = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(avg.lerp(p.grad, 1 - beta1).sign_(), alpha=-group["lr"])
                avg.lerp_(p.grad, 1 - beta2)


class NotAnOptimizer:
    def __init__(self, weights):
        self.weights = weights


def sweep(raw, tmp_path):
    config = parse_config(raw)
    events = Recorded()
    summary = run_sweep(config, splits_of(config), RunStore.create(tmp_path, config.name), events)
    return summary, events


def test_every_torch_optimizer_taking_params_and_lr_is_registered():
    names = set(OPTIMIZERS.names())
    assert EXPECTED <= names
    assert not names & set(REFUSED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_torch_optimizer_by_name_trains_one_epoch(name, tiny_sweep, tmp_path):
    raw = {
        **tiny_sweep,
        "optimizer": {"name": name.upper()},
        "lr": [1e-3, 1e-2],
        "train": {"epochs": 1},
        "retrain": False,
    }
    summary, events = sweep(raw, tmp_path)
    rows = summary["variants"]
    assert [r["status"] for r in rows] == ["done", "done"]
    assert all(r["val_loss"] is not None and r["val_loss"] == r["val_loss"] for r in rows)
    if supports(name):
        assert events.packs == [2] and not events.notices
    else:  # no stacked update: one variant at a time, said once
        assert events.packs == [1, 1]
        assert any(f"'{name}' has no stacked update" in n for n in events.notices)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_optimizers_say_why(name):
    with pytest.raises(ConfigError, match=f"optimizer '{name}' cannot be used: .+") as err:
        check_optimizer_options(name, {})
    assert err.value.key == "optimizer.name"


def test_names_are_case_insensitive_and_options_checked_against_the_signature():
    assert check_optimizer_options("NAdam", {"momentum_decay": 1e-3}) == ("nadam", {"momentum_decay": 1e-3})
    with pytest.raises(ConfigError, match="did you mean 'momentum_decay'"):
        check_optimizer_options("nadam", {"momentum_decy": 1e-3})
    with pytest.raises(ConfigError, match="must be a list"):
        check_optimizer_options("rprop", {"etas": 0.5})
    assert check_optimizer_options("adafactor", {"beta2_decay": -0.5})[1] == {"beta2_decay": -0.5}  # negative default
    with pytest.raises(ConfigError, match="must be >= 0"):
        check_optimizer_options("asgd", {"lambd": -1.0})
    with pytest.raises(ConfigError, match="unknown optimizer 'nadamm'; did you mean 'nadam'"):
        check_optimizer_options("nadamm", {})


def test_a_third_party_optimizer_class_by_import_path_trains(tiny_sweep, tmp_path):
    spec = f"{__name__}:Lion"
    assert check_optimizer_options(spec, {"betas": [0.9, 0.95]}) == (spec, {"betas": (0.9, 0.95)})
    raw = {**tiny_sweep, "optimizer": {"name": spec, "weight_decay": 0.01}, "lr": [1e-4, 1e-3], "train": {"epochs": 2}}
    summary, events = sweep(raw, tmp_path)
    assert [r["status"] for r in summary["variants"]] == ["done", "done"]
    assert summary["retrain"]["status"] == "done"
    assert any("has no stacked update" in n for n in events.notices)
    losses = [r["val_loss"] for r in summary["variants"]]
    assert losses[0] != losses[1]  # the lr reached the optimizer


def test_a_third_party_import_path_is_checked():
    with pytest.raises(ConfigError, match="did you mean 'betas'"):
        check_optimizer_options(f"{__name__}:Lion", {"beta": [0.9, 0.99]})
    with pytest.raises(ConfigError, match="must accept 'params' and 'lr'"):
        check_optimizer_options(f"{__name__}:NotAnOptimizer", {})
    with pytest.raises(ConfigError, match="has no attribute 'Lian'"):
        check_optimizer_options(f"{__name__}:Lian", {})
    with pytest.raises(ConfigError, match="cannot import module 'no_such_pkg.optim'"):
        check_optimizer_options("no_such_pkg.optim:Lion", {})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_trial_build_is_the_class_with_the_constructors_own_checks(name):
    cls = OPTIMIZERS.get(name)
    trial, built = trial_optimizer(cls, lr=0.1), cls([torch.zeros(1, requires_grad=True)], lr=0.1)
    assert type(trial) is cls
    assert {k: v for k, v in trial.param_groups[0].items() if k != "params"} == {
        k: v for k, v in built.param_groups[0].items() if k != "params"
    }


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("sgd", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
        ("adam", {"betas": (1.5, 0.999)}, "Invalid beta parameter at index 0"),
        ("rprop", {"etas": (1.5, 1.2)}, "Invalid eta values"),
    ],
)
def test_what_only_the_constructor_refuses_is_still_refused(name, options, message):
    with pytest.raises(ValueError, match=message):
        trial_optimizer(OPTIMIZERS.get(name), lr=0.1, **options)
    with pytest.raises(ConfigError, match=message):
        check_optimizer_options(name, options)
