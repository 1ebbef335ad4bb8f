"""The LR range test: state restoration, robustness, and the 2/lambda_max check on linear regression."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_same

from lrsweep.errors import UsageError
from lrsweep.select.finder import FinderResult, FinderSettings, grid_around
from lrsweep.select.range_test import lr_schedule, range_test


def regression_problem(n=1024, noise=0.3, seed=0):
    """y = Xw + b + noise, with X of known, unequal covariance and a non-zero mean (so the bias couples in)."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.2])
    x = torch.randn(n, 5, generator=g) * scales + 1.0
    w = torch.randn(5, generator=g)
    y = (x @ w + 0.7 + noise * torch.randn(n, generator=g)).unsqueeze(1)
    return x, y


def classification_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2))


def snapshot(model, optimizer, generator):
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),  # state_dict() holds live tensors
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "generator": generator.get_state(),
    }


@pytest.fixture
def trained_setup():
    """An MLP with dropout and an SGD optimizer that already holds momentum buffers and gradients."""
    torch.manual_seed(0)
    x, y = classification_problem()
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    F.cross_entropy(model(x), y).backward()  # leave gradients behind too
    model.eval()  # a mode the test must put back
    random.seed(3)
    return model, optimizer, x, y, torch.Generator().manual_seed(7)


def test_lr_schedule_exp_is_geometric_and_linear_is_arithmetic():
    exp = lr_schedule(FinderSettings(start_lr=1e-4, end_lr=1.0, steps=5))
    assert exp == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    lin = lr_schedule(FinderSettings(start_lr=0.1, end_lr=0.5, steps=5, mode="linear"))
    assert lin == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_state_restored_bit_for_bit(trained_setup):
    model, optimizer, x, y, gen = trained_setup
    before = snapshot(model, optimizer, gen)
    moved = []
    first = next(model.parameters()).detach().clone()
    result = range_test(
        model,
        optimizer,
        F.cross_entropy,
        x,
        y,
        32,
        FinderSettings(steps=40, start_lr=1e-4, end_lr=1.0),
        generator=gen,
        on_step=lambda *a: moved.append(not torch.equal(next(model.parameters()), first)),
    )
    assert result.steps_run > 5 and any(moved)  # the test really trained the model...
    assert_same(snapshot(model, optimizer, gen), before)  # ...and put everything back
    assert [g["lr"] for g in optimizer.param_groups] == [0.05]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_state_restored_when_the_test_fails_midway(trained_setup, exc):
    model, optimizer, x, y, gen = trained_setup
    before = snapshot(model, optimizer, gen)

    def on_step(step, lr, loss, smoothed):
        if step == 7:
            raise exc("stop here")

    with pytest.raises(exc):
        range_test(
            model, optimizer, F.cross_entropy, x, y, 32, FinderSettings(steps=40), generator=gen, on_step=on_step
        )
    assert_same(snapshot(model, optimizer, gen), before)


def nan_after(calls: int):
    """An MSE loss that turns NaN from its ``calls``-th call on."""
    count = [0]

    def loss_fn(out, target):
        count[0] += 1
        loss = F.mse_loss(out, target)
        return loss * math.nan if count[0] > calls else loss

    return loss_fn


def test_nan_loss_stops_cleanly_and_suggests_from_the_finite_part():
    x, y = regression_problem(n=256)
    model = torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    result = range_test(model, optimizer, nan_after(60), x, y, 64, FinderSettings(steps=100, edge=False))
    assert result.stopped == "nonfinite" and result.steps_run == 61
    assert math.isnan(result.losses[-1]) and all(math.isfinite(v) for v in result.losses[:-1])
    assert all(
        result.lrs[0] <= lr <= result.lrs[59] for lr in (result.suggestions["steep"], result.suggestions["valley"])
    )
    assert result.divergence_lr in result.lrs[:60]  # dated to the lowest finite loss
    assert all(torch.isfinite(p).all() for p in model.parameters())
    json.dumps(result.to_dict(), allow_nan=False)  # NaN becomes null, not invalid JSON


def test_overflowing_training_stops_as_nonfinite_without_raising():
    x, y = regression_problem(n=256)
    model = torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    settings = FinderSettings(start_lr=1e-4, end_lr=1e6, steps=100, diverge_factor=1e300)
    result = range_test(model, optimizer, F.mse_loss, x, y, 256, settings)
    assert result.stopped == "nonfinite" and result.divergence_lr is not None
    assert all(math.isfinite(v) for v in result.suggestions.values())


def test_too_few_points_is_a_usage_error_that_says_what_to_change():
    x, y = regression_problem(n=256)
    model = torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UsageError, match=r"stopped after 3 steps.*--start"):
        range_test(model, optimizer, nan_after(2), x, y, 64, FinderSettings(steps=100, edge=False))


