"""A pack trained as one computation reproduces the same variants trained one at a time."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import lrsweep.engine.loop as loop
from lrsweep.config import OptimizerConfig
from lrsweep.engine.common import STATUS_DIVERGED, STATUS_DONE, TrainSpec
from lrsweep.engine.vectorized import PackTrainer, check_vectorizable, train_pack
from lrsweep.errors import VectorizeError
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.sweep.plan import Variant

# float32: the pack's matmuls group differently from one model's, so sums round differently by an ulp
# or so; over 2 epochs x 7 steps that stays far below this.
RTOL, ATOL = 2e-5, 1e-6
LRS = (0.01, 0.03, 0.1, 0.3)


def make_data(n=200, features=8, classes=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return x, x[:, :classes].argmax(dim=1).long()


DATA, VAL = make_data(), make_data(60, seed=2)


def spec(model="mlp", options=None, epochs=2, loss="cross_entropy", shape=(8,), out=3):
    return TrainSpec(model, {"hidden": [16]} if options is None else options, shape, out, epochs, 32, loss)


def variants(name="sgd", options=None, lrs=LRS, seeds=(0,), scheduler=None, per_variant=None):
    opts = [dict(options or {}, **((per_variant or [{}] * len(lrs))[i])) for i in range(len(lrs))]
    return [
        Variant(lr, OptimizerConfig(name, o), parse_scheduler(scheduler), seeds[i % len(seeds)])
        for i, (lr, o) in enumerate(zip(lrs, opts))
    ]


def sequential(vs, spec_, data=DATA, val=VAL, monkeypatch=None):
    """Each variant through the sequential engine; also its final model (captured from build_model)."""
    models = []

    def capture(*args, **kwargs):
        models.append(build(*args, **kwargs))
        return models[-1]

    build = loop.build_model
    monkeypatch.setattr(loop, "build_model", capture)
    results = [loop.train_variant(v, spec_, data, val) for v in vs]
    monkeypatch.setattr(loop, "build_model", build)
    return results, [m.state_dict() for m in models]


def packed(vs, spec_, data=DATA, val=VAL, path="auto"):
    trainer = PackTrainer(vs, spec_, data[0].device, path=path)
    results = trainer.run(data, val)
    return results, [trainer.state_dict(i) if i in trainer.alive else None for i in range(len(vs))]


def assert_same(seq, pack, seq_states=None, pack_states=None):
    for a, b in zip(seq, pack):
        assert (a.variant_id, a.status, len(a.epochs)) == (b.variant_id, b.status, len(b.epochs))
        for ra, rb in zip(a.epochs, b.epochs):
            assert rb.lr == ra.lr
            for field in ("train_loss", "val_loss", "train_acc", "val_acc"):
                if getattr(ra, field) is None:  # accuracy of a regression: None in both engines
                    assert getattr(rb, field) is None, field
                    continue
                assert getattr(rb, field) == pytest.approx(getattr(ra, field), rel=RTOL, abs=ATOL), field
        assert b.lr_steps == pytest.approx(a.lr_steps, rel=1e-12)
    for sa, sb in zip(seq_states or [], pack_states or []):
        for name, tensor in sa.items():
            torch.testing.assert_close(sb[name], tensor, rtol=RTOL, atol=ATOL)


OPTIMIZERS = {
    "sgd": ("sgd", {"momentum": 0.9}, None),
    "sgd-nesterov-wd": (
        "sgd",
        {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
        [{}, {"momentum": 0.5}, {"weight_decay": 0.0}, {"momentum": 0.99}],
    ),
    "adam-amsgrad": ("adam", {"amsgrad": True, "weight_decay": 1e-4}, None),
    "adamw": ("adamw", {"weight_decay": 1e-2}, [{}, {"betas": [0.8, 0.99]}, {"amsgrad": True}, {"eps": 1e-6}]),
    "rmsprop-centered": ("rmsprop", {"alpha": 0.9, "momentum": 0.5, "centered": True}, None),
    "adagrad": ("adagrad", {"lr_decay": 0.01}, None),
    "adamax": ("adamax", {"weight_decay": 1e-4}, None),
    "nadam": ("nadam", {}, [{}, {"decoupled_weight_decay": True, "weight_decay": 1e-2}, {"momentum_decay": 1e-2}, {}]),
    "radam": ("radam", {"weight_decay": 1e-4}, None),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_pack_reproduces_sequential_runs_for_each_optimizer(case, monkeypatch):
    name, options, per_variant = OPTIMIZERS[case]
    lrs = LRS if name == "sgd" else tuple(lr / 10 for lr in LRS)
    vs = variants(name, options, lrs=lrs, per_variant=per_variant)
    seq, seq_states = sequential(vs, spec(), monkeypatch=monkeypatch)
    pack, pack_states = packed(vs, spec())
    assert all(r.status == STATUS_DONE for r in pack)
    assert_same(seq, pack, seq_states, pack_states)


@pytest.mark.parametrize(
    "scheduler,options",
    [
        ({"type": "steplr", "step_size": 1, "gamma": 0.5}, {"momentum": 0.9}),  # epoch-stepped
        ({"type": "reducelronplateau", "patience": 0, "factor": 0.5}, {"momentum": 0.9}),  # on each variant's metric
        ({"type": "onecyclelr"}, {"momentum": 0.9}),  # batch-stepped, and cycles SGD's momentum
        ({"type": "onecyclelr"}, {}),  # ... which switches momentum on for an SGD configured without it
    ],
)
def test_pack_follows_each_variants_torch_scheduler(scheduler, options, monkeypatch):
    vs = variants("sgd", options, scheduler=scheduler)
    s = spec(epochs=3)
    seq, seq_states = sequential(vs, s, monkeypatch=monkeypatch)
    pack, pack_states = packed(vs, s)
    assert_same(seq, pack, seq_states, pack_states)
    assert len({r.epochs[-1].lr for r in pack}) == len(vs)  # each variant's own schedule


def test_variants_with_different_seeds_keep_their_own_init_and_batch_order(monkeypatch):
    vs = variants("sgd", {"momentum": 0.9}, seeds=(0, 1, 2, 3))
    seq, seq_states = sequential(vs, spec(), monkeypatch=monkeypatch)
    pack, pack_states = packed(vs, spec())
    assert_same(seq, pack, seq_states, pack_states)


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])  # one shared batch; each seed's own batches
@pytest.mark.parametrize(
    "model,options,shape",
    [
        ("cnn", {"channels": [2, 3], "hidden": [8]}, (1, 8, 8)),
        ("linear", {}, (8,)),
    ],
)
def test_fast_and_vmap_paths_agree_with_sequential(model, options, shape, seeds, monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, *shape, generator=g)
    data, val = (x, x.flatten(1)[:, :3].argmax(1)), (x[:30], x[:30].flatten(1)[:, :3].argmax(1))
    vs = variants("sgd", {"momentum": 0.9}, seeds=seeds)
    s = spec(model, options, shape=shape)
    seq, seq_states = sequential(vs, s, data, val, monkeypatch=monkeypatch)
    for path in ("fast", "vmap"):
        pack, pack_states = packed(vs, s, data, val, path=path)
        assert_same(seq, pack, seq_states, pack_states)


def test_regression_with_mse(monkeypatch):
    x = DATA[0]
    data, val = (x, x[:, :2] * 2.0 - 1.0), (VAL[0], VAL[0][:, :2] * 2.0 - 1.0)
    vs = variants("adam", lrs=(1e-3, 1e-2, 3e-2, 1e-1))
    s = spec(loss="mse", out=2)
    seq, seq_states = sequential(vs, s, data, val, monkeypatch=monkeypatch)
    pack, pack_states = packed(vs, s, data, val)
    assert_same(seq, pack, seq_states, pack_states)


def test_a_diverging_variant_is_frozen_and_leaves_the_others_unchanged(monkeypatch):
    calm = variants("sgd", {"momentum": 0.9}, lrs=(0.01, 0.1, 0.3))
    wild = variants("sgd", {"momentum": 0.9}, lrs=(1e6,))
    with_it, states_with = packed(calm[:2] + wild + calm[2:], spec(epochs=3))
    without, states_without = packed(calm, spec(epochs=3))
    diverged = with_it.pop(2)
    states_with.pop(2)
    assert diverged.status == STATUS_DIVERGED and not math.isfinite(diverged.epochs[-1].train_loss)
    assert len(diverged.epochs) == 1  # stopped in the epoch it diverged, like the sequential engine
    assert_same(without, with_it, states_without, states_with)
    seq, seq_states = sequential(calm, spec(epochs=3), monkeypatch=monkeypatch)
    assert_same(seq, with_it, seq_states, states_with)


def test_diverged_variants_parameters_stop_at_their_last_finite_values():
    vs = variants("sgd", {"momentum": 0.9}, lrs=(0.01, 1e6))
    trainer = PackTrainer(vs, spec(), DATA[0].device)
    results = trainer.run(DATA, VAL)
    assert results[1].status == STATUS_DIVERGED and results[0].status == STATUS_DONE
    assert all(torch.isfinite(t).all() for t in trainer.frozen[1].values())


class NeedsPythonControlFlow(nn.Module):
    """Branches on a tensor's value: vmap cannot batch that."""

    def __init__(self, input_shape, output_size):
        super().__init__()
        self.fc = nn.Linear(input_shape[0], output_size)

    def forward(self, x):
        h = self.fc(x)
        return h if h.sum() > 0 else -h


