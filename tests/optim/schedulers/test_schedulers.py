import inspect
import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler

from lrsweep.errors import ConfigError
from lrsweep.optim.schedulers import (
    DERIVED,
    SCHEDULERS,
    ScheduleDriver,
    SchedulerSpec,
    describe_all,
    parse_scheduler,
    preview,
    resolve_params,
)

LR, EPOCHS, STEPS = 0.1, 6, 4

# One spec per registered type (a type missing here is run with no params, and fails if it needs some).
CASES = {
    "none": None,
    "steplr": {"type": "steplr", "step_size": 2, "gamma": 0.5},
    "multisteplr": "multisteplr",
    "exponentiallr": "exponentiallr",
    "reducelronplateau": {"type": "reducelronplateau", "patience": 1, "factor": 0.5},
    "cycliclr": "cycliclr",
    "cosineannealinglr": "cosineannealinglr",
    "cosineannealingwarmrestarts": {"type": "sgdr", "T_mult": 2},
    "onecyclelr": "onecyclelr",
    "lambdalr": {"type": "lambdalr", "lr_lambda": "0.9 ** epoch"},
    "multiplicativelr": {"type": "multiplicativelr", "lr_lambda": "0.95"},
    "constantlr": "constantlr",
    "linearlr": "linearlr",
    "polynomiallr": {"type": "polynomiallr", "power": 2.0},
    "sequentiallr": {
        "type": "sequential",
        "schedulers": ["linearlr", {"type": "exponential", "gamma": 0.8}],
        "milestones": [2],
    },
    "chainedscheduler": {
        "type": "chained",
        "schedulers": [{"type": "exponentiallr", "gamma": 0.9}, {"type": "steplr", "step_size": 2}],
    },
    "warmup": {"type": "warmup", "warmup_epochs": 2, "then": "cosine"},
}
EXTRA_CASES = {  # per-step variants of epoch schedules, and composites around a per-step schedule
    "cosine-per-step": {"type": "cosine", "interval": "step"},
    "lambda-per-step": {"type": "lambda", "lr_lambda": "0.99 ** step", "interval": "step"},
    "warmup-then-onecycle": {"type": "warmup", "warmup_epochs": 1, "then": "onecycle"},
    "sequential-per-step": {
        "type": "sequential",
        "interval": "step",
        "milestones": [5],
        "schedulers": [{"type": "constantlr", "factor": 0.5}, "cosine"],
    },
}
# What the formulas above mean, written as plain Python for the by-hand reference.
PYTHON_LAMBDAS = {"0.9 ** epoch": lambda e: 0.9**e, "0.95": lambda e: 0.95, "0.99 ** step": lambda e: 0.99**e}


def all_cases():
    names = [name for name, _ in SCHEDULERS]
    return [pytest.param(CASES.get(n, {"type": n}), id=n) for n in names] + [
        pytest.param(v, id=k) for k, v in EXTRA_CASES.items()
    ]


def tiny_training():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    x, y = torch.randn(8, 3), torch.randn(8, 1)

    def train_step():
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    return optimizer, train_step


def record_with_driver(spec):
    """The LRs a training loop sees when the driver steps the schedule."""
    optimizer, train_step = tiny_training()
    driver = ScheduleDriver(spec, optimizer, EPOCHS, STEPS, LR)
    epoch_lrs, step_lrs = [], []
    for _ in range(EPOCHS):
        epoch_lrs.append(optimizer.param_groups[0]["lr"])
        for _ in range(STEPS):
            step_lrs.append(optimizer.param_groups[0]["lr"])
            train_step()
            driver.after_batch()
        driver.after_epoch(1.0)  # a flat metric, as preview assumes
    return epoch_lrs, step_lrs, driver