def test_divergence_lr_is_within_3x_of_two_over_lambda_max():
    """Plain SGD on MSE linear regression is stable up to 2 / lambda_max(H), H = 2/N [X 1]^T [X 1].

    Large batches (N/4), not the full batch: full-batch GD drives the top eigendirection's error to
    ~0 before its LR limit is reached, so its blow-up surfaces only 10+ steps later; minibatch noise
    keeps that direction excited, as in any real training run.
    """
    x, y = regression_problem(n=1024)
    a = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    limit = 2 / torch.linalg.eigvalsh(2 / len(x) * a.T @ a).max().item()
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    settings = FinderSettings(start_lr=1e-7, end_lr=10.0, steps=200)
    result = range_test(model, optimizer, F.mse_loss, x, y, 256, settings, generator=torch.Generator().manual_seed(0))
    assert result.stopped == "diverged"
    assert limit / 3 <= result.divergence_lr <= 3 * limit, (result.divergence_lr, limit)
    assert result.suggestion() < result.divergence_lr


def test_accumulation_gives_one_point_per_optimizer_step_and_matches_a_larger_batch():
    x, y = regression_problem(n=512)
    settings = FinderSettings(steps=30, start_lr=1e-4, end_lr=0.01)
    curves = []
    for batch_size, accumulate in ((64, 1), (32, 2)):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = FinderSettings(**{**settings.__dict__, "accumulate": accumulate})
        result = range_test(
            model, optimizer, F.mse_loss, x, y, batch_size, run, generator=torch.Generator().manual_seed(1)
        )
        assert result.steps_run == len(result.lrs) == 30
        curves.append(result.losses)
    assert curves[1] == pytest.approx(curves[0], rel=1e-4)


def test_use_val_records_the_validation_loss_after_each_step():
    x, y = regression_problem(n=256)
    xv, yv = regression_problem(n=128, seed=1)
    model = torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []

    def on_step(step, lr, loss, smoothed):
        with torch.no_grad():
            seen.append((loss, F.mse_loss(model(xv), yv).item()))

    range_test(
        model, optimizer, F.mse_loss, x, y, 64, FinderSettings(steps=20, use_val=True), val=(xv, yv), on_step=on_step
    )
    assert [a for a, _ in seen] == pytest.approx([b for _, b in seen], rel=1e-5)
    with pytest.raises(UsageError, match="validation"):
        range_test(model, optimizer, F.mse_loss, x, y, 64, FinderSettings(steps=20, use_val=True))


def random_regression(seed):
    """A random linear regression: rows, features, feature scales and offsets all drawn."""
    g = torch.Generator().manual_seed(seed)
    m, d = int(torch.randint(100, 1500, (1,), generator=g)), int(torch.randint(1, 16, (1,), generator=g))
    scale = 10 ** (torch.rand(d, generator=g) * 2 - 0.5)
    x = torch.randn(m, d, generator=g) * scale + torch.randn(d, generator=g) * scale * 0.5
    y = x @ torch.randn(d, 1, generator=g) + torch.randn(1, generator=g) + 0.1 * torch.randn(m, 1, generator=g)
    a = torch.cat([x, torch.ones(m, 1)], dim=1).double()
    return x, y, 1 / torch.linalg.eigvalsh(a.T @ a / m).max().item()  # F.mse_loss: H = 2 A^T A / m, edge 2 / λ(H)


@pytest.mark.parametrize("seed", range(4))
def test_full_batch_gradient_descent_divergence_lr_is_the_analytic_edge(seed):
    x, y, edge = random_regression(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    result = range_test(
        model, optimizer, F.mse_loss, x, y, len(x), FinderSettings(), generator=torch.Generator().manual_seed(0)
    )
    assert 0.5 * edge <= result.divergence_lr <= 1.5 * edge, (result.divergence_lr, edge)
    grid = grid_around(result.suggestion(), result.ceiling)
    assert max(grid) <= edge
    assert FinderResult.from_dict(json.loads(json.dumps(result.to_dict()))).divergence_lr == result.divergence_lr


def test_a_test_that_never_blows_up_bounds_the_grid_where_the_loss_stopped_falling():
    x, y = classification_problem()
    torch.manual_seed(0)
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # no stability edge for Adam: the curve alone
    settings = FinderSettings(start_lr=1e-5, end_lr=1e-1, steps=60, diverge_factor=1e6)
    result = range_test(
        model, optimizer, F.cross_entropy, x, y, 32, settings, generator=torch.Generator().manual_seed(0)
    )
    assert result.stopped == "completed" and result.divergence_lr is None and result.edge_lr is None
    low = min(range(len(result.smoothed)), key=result.smoothed.__getitem__)
    assert result.ceiling == result.stopped_falling_lr == result.lrs[low]
    assert max(grid_around(result.suggestion(), result.ceiling)) <= result.ceiling