def branching_model(input_shape, output_size):
    return NeedsPythonControlFlow(input_shape, output_size)


def batchnorm_model(input_shape, output_size):
    return nn.Sequential(nn.Linear(input_shape[0], 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, output_size))


def test_an_unvectorizable_model_is_refused_with_its_name_and_reason():
    s = spec(f"{__name__}:branching_model", {})
    with pytest.raises(VectorizeError, match=r"model '.*branching_model' cannot be vectorized: .*"):
        check_vectorizable(variants(), s)
    with pytest.raises(VectorizeError):
        train_pack(variants(), s, DATA, VAL)


def test_batchnorm_trains_per_variant_through_vmap(monkeypatch):
    vs = variants("sgd", {"momentum": 0.9})
    s = spec(f"{__name__}:batchnorm_model", {})
    seq, seq_states = sequential(vs, s, monkeypatch=monkeypatch)
    pack, pack_states = packed(vs, s)
    assert_same(seq, pack, seq_states, pack_states)  # running statistics included


def test_dropout_draws_what_each_variants_own_loop_draws():
    """Two variants of one seed see the same masks, as in their own loops (test_pack_independence.py)."""
    vs = variants("sgd", {"momentum": 0.9}, lrs=(0.1, 0.1))
    for path in ("fast", "vmap"):
        results = train_pack(vs, spec(options={"hidden": [16], "dropout": 0.5}, epochs=1), DATA, VAL, path=path)
        assert results[0].epochs[0].train_loss == results[1].epochs[0].train_loss


