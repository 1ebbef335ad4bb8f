"""The stability edge: sharpness by power iteration, and the edge of each update rule, checked by training."""

import pytest
import torch
import torch.nn.functional as F

from lrsweep.select.edge import edge_factor, edge_of, sharpness, stability_edge


def problem(seed=0, n=400):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g) * torch.tensor([2.0, 1.0, 0.5, 0.1]) + 0.5
    return x, x @ torch.randn(4, 1, generator=g)


def final_loss(lr, options, x, y, steps=300):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, **options)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    return F.mse_loss(model(x), y).item()


def test_sharpness_of_linear_regression_is_the_analytic_one():
    x, y = problem()
    a = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    exact = torch.linalg.eigvalsh(2 * a.T @ a / len(x)).max().item()
    lam, passes = sharpness(torch.nn.Linear(4, 1), F.mse_loss, x, y)
    assert lam == pytest.approx(exact, rel=1e-3) and 3 <= passes <= 61


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True}])
def test_gradient_descent_is_stable_just_inside_the_edge_and_blows_up_just_outside(options):
    x, y = problem()
    model = torch.nn.Linear(4, 1)
    edge, lam, passes = stability_edge(model, torch.optim.SGD(model.parameters(), lr=0.1, **options), F.mse_loss, x, y)
    assert edge == pytest.approx(edge_factor(torch.optim.SGD(model.parameters(), lr=0.1, **options)) / lam)
    start = F.mse_loss(model(x), y).item()
    assert final_loss(0.9 * edge, options, x, y) < start
    blown = final_loss(1.1 * edge, options, x, y)
    assert not blown < 100 * start  # NaN or far past the start


def test_adaptive_optimizers_have_no_edge():
    model = torch.nn.Linear(4, 1)
    assert edge_factor(torch.optim.Adam(model.parameters())) is None
    assert stability_edge(model, torch.optim.Adam(model.parameters()), F.mse_loss, *problem()) == (None, None, 0)


def test_with_param_groups_at_other_lrs_the_edge_is_the_scaled_hessians():
    """Groups at LR ratios D see D^½ H D^½: the edge is in the reference group's LR, exactly 2/λ_max of that."""
    x, y = problem()
    a = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    d = torch.tensor([0.05] * 4 + [1.0]).double().sqrt()  # the weights at 1/20 of the bias's LR
    exact = 2 / torch.linalg.eigvalsh(d[:, None] * (2 * a.T @ a / len(x)) * d[None, :]).max().item()
    model = torch.nn.Linear(4, 1)
    groups = [{"params": [model.weight], "lr": 0.01}, {"params": [model.bias], "lr": 0.2}]
    edge, _, _ = edge_of(model, torch.optim.SGD(groups), lambda: F.mse_loss(model(x), y), [0.05, 1.0])
    assert edge == pytest.approx(exact, rel=1e-3)
    unscaled, _, _ = stability_edge(model, torch.optim.SGD(model.parameters(), lr=0.1), F.mse_loss, x, y)
    assert edge > 2 * unscaled  # a range test that ignored the ratios would bound the LR far too low


def test_groups_with_different_update_rules_have_no_edge():
    model = torch.nn.Linear(4, 1)
    groups = [{"params": [model.weight], "momentum": 0.9}, {"params": [model.bias], "momentum": 0.0}]
    assert edge_factor(torch.optim.SGD(groups, lr=0.1)) is None
