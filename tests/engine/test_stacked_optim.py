"""StackedOptimizer reproduces K separate torch.optim runs, variant by variant."""

from __future__ import annotations

import pytest
import torch

from lrsweep.engine.stacked_optim import StackedOptimizer
from lrsweep.errors import VectorizeError

SHAPES = [(3, 5), (3,), (2, 3), (2,)]  # a tiny two-layer model's parameters
STEPS = 20
# float32: the stacked update mirrors torch's operation order; where a per-variant tensor replaces a
# scalar (torch's fused a + alpha*x becomes a + (alpha*x)) results may differ by an ulp per step.
RTOL, ATOL = 1e-5, 1e-6

CONFIGS = {
    "sgd": ("SGD", [{"lr": 0.1}, {"lr": 0.03}, {"lr": 0.01}, {"lr": 0.3}]),
    "sgd-momentum": ("sgd", [{"lr": 0.1, "momentum": 0.9}] * 2 + [{"lr": 0.02, "momentum": 0.9}] * 2),
    "sgd-mixed": (
        "sgd",
        [
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2},
            {"lr": 0.05, "momentum": 0.0, "weight_decay": 0.0},
            {"lr": 0.02, "momentum": 0.5, "nesterov": True, "weight_decay": 1e-3},
            {"lr": 0.01, "momentum": 0.99, "maximize": True},
        ],
    ),
    "sgd-nesterov": (
        "sgd",
        [{"lr": lr, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4} for lr in (0.1, 0.05, 0.02, 0.01)],
    ),
    "adam": ("adam", [{"lr": lr} for lr in (1e-3, 3e-3, 1e-2, 3e-2)]),
    "adam-mixed": (
        "adam",
        [
            {"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": True, "weight_decay": 1e-2},
            {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6},
            {"lr": 3e-3, "betas": (0.95, 0.9), "decoupled_weight_decay": True, "weight_decay": 0.1},
            {"lr": 2e-2, "amsgrad": False, "maximize": True},
        ],
    ),
    "adam-amsgrad": ("adam", [{"lr": lr, "amsgrad": True, "weight_decay": 1e-3} for lr in (1e-3, 3e-3, 1e-2, 3e-2)]),
    "adamw": ("AdamW", [{"lr": 1e-3, "weight_decay": wd} for wd in (0.0, 1e-2, 0.1, 0.5)]),
    "adamw-amsgrad": ("adamw", [{"lr": lr, "amsgrad": True} for lr in (1e-3, 3e-3, 1e-2, 3e-2)]),
    "rmsprop": ("rmsprop", [{"lr": lr} for lr in (1e-3, 3e-3, 1e-2, 3e-2)]),
    "rmsprop-centered-momentum": (
        "RMSprop",
        [
            {"lr": lr, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 1e-3}
            for lr in (1e-3, 3e-3, 1e-2, 3e-2)
        ],
    ),
    "rmsprop-mixed": (
        "rmsprop",
        [
            {"lr": 1e-3, "centered": True, "momentum": 0.5},
            {"lr": 1e-2, "alpha": 0.95, "eps": 1e-6},
            {"lr": 3e-3, "momentum": 0.9},
            {"lr": 2e-3, "centered": True},
        ],
    ),
    "adagrad": (
        "adagrad",
        [
            {"lr": 1e-2},
            {"lr": 3e-2, "lr_decay": 0.01},
            {"lr": 1e-1, "initial_accumulator_value": 0.1, "weight_decay": 1e-2},
            {"lr": 5e-2, "eps": 1e-6},
        ],
    ),
    "adamax": ("Adamax", [{"lr": lr} for lr in (2e-3, 1e-2, 3e-2, 1e-1)]),
    "adamax-mixed": (
        "adamax",
        [
            {"lr": 2e-3, "betas": (0.9, 0.999), "weight_decay": 1e-2},
            {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6},
            {"lr": 3e-3, "maximize": True},
            {"lr": 2e-2, "weight_decay": 0.0},
        ],
    ),
    "nadam": ("NAdam", [{"lr": lr} for lr in (2e-3, 1e-2, 3e-2, 1e-1)]),
    "nadam-mixed": (
        "nadam",
        [
            {"lr": 2e-3, "momentum_decay": 4e-3, "weight_decay": 1e-2},
            {"lr": 1e-2, "betas": (0.8, 0.99), "momentum_decay": 1e-2, "eps": 1e-6},
            {"lr": 3e-3, "decoupled_weight_decay": True, "weight_decay": 0.1},
            {"lr": 2e-2, "maximize": True},
        ],
    ),
    "radam": ("RAdam", [{"lr": lr} for lr in (1e-3, 1e-2, 3e-2, 1e-1)]),
    "radam-mixed": (  # rho_t > 5 from step 6 for beta2 0.9 and 0.999, never for 0.5: both branches in one pack
        "radam",
        [
            {"lr": 1e-3, "betas": (0.9, 0.9), "weight_decay": 1e-2},
            {"lr": 1e-2, "betas": (0.8, 0.5), "eps": 1e-6},
            {"lr": 3e-3, "decoupled_weight_decay": True, "weight_decay": 0.1},
            {"lr": 2e-2, "maximize": True},
        ],
    ),
}


def _init(k: int, seed: int = 0) -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen) for s in SHAPES] for _ in range(k)]


def _grads(k: int, steps: int, seed: int = 1) -> list[list[list[torch.Tensor]]]:
    """grads[t][k][i]: varied magnitudes so second moments differ between parameters."""
    gen = torch.Generator().manual_seed(seed)
    return [
        [[torch.randn(s, generator=gen) * (1 + 3 * i) for i, s in enumerate(SHAPES)] for _ in range(k)]
        for _ in range(steps)
    ]