def build_by_hand(type_, resolved, optimizer, unit):
    """The torch scheduler built directly from resolve_params' output (``unit``: scheduler steps per epoch)."""
    if type_ == "none":
        return None
    if type_ == "warmup":
        warm = resolved["warmup_epochs"] * unit
        ramp = lr_scheduler.LinearLR(optimizer, resolved["start_factor"], 1.0, total_iters=warm)
        then = resolved["then"]
        if then["type"] == "none":
            return ramp
        return lr_scheduler.SequentialLR(optimizer, [ramp, build_child(then, optimizer, unit)], milestones=[warm])
    if type_ == "sequentiallr":
        children = [build_child(c, optimizer, unit) for c in resolved["schedulers"]]
        return lr_scheduler.SequentialLR(optimizer, children, milestones=resolved["milestones"])
    if type_ == "chainedscheduler":
        return lr_scheduler.ChainedScheduler([build_child(c, optimizer, unit) for c in resolved["schedulers"]])
    cls = SCHEDULERS.get(type_).cls
    assert cls.__name__.lower() == type_  # the registry's name is the torch class's name
    kwargs = dict(resolved)
    if "lr_lambda" in kwargs:
        kwargs["lr_lambda"] = PYTHON_LAMBDAS[kwargs["lr_lambda"]]
    return cls(optimizer, **kwargs)


def build_child(resolved_child, optimizer, unit):
    params = {k: v for k, v in resolved_child.items() if k != "type"}
    return build_by_hand(resolved_child["type"], params, optimizer, unit)


def record_by_hand(spec):
    """The same schedule stepped the textbook way: scheduler.step() after optimizer.step() / each epoch."""
    resolved = resolve_params(spec, LR, EPOCHS, STEPS)
    optimizer, train_step = tiny_training()
    scheduler = build_by_hand(spec.type, resolved, optimizer, STEPS if spec.interval == "step" else 1)
    epoch_lrs, step_lrs = [], []
    for _ in range(EPOCHS):
        epoch_lrs.append(optimizer.param_groups[0]["lr"])
        for _ in range(STEPS):
            step_lrs.append(optimizer.param_groups[0]["lr"])
            train_step()
            if scheduler is not None and spec.interval == "step":
                scheduler.step()
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)
        elif scheduler is not None and spec.interval == "epoch":
            scheduler.step()
    return epoch_lrs, step_lrs