def test_a_pack_needs_one_supported_optimizer():
    vs = variants("sgd", lrs=LRS[:2]) + variants("adam", lrs=LRS[:1])
    with pytest.raises(VectorizeError, match="one optimizer"):
        PackTrainer(vs, spec(), torch.device("cpu"))
    with pytest.raises(VectorizeError, match="'rprop' has no stacked update"):
        PackTrainer(variants("rprop", lrs=LRS[:2]), spec(), torch.device("cpu"))


@pytest.mark.parametrize("every", [1, 16])
def test_divergence_between_checks_is_cut_where_it_happened(monkeypatch, every):
    """The host looks every DIVERGENCE_CHECK_EVERY batches; the diverged variant's records, lr_steps and
    the other variants' results are as if it had been dropped at the batch it diverged."""
    import lrsweep.engine.vectorized as vectorized

    data, val = make_data(2000), make_data(100, seed=2)
    monkeypatch.setattr(vectorized, "DIVERGENCE_CHECK_EVERY", every)
    vs = variants("sgd", {"momentum": 0.9}, lrs=(0.01, 0.1, 40.0, 0.3), scheduler={"type": "onecyclelr"})
    s = spec(epochs=2)
    pack, _ = packed(vs, s, data, val)
    alone, _ = packed([v for v in vs if v.lr != 40.0], s, data, val)
    diverged = pack[2]
    assert diverged.status == "diverged"
    steps_per_epoch = 63
    assert 1 < len(diverged.lr_steps) < 2 * steps_per_epoch  # diverged mid-run, not at once
    seq, _ = sequential([vs[2]], s, data, val, monkeypatch=monkeypatch)
    assert diverged.lr_steps == seq[0].lr_steps[: len(diverged.lr_steps)]
    assert_same([r for r in pack if r is not diverged], alone)