def _reference(name, hparams, init, grads):
    """K separate torch.optim runs: final params and per-parameter state."""
    out = []
    for k, hp in enumerate(hparams):
        params = [p.clone().requires_grad_(True) for p in init[k]]
        opt = getattr(torch.optim, {o.lower(): o for o in dir(torch.optim)}[name.lower()])(params, **hp)
        for step in grads:
            for p, g in zip(params, step[k]):
                p.grad = g.clone()
            opt.step()
        out.append(([p.detach() for p in params], [opt.state[p] for p in params]))
    return out


def _stacked(name, hparams, init, grads, active=None):
    params = [torch.stack([init[k][i] for k in range(len(hparams))]).requires_grad_(True) for i in range(len(SHAPES))]
    opt = StackedOptimizer(name, params, hparams)
    for step in grads:
        for i, p in enumerate(params):
            p.grad = torch.stack([step[k][i] for k in range(len(hparams))])
        opt.step(active)
    return opt


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_matches_separate_torch_runs(config):
    name, hparams = CONFIGS[config]
    init, grads = _init(4), _grads(4, STEPS)
    ref = _reference(name, hparams, init, grads)
    opt = _stacked(name, hparams, init, grads)
    for k, (ref_params, ref_state) in enumerate(ref):
        for i, p in enumerate(opt.params):
            torch.testing.assert_close(
                p.detach()[k], ref_params[i], rtol=RTOL, atol=ATOL, msg=f"{config}: variant {k} param {i}"
            )
            for s, tensors in opt.state.items():
                if s in ref_state[i]:
                    torch.testing.assert_close(
                        tensors[i][k], ref_state[i][s], rtol=RTOL, atol=ATOL, msg=f"{config}: state {s}"
                    )


@pytest.mark.parametrize(
    "config",
    ["sgd-mixed", "adam-mixed", "rmsprop-centered-momentum", "adagrad", "adamax-mixed", "nadam-mixed", "radam-mixed"],
)
def test_inactive_variants_are_frozen_and_nan_grads_do_not_leak(config):
    name, hparams = CONFIGS[config]
    init, grads = _init(4), _grads(4, 6)
    opt = _stacked(name, hparams, init, grads[:3])
    frozen = [p.detach().clone() for p in opt.params]
    frozen_state = {s: [t.clone() for t in ts] for s, ts in opt.state.items()}
    for step in grads[3:]:
        for k in (1, 3):
            for g in step[k]:
                g.fill_(float("nan"))
    for step in grads[3:]:
        for i, p in enumerate(opt.params):
            p.grad = torch.stack([step[k][i] for k in range(4)])
        opt.step(torch.tensor([True, False, True, False]))
    assert opt.steps == [6, 3, 6, 3]
    for i, p in enumerate(opt.params):
        assert torch.equal(p.detach()[[1, 3]], frozen[i][[1, 3]])
        for s in opt.state:
            assert torch.equal(opt.state[s][i][[1, 3]], frozen_state[s][i][[1, 3]])
    ref = _reference(name, [hparams[0], hparams[2]], [init[0], init[2]], [[s[0], s[2]] for s in grads])
    for j, k in enumerate((0, 2)):
        for i, p in enumerate(opt.params):
            assert torch.isfinite(p).all()
            torch.testing.assert_close(p.detach()[k], ref[j][0][i], rtol=RTOL, atol=ATOL)


def test_per_step_lr_and_proxies_follow_a_torch_scheduler():
    hparams = [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.9}]
    init, grads = _init(2), _grads(2, 8)
    params = [torch.stack([init[k][i] for k in range(2)]).requires_grad_(True) for i in range(len(SHAPES))]
    opt = StackedOptimizer("sgd", params, hparams)
    proxies = opt.proxy_optimizers()
    assert len(proxies) == 2 and all(isinstance(p, torch.optim.SGD) for p in proxies)
    scheds = [torch.optim.lr_scheduler.StepLR(p, step_size=3, gamma=0.5) for p in proxies]
    ref_params = [[p.clone().requires_grad_(True) for p in init[k]] for k in range(2)]
    ref_opts = [torch.optim.SGD(ref_params[k], **hparams[k]) for k in range(2)]
    ref_scheds = [torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5) for o in ref_opts]
    for step in grads:
        for i, p in enumerate(params):
            p.grad = torch.stack([step[k][i] for k in range(2)])
        opt.step()
        for s in scheds:
            s.step()
        opt.read_proxies()
        for k in range(2):
            for p, g in zip(ref_params[k], step[k]):
                p.grad = g.clone()
            ref_opts[k].step()
            ref_scheds[k].step()
    assert opt.lr == pytest.approx([0.1 * 0.5**2, 0.01 * 0.5**2])
    for k in range(2):
        for i, p in enumerate(params):
            torch.testing.assert_close(p.detach()[k], ref_params[k][i].detach(), rtol=RTOL, atol=ATOL)


def test_refuses_what_cannot_be_vectorized():
    params = [torch.zeros(2, 3, requires_grad=True)]
    with pytest.raises(VectorizeError, match="differentiable"):
        StackedOptimizer("adam", params, [{"lr": 1e-3, "differentiable": True}] * 2)
    with pytest.raises(VectorizeError, match="lbfgs"):
        StackedOptimizer("lbfgs", params, [{"lr": 1.0}] * 2)
    with pytest.raises(VectorizeError, match="Invalid learning rate"):
        StackedOptimizer("sgd", params, [{"lr": -1.0}] * 2)
    with pytest.raises(VectorizeError, match="leading dimension"):
        StackedOptimizer("sgd", params, [{"lr": 1.0}] * 3)
    # implementation hints only: accepted and ignored
    StackedOptimizer("adam", params, [{"lr": 1e-3, "foreach": True, "fused": False}] * 2)