@pytest.mark.parametrize("value", all_cases())
def test_contract_driver_and_preview_match_torch_stepped_by_hand(value):
    spec = parse_scheduler(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "lr_scheduler.step() before optimizer.step()" or other warnings
        epoch_lrs, step_lrs, driver = record_with_driver(spec)
        shown = preview(spec, LR, EPOCHS, STEPS)
    hand_epochs, hand_steps = record_by_hand(spec)
    assert epoch_lrs == pytest.approx(hand_epochs, rel=1e-12)
    assert step_lrs == pytest.approx(hand_steps, rel=1e-12)
    assert shown.epoch_lrs == pytest.approx(epoch_lrs, rel=1e-12)
    assert shown.step_lrs == pytest.approx(step_lrs, rel=1e-12)
    assert len(shown.step_lrs) == EPOCHS * STEPS
    assert shown.params == driver.params == resolve_params(spec, LR, EPOCHS, STEPS)
    assert driver.lr == pytest.approx(step_lrs[-1])  # the final LR is the one the last step used
    assert parse_scheduler(spec.to_dict()) == spec
    if spec.type != "none":
        assert len(set(round(v, 12) for v in step_lrs)) > 1  # the schedule really moved the LR


def test_plateau_lowers_the_lr_after_patience_bad_epochs():
    spec = parse_scheduler({"type": "plateau", "patience": 2, "factor": 0.5})
    optimizer, train_step = tiny_training()
    driver = ScheduleDriver(spec, optimizer, 9, 1, LR)
    lrs = []
    for _ in range(9):
        lrs.append(driver.lr)
        train_step()
        driver.after_batch()
        driver.after_epoch(1.0)  # never improves after the first epoch
    assert lrs == pytest.approx([0.1] * 4 + [0.05] * 3 + [0.025] * 2)
    shown = preview(spec, LR, 9, 1)
    assert shown.epoch_lrs == pytest.approx(lrs)
    assert "flat metric" in shown.note


@pytest.mark.parametrize("epochs, patience", [(3, 0), (9, 0), (10, 1), (30, 3), (100, 10), (500, 10)])
def test_plateau_patience_is_derived_from_the_run_so_the_lr_can_drop(epochs, patience):
    spec = parse_scheduler("plateau")
    assert resolve_params(spec, LR, epochs, STEPS)["patience"] == patience
    optimizer, train_step = tiny_training()
    driver = ScheduleDriver(spec, optimizer, epochs, 1, LR)
    lrs = []
    for _ in range(epochs):
        lrs.append(driver.lr)
        train_step()
        driver.after_epoch(1.0)  # a flat metric: the plateau the schedule is for
    assert min(lrs) < LR  # the LR dropped within the run (torch's patience=10 never does in 3 epochs)


def test_plateau_that_cannot_fire_says_so():
    from lrsweep.optim.schedulers import cannot_fire

    assert cannot_fire(parse_scheduler("plateau"), {"patience": 0}, 3) is None
    note = cannot_fire(parse_scheduler({"type": "plateau", "patience": 10}), {"patience": 10}, 3)
    assert "patience=10 cannot lower the LR in a 3-epoch run" in note and "patience <= 0" in note
    assert "trains as 'none'" in cannot_fire(parse_scheduler("plateau"), {"patience": 0}, 2)


def test_plateau_keeps_the_lr_while_the_metric_improves_and_needs_a_metric():
    spec = parse_scheduler({"type": "plateau", "patience": 0})
    optimizer, train_step = tiny_training()
    driver = ScheduleDriver(spec, optimizer, 6, 1, LR)
    for loss in (1.0, 0.9, 0.8, 0.7):
        train_step()
        driver.after_epoch(loss)
    assert driver.lr == pytest.approx(LR)
    train_step()
    with pytest.raises(ValueError, match="metric"):
        driver.after_epoch(None)


def test_onecycle_completes_exactly_its_total_steps():
    spec = parse_scheduler("onecycle")
    epochs, steps = 3, 7
    optimizer, train_step = tiny_training()
    driver = ScheduleDriver(spec, optimizer, epochs, steps, LR)
    assert driver.params["total_steps"] == epochs * steps
    lrs = []
    for _ in range(epochs):
        for _ in range(steps):
            lrs.append(driver.lr)
            train_step()
            driver.after_batch()
        driver.after_epoch(None)
    assert len(lrs) == 21 and max(lrs) == pytest.approx(LR, rel=1e-2)
    final = LR / 25.0 / 1e4  # initial_lr / final_div_factor with torch's defaults
    assert lrs[-1] == pytest.approx(final) and driver.lr == pytest.approx(final)
    with pytest.raises(RuntimeError, match="planned"):
        driver.after_batch()  # one step past the plan is a caller bug, said plainly


def test_warmup_rises_linearly_then_follows_the_next_schedule():
    spec = parse_scheduler({"type": "warmup", "warmup_epochs": 3, "start_factor": 0.1, "then": {"type": "cosine"}})
    lrs = preview(spec, LR, 8, 2).epoch_lrs
    assert lrs[:4] == pytest.approx([0.01, 0.04, 0.07, 0.1])
    cosine = [LR * (1 + math.cos(math.pi * k / 5)) / 2 for k in range(5)]  # T_max = the 5 epochs left
    assert lrs[3:] == pytest.approx(cosine)
    assert resolve_params(spec, LR, 8, 2)["then"] == {"type": "cosineannealinglr", "T_max": 5}


def test_warmup_per_step_ramps_every_batch():
    spec = parse_scheduler({"type": "warmup", "warmup_epochs": 1, "interval": "step"})
    shown = preview(spec, LR, 2, 4)
    assert shown.step_lrs[:5] == pytest.approx([0.01, 0.0325, 0.055, 0.0775, 0.1])
    assert shown.step_lrs[4:] == pytest.approx([0.1] * 4)


def test_derived_defaults_follow_epochs_interval_and_lr():
    assert resolve_params(parse_scheduler("cosine"), LR, 10, 5) == {"T_max": 10}
    assert resolve_params(parse_scheduler({"type": "cosine", "interval": "step"}), LR, 10, 5) == {"T_max": 50}
    assert resolve_params(parse_scheduler("multistep"), LR, 20, 5) == {"milestones": [10, 15]}
    assert resolve_params(parse_scheduler("step"), LR, 9, 5) == {"step_size": 3}
    cyclic = resolve_params(parse_scheduler("cyclic"), 0.5, 2, 10)
    assert cyclic == {"max_lr": 0.5, "base_lr": 0.05, "step_size_up": 5, "cycle_momentum": False}
    onecycle = resolve_params(parse_scheduler({"type": "onecycle", "max_lr": 1.0}), 0.5, 2, 10)
    assert onecycle == {"max_lr": 1.0, "total_steps": 20, "cycle_momentum": False}  # the user's value wins
    gamma = resolve_params(parse_scheduler("exponential"), LR, 4, 1)["gamma"]
    assert gamma**4 == pytest.approx(0.01)


@pytest.mark.parametrize(
    "value, epochs, key",
    [
        ("multistep", 1, "scheduler.milestones"),
        ({"type": "onecycle", "interval": "epoch"}, 3, "scheduler.total_steps"),
        ({"type": "onecycle", "total_steps": 5}, 10, "scheduler.total_steps"),
        ({"type": "warmup", "warmup_epochs": 3, "then": "cosine"}, 3, "scheduler.warmup_epochs"),
        ({"type": "sequential", "schedulers": ["step", "exp"], "milestones": [4]}, 4, "scheduler.milestones"),
        ({"type": "lambda", "lr_lambda": "1 - epoch / 3"}, 5, "scheduler.lr_lambda"),
        ({"type": "sgdr", "T_mult": 0}, 5, "scheduler.T_mult"),  # a period below its minimum (ranges.py)
    ],
)
def test_values_impossible_for_the_run_are_refused_before_training(value, epochs, key):
    with pytest.raises(ConfigError) as info:
        resolve_params(parse_scheduler(value), LR, epochs, 1)
    assert info.value.key == key


def test_unknown_type_suggests_the_nearest_name():
    with pytest.raises(ConfigError, match="unknown scheduler 'steplrr'; did you mean 'steplr'"):
        parse_scheduler("steplrr")


def test_unknown_param_lists_the_valid_ones_with_the_nearest():
    with pytest.raises(ConfigError) as info:
        parse_scheduler({"type": "steplr", "gama": 0.5})
    assert "did you mean 'gamma'" in str(info.value) and "step_size" in str(info.value)
    assert info.value.key == "scheduler.gama"


@pytest.mark.parametrize(
    "value, key, given",
    [
        ({"type": "steplr", "step_size": "five"}, "scheduler.step_size", "'five'"),
        ({"type": "steplr", "step_size": 2.5}, "scheduler.step_size", "2.5"),
        ({"type": "cosine", "eta_min": "1e-5"}, "scheduler.eta_min", "1.0e-5"),
        ({"type": "cyclic", "mode": "trianglar"}, "scheduler.mode", "did you mean 'triangular'"),
        ({"type": "onecycle", "three_phase": "yes"}, "scheduler.three_phase", "'yes'"),
        (
            {"type": "sequential", "milestones": [2], "schedulers": ["linear", {"type": "step", "gamma": "x"}]},
            "scheduler.schedulers[1].gamma",
            "'x'",
        ),
        ({"type": "step", "interval": "epochs"}, "scheduler.interval", "did you mean 'epoch'"),
        ({"type": "plateau", "interval": "step"}, "scheduler.interval", "once per epoch"),
        ({"type": "lambda"}, "scheduler", "lr_lambda"),
        ({"type": "lambda", "lr_lambda": "__import__('os')"}, "scheduler.lr_lambda", "__import__"),
        ({"type": "warmup", "then": "plateau"}, "scheduler.then.type", "cannot be nested"),
        ({"type": "sequential", "schedulers": ["step", "exp"]}, "scheduler.milestones", "required"),
        ({"type": "step", "last_epoch": 3}, "scheduler.last_epoch", "unknown key"),
        ({"name": "steplr"}, "scheduler", "'type'"),
    ],
)
def test_bad_values_name_the_key_and_what_was_given(value, key, given):
    with pytest.raises(ConfigError) as info:
        parse_scheduler(value)
    assert info.value.key == key
    assert given in str(info.value)


def test_names_aliases_labels_and_round_trip():
    assert parse_scheduler("Step") == parse_scheduler({"type": "steplr"})
    assert parse_scheduler("onecycle").interval == "step" and parse_scheduler("cosine").interval == "epoch"
    assert parse_scheduler(None) == SchedulerSpec("none", {}, "epoch") == parse_scheduler("none")
    spec = parse_scheduler({"type": "step", "step_size": 5, "gamma": 0.5})
    assert spec.label == "steplr(step_size=5,gamma=0.5)" and parse_scheduler("step").label == "steplr"
    assert spec.to_dict() == {"type": "steplr", "step_size": 5, "gamma": 0.5, "interval": "epoch"}
    nested = parse_scheduler(CASES["sequentiallr"])
    assert nested.params["schedulers"][1].key == "scheduler.schedulers[1]"
    assert parse_scheduler(nested.to_dict()) == nested
    assert parse_scheduler({"type": "cosine", "interval": "step"}).label == "cosineannealinglr(interval=step)"


def test_nested_schedules_step_together():
    spec = parse_scheduler({"type": "warmup", "then": "onecycle"})  # a per-step part makes the whole per-step
    assert spec.interval == "step" and spec.params["then"].interval == "step"
    with pytest.raises(ConfigError, match="step together") as info:
        parse_scheduler({"type": "warmup", "interval": "epoch", "then": {"type": "onecycle", "interval": "step"}})
    assert info.value.key == "scheduler.then.interval"


def test_cycle_momentum_is_off_by_default_and_torch_refuses_it_without_momentum():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    adam = torch.optim.Adam(model.parameters(), lr=LR)
    ScheduleDriver(parse_scheduler("cyclic"), adam, 2, 3, LR)
    assert adam.param_groups[0]["betas"] == (0.9, 0.999)  # lrsweep varies the LR alone
    adagrad = torch.optim.Adagrad(model.parameters(), lr=LR)
    with pytest.raises(ConfigError, match="momentum"):
        ScheduleDriver(parse_scheduler({"type": "cyclic", "cycle_momentum": True}), adagrad, 2, 3, LR)


def test_describe_all_covers_every_torch_scheduler():
    base = {lr_scheduler.LRScheduler, getattr(lr_scheduler, "_LRScheduler", None)}
    in_torch = {
        f"{cls.__module__}.{cls.__name__}"
        for name, cls in inspect.getmembers(lr_scheduler, inspect.isclass)
        if issubclass(cls, lr_scheduler.LRScheduler)
        and cls not in base
        and not name.startswith("_")
        and cls.__module__ == lr_scheduler.__name__
    }
    described = describe_all()
    assert in_torch <= {d["torch_class"] for d in described}
    by_name = {d["name"]: d for d in described}
    assert {"none", "warmup"} <= set(by_name) and "onecycle" in by_name["onecyclelr"]["aliases"]
    for name, rules in DERIVED.items():  # every derived default is shown with its rule
        shown = {p["name"]: p for p in by_name[name]["params"]}
        for param, rule in rules.items():
            assert shown[param]["default"] == rule.text and shown[param]["source"] == "lrsweep"
    step = {p["name"]: p for p in by_name["steplr"]["params"]}
    assert step["gamma"] == {"name": "gamma", "default": "0.1", "source": "torch"}
    assert "required" in {p["name"]: p for p in by_name["lambdalr"]["params"]}["lr_lambda"]["default"]
    assert all(d["interval"] in ("epoch", "step") for d in described)
