"""The stability edge: sharpness by power iteration, and the edge of each update rule, checked by training."""

import pytest
import torch
import torch.nn.functional as F

from lrsweep.select.edge import edge_factor, sharpness, stability_edge


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
