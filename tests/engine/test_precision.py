"""train.precision, train.grad_clip and train.compile in both engines."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from helpers import Recorded, splits_of

import lrsweep.engine.precision as precision
from lrsweep.cli.app import app
from lrsweep.config import OptimizerConfig, parse_config
from lrsweep.engine.common import STATUS_DONE, TrainSpec, evaluate
from lrsweep.engine.loop import SequentialTrainer, train_variant
from lrsweep.engine.precision import PackAmp, clip_per_variant_, parse_precision, resolve_precision
from lrsweep.engine.vectorized import PackTrainer, check_vectorizable
from lrsweep.errors import ConfigError, VectorizeError
from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.run.store import RunStore
from lrsweep.sweep.plan import Variant
from lrsweep.sweep.runner import run_sweep

CPU = torch.device("cpu")


def data(n=128, shape=(1, 8, 8), classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    return x, x.flatten(1)[:, :classes].argmax(dim=1)


TRAIN, VAL = data(), data(48, seed=1)


def spec(model="cnn", options=None, **train):
    return TrainSpec(
        model,
        {"channels": [4], "hidden": [8]} if options is None else options,
        (1, 8, 8),
        4,
        2,
        32,
        "cross_entropy",
        **train,
    )


def variants(lrs=(0.05, 0.5), name="sgd", options=None):
    return [Variant(lr, OptimizerConfig(name, options or {"momentum": 0.9}), parse_scheduler(None), 0) for lr in lrs]


def test_precision_values():
    assert parse_precision(32) == parse_precision("32") == "32"
    assert parse_precision("bf16-mixed") == "bf16-mixed"
    for bad in ("16", 16, "fp16", True, None):
        with pytest.raises(ConfigError, match="valid: auto, 32, bf16-mixed, 16-mixed"):
            parse_precision(bad)
    assert resolve_precision("auto", "cpu") == "32"
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"


def test_config_keys_defaults_and_fingerprint(tiny_sweep):
    plain = parse_config(tiny_sweep)
    assert (plain.train.precision, plain.train.grad_clip, plain.train.compile) == ("32", None, False)
    same = parse_config({**tiny_sweep, "train": {**tiny_sweep["train"], "precision": 32}})
    assert same.fingerprint() == plain.fingerprint()  # runs made before these keys keep their fingerprint
    other = parse_config({**tiny_sweep, "train": {**tiny_sweep["train"], "grad_clip": 1}})
    assert other.train.grad_clip == 1.0 and other.fingerprint() != plain.fingerprint()
    assert parse_config(other.to_dict()) == other
    for key, bad, match in (
        ("grad_clip", 0, "> 0"),
        ("grad_clip", "big", "number"),
        ("compile", "yes", "true/false"),
        ("precision", "half", "valid"),
    ):
        with pytest.raises(ConfigError, match=match) as err:
            parse_config({**tiny_sweep, "train": {key: bad}})
        assert err.value.key == f"train.{key}"


def test_bf16_mixed_on_cpu_trains_and_validates_in_fp32():
    trainer = SequentialTrainer(variants()[0], spec(precision="bf16-mixed"), TRAIN, VAL)
    result = trainer.run()
    assert result.status == STATUS_DONE and len(result.epochs) == 2
    assert result.epochs[-1].val_loss == evaluate(trainer.model, *VAL, "cross_entropy")[0]  # fp32, autocast off
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    fp32 = train_variant(variants()[0], spec(), TRAIN, VAL)
    assert result.epochs[-1].val_loss == pytest.approx(fp32.epochs[-1].val_loss, rel=0.05)
    assert result.epochs[-1].val_loss != fp32.epochs[-1].val_loss  # the forward pass did run in bf16


def test_bf16_mixed_pack_matches_sequential_runs():
    s = spec(precision="bf16-mixed")
    seq = [train_variant(v, s, TRAIN, VAL) for v in variants()]
    pack = PackTrainer(variants(), s, CPU).run(TRAIN, VAL)
    for a, b in zip(seq, pack):
        assert b.epochs[-1].val_loss == pytest.approx(a.epochs[-1].val_loss, rel=1e-3)


def test_bf16_mixed_resnet_pack_matches_sequential_runs():
    s = spec("resnet", {"depth": 8}, precision="bf16-mixed")
    seq = [train_variant(v, s, TRAIN, VAL) for v in variants((0.01, 0.05))]
    pack = PackTrainer(variants((0.01, 0.05)), s, CPU).run(TRAIN, VAL)
    for a, b in zip(seq, pack):
        assert b.epochs[-1].val_loss == pytest.approx(a.epochs[-1].val_loss, rel=1e-2)


def test_bf16_mixed_through_vmap_falls_back_with_the_reason():
    s = spec("resnet", {"depth": 8}, precision="bf16-mixed")
    check_vectorizable(variants(), s)  # grouped convolutions: autocast applies
    with pytest.raises(VectorizeError, match="autocast does not reach into"):
        PackTrainer(variants(), s, CPU, path="vmap")


def test_fp16_on_cpu_is_refused():
    with pytest.raises(ConfigError, match="16-mixed .* needs a CUDA device"):
        train_variant(variants()[0], spec(precision="16-mixed"), TRAIN, VAL)
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        PackTrainer(variants(), spec(precision="16-mixed"), CPU)


def test_fp16_on_cpu_is_refused_before_a_run_directory_exists(runner, tiny_sweep, write_config, tmp_path):
    path = write_config({**tiny_sweep, "train": {"epochs": 1, "precision": "16-mixed"}})
    out = tmp_path / "runs"
    result = runner.invoke(app, ["grid", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "train.precision: 16-mixed (fp16 with loss scaling) needs a CUDA device" in result.output
    assert not out.exists() or not any(out.iterdir())
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 2


def test_per_variant_clipping_matches_clip_grad_norm():
    g = torch.Generator().manual_seed(0)
    stacked = [
        torch.randn(3, 5, 4, generator=g) * torch.tensor([0.1, 1.0, 10.0]).view(3, 1, 1),
        torch.randn(3, 7, generator=g),
    ]
    separate = [[t[k].clone() for t in stacked] for k in range(3)]
    norms = clip_per_variant_(stacked, 2.0)
    for k in range(3):
        params = [torch.nn.Parameter(torch.zeros_like(t)) for t in separate[k]]
        for p, t in zip(params, separate[k]):
            p.grad = t
        total = torch.nn.utils.clip_grad_norm_(params, 2.0)
        assert norms[k].item() == pytest.approx(total.item(), rel=1e-6)
        for p, t in zip(params, stacked):
            torch.testing.assert_close(t[k], p.grad, rtol=1e-6, atol=1e-7)
    assert torch.linalg.vector_norm(torch.cat([t[0].flatten() for t in stacked])) < 2.0  # small one untouched


def test_grad_clip_in_the_sequential_engine_is_torchs():
    """The plain loop with clip_grad_norm_ between backward and step."""
    from lrsweep.models import build_model

    v = variants((0.5,))[0]
    result = train_variant(v, dataclasses.replace(spec(grad_clip=0.1), epochs=1), TRAIN, VAL)
    torch.manual_seed(0)
    model = build_model("cnn", {"channels": [4], "hidden": [8]}, (1, 8, 8), 4, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    perm = torch.randperm(len(TRAIN[0]), generator=torch.Generator().manual_seed(0))
    for start in range(0, len(perm), 32):
        idx = perm[start : start + 32]
        opt.zero_grad()
        F.cross_entropy(model(TRAIN[0][idx]), TRAIN[1][idx]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
    assert result.epochs[0].val_loss == pytest.approx(evaluate(model, *VAL, "cross_entropy")[0], rel=1e-6)


@pytest.mark.parametrize("model,options,lrs", [("cnn", None, (0.05, 0.5, 2.0)), ("resnet", {"depth": 8}, (0.01, 0.1))])
def test_grad_clip_in_a_pack_uses_each_variants_own_norm(model, options, lrs):
    s = spec(model, options, grad_clip=0.5)
    seq = [train_variant(v, s, TRAIN, VAL) for v in variants(lrs)]
    pack = PackTrainer(variants(lrs), s, CPU).run(TRAIN, VAL)
    unclipped = [train_variant(v, spec(model, options), TRAIN, VAL) for v in variants(lrs)]
    for a, b, c in zip(seq, pack, unclipped):
        assert b.epochs[-1].val_loss == pytest.approx(a.epochs[-1].val_loss, rel=1e-4)
        assert a.epochs[-1].val_loss != c.epochs[-1].val_loss


def test_pack_loss_scaling_backs_off_only_the_variant_that_overflowed(monkeypatch):
    """K torch GradScalers, one per variant, as the reference (growth every 3 clean steps here)."""
    monkeypatch.setattr(precision, "GROWTH_INTERVAL", 3)
    amp = PackAmp("32", CPU, 3, grad_clip=None)
    amp.scaling = True  # fp16 autocast needs CUDA; the scale bookkeeping is device independent
    scalers = [torch.amp.GradScaler("cpu", growth_interval=3) for _ in range(3)]
    overflow = {(1, 0), (1, 1), (2, 4)}  # (variant, step)
    for step in range(6):
        grads = torch.ones(3, 4) * amp.scale.view(3, 1)
        for k in range(3):
            if (k, step) in overflow:
                grads[k, 0] = float("inf")
        param = torch.zeros(3, 4, requires_grad=True)
        param.grad = grads.clone()
        active = amp.unscale_and_clip([param], torch.ones(3, dtype=torch.bool))
        assert active.tolist() == [(k, step) not in overflow for k in range(3)]
        for k in active.nonzero().flatten().tolist():
            assert torch.equal(param.grad[k], torch.ones(4))  # unscaled
        for k, scaler in enumerate(scalers):
            p = torch.nn.Parameter(torch.zeros(4))
            opt = torch.optim.SGD([p], lr=0.1)
            p.grad = grads[k].clone()
            scaler.scale(torch.zeros(()))  # creates the scaler's scale on first use
            scaler.step(opt)  # found_inf per variant, as the pack's mask
            scaler.update()
        assert amp.scale.tolist() == [s.get_scale() for s in scalers]


def test_compile_unsupported_is_a_notice_and_training_goes_on(tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "compile_obstacle", lambda device: "no compiler here (test)")
    config = parse_config({**tiny_sweep, "train": {"epochs": 1, "compile": True}, "retrain": False})
    events = Recorded()
    summary = run_sweep(config, splits_of(config), RunStore.create(tmp_path, config.name), events)
    assert all(r["status"] == "done" for r in summary["variants"])
    assert "train.compile: running without torch.compile: no compiler here (test)" in events.notices


def test_compile_wraps_the_training_forward_in_both_engines(monkeypatch):
    """With the eager backend (inductor takes a minute per graph on a busy 2-core CPU): same numbers."""
    monkeypatch.setattr(precision, "COMPILE_BACKEND", "eager")
    s = spec("mlp", {"hidden": [8]})
    compiled = dataclasses.replace(s, compile=True)
    trainer = SequentialTrainer(variants()[0], compiled, TRAIN, VAL)
    assert trainer.forward is not trainer.model
    assert trainer.run().epochs[-1].val_loss == pytest.approx(
        train_variant(variants()[0], s, TRAIN, VAL).epochs[-1].val_loss, rel=1e-6
    )
    pack = PackTrainer(variants(), compiled, CPU)
    results = pack.run(TRAIN, VAL)
    plain = PackTrainer(variants(), s, CPU).run(TRAIN, VAL)
    for a, b in zip(plain, results):
        assert b.epochs[-1].val_loss == pytest.approx(a.epochs[-1].val_loss, rel=1e-6)
