"""resnet: the CIFAR architecture of He et al., its options, and both engines agreeing on it."""

from __future__ import annotations

import pytest
import torch

from lrsweep.config import OptimizerConfig, parse_config
from lrsweep.engine.common import STATUS_DONE, TrainSpec
from lrsweep.engine.loop import SequentialTrainer
from lrsweep.engine.vectorized import PackTrainer
from lrsweep.errors import ConfigError
from lrsweep.models import build_model, check_model_options
from lrsweep.models.resnet import BasicBlock, PadShortcut
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_depth_gives_the_papers_networks():
    """He et al. 2016, table 6: ResNet-20 has 0.27M parameters, ResNet-56 0.85M (option A shortcuts)."""
    r20 = build_model("resnet", {}, (3, 32, 32), 10, seed=0)
    assert n_params(r20) == pytest.approx(0.27e6, rel=0.01)
    assert sum(isinstance(m, BasicBlock) for m in r20.modules()) == 9
    assert sum(isinstance(m, PadShortcut) for m in r20.modules()) == 2
    r56 = build_model("resnet", {"depth": 56}, (3, 32, 32), 10, seed=0)
    assert n_params(r56) == pytest.approx(0.85e6, rel=0.01)
    assert r20(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_blocks_width_and_projection_shortcuts():
    r18 = build_model("resnet", {"blocks": [2, 2, 2, 2], "width": 4, "shortcut": "B"}, (3, 32, 32), 10, seed=0)
    assert r18.fc.in_features == 512
    assert n_params(r18) == pytest.approx(11.17e6, rel=0.01)  # ResNet-18 (CIFAR stem)
    assert not any(isinstance(m, PadShortcut) for m in r18.modules())


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.arange(2 * 4 * 4, dtype=torch.float).view(1, 2, 4, 4)
    y = PadShortcut(2, 5, stride=2)(x)
    assert y.shape == (1, 5, 2, 2)
    assert torch.equal(y[:, :2], x[:, :, ::2, ::2]) and not y[:, 2:].any()


def test_one_channel_mnist_sized_input():
    model = build_model("resnet", {"depth": 8}, (1, 28, 28), 10, seed=0)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"depth": 21}, "6n\\+2"),
        ({"depth": 20, "blocks": [2, 2]}, "depth or blocks"),
        ({"blocks": [2, 0]}, "positive integers"),
        ({"width": 0}, ">= 1"),
        ({"shortcut": "C"}, "valid: A, B"),
        ({"depht": 20}, "did you mean 'depth'"),
    ],
)
def test_bad_options_are_refused_at_config_time(options, match):
    with pytest.raises(ConfigError, match=match):
        check_model_options("resnet", options)


def test_flat_input_is_refused(tiny_sweep):
    from helpers import splits_of

    from lrsweep.sweep.runner import preflight

    config = parse_config({**tiny_sweep, "model": {"name": "resnet", "depth": 8}})
    with pytest.raises(ConfigError, match="resnet needs image input"):
        preflight(config, splits_of(config), [])


@pytest.mark.parametrize("shortcut,path", [("A", "auto"), ("B", "auto"), ("B", "vmap")])
def test_a_pack_of_resnets_reproduces_sequential_runs(shortcut, path):
    """Grouped convolutions (auto) or vmap, with per-variant BatchNorm statistics: each variant's own run."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 16, 16, generator=g), torch.randint(0, 4, (96,), generator=g)
    xv, yv = torch.randn(32, 3, 16, 16, generator=g), torch.randint(0, 4, (32,), generator=g)
    spec = TrainSpec("resnet", {"depth": 8, "shortcut": shortcut}, (3, 16, 16), 4, 1, 32, "cross_entropy")
    vs = [Variant(lr, OptimizerConfig("sgd", {"momentum": 0.9}), parse_scheduler(None), 0) for lr in (0.01, 0.1)]
    alone = [SequentialTrainer(v, spec, (x, y), (xv, yv)) for v in vs]
    seq = [t.run() for t in alone]
    trainer = PackTrainer(vs, spec, torch.device("cpu"), path=path)
    assert type(trainer.model).__name__ == ("FuncStack" if path == "vmap" else "ResNetStack")
    pack = trainer.run((x, y), (xv, yv))
    for i, (a, b) in enumerate(zip(seq, pack)):
        assert a.status == b.status == STATUS_DONE
        assert b.epochs[0].train_loss == pytest.approx(a.epochs[0].train_loss, rel=1e-4)
        assert b.epochs[0].val_loss == pytest.approx(a.epochs[0].val_loss, rel=1e-4)
        state = trainer.state_dict(i)
        for name, tensor in alone[i].model.state_dict().items():  # running statistics included
            # grouped convolutions sum in another order than one model's and BatchNorm amplifies the last
            # bits over steps (exact in float64: see the test below)
            torch.testing.assert_close(state[name], tensor, rtol=1e-2, atol=2e-3)
    assert pack[0].epochs[0].val_loss != pack[1].epochs[0].val_loss


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_grouped_convolution_stack_is_exact_in_float64(shortcut):
    """Gradients and BatchNorm running statistics of the stack equal K separate models', step after step."""
    import torch.nn.functional as F

    from lrsweep.engine.stacked_resnet import ResNetStack

    g = torch.Generator().manual_seed(0)
    models = [
        build_model("resnet", {"depth": 8, "shortcut": shortcut}, (3, 16, 16), 4, seed=s).double() for s in (0, 1)
    ]
    stack = ResNetStack(models)
    for _ in range(3):
        x, y = torch.randn(16, 3, 16, 16, generator=g).double(), torch.randint(0, 4, (16,), generator=g)
        out = stack.forward(x, True)
        grads = torch.autograd.grad(sum(F.cross_entropy(out[k], y) for k in range(2)), stack.params)
        for m in models:
            m.zero_grad()
        sum(F.cross_entropy(m(x), y) for m in models).backward()
        with torch.no_grad():
            for name, p, grad in zip(stack.names, stack.params, grads):
                ref = torch.stack([dict(m.named_parameters())[name].grad for m in models])
                torch.testing.assert_close(grad, ref, rtol=1e-12, atol=1e-12)
                p -= 0.1 * grad
                for k, m in enumerate(models):
                    dict(m.named_parameters())[name].copy_(p[k])
    for name, buffer in zip(stack.buffer_names, stack.buffers):
        torch.testing.assert_close(
            buffer, torch.stack([dict(m.named_buffers())[name] for m in models]), rtol=1e-12, atol=1e-12
        )
