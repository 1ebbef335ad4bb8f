"""``lrsweep.find`` in both forms: on a config (unchanged) and on your own model, optimizer and batches."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import lrsweep
from lrsweep.errors import UsageError


def objects(groups: bool = False):
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    params = [{"params": model[0].parameters(), "lr": 0.01}, {"params": model[2].parameters()}] if groups else None
    optimizer = torch.optim.SGD(params or model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)


def test_find_on_your_model_returns_the_result_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, optimizer, loader = objects()
    weights, state = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    found = lrsweep.find(model, optimizer, loader, F.cross_entropy, steps=40)
    assert found.suggestion == found.suggested_lr == found.suggestions["valley"] and found.run_dir is None
    assert found.divergence_lr is not None and found.range_test.edge_lr is not None  # SGD: the edge too
    assert len(found.curve) == found.range_test.steps_run and found.to_dict()["run_dir"] is None
    assert not list(tmp_path.iterdir())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    momenta = [s["momentum_buffer"] for s in state["state"].values()]
    assert all(torch.equal(a["momentum_buffer"], b) for a, b in zip(optimizer.state_dict()["state"].values(), momenta))
    figure = found.plot()
    assert type(figure).__name__ == "Figure" and figure.axes[0].get_xscale() == "log"
    assert found.plot(tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


def test_out_writes_the_files_lrsweep_find_writes(tmp_path):
    model, optimizer, loader = objects(groups=True)
    notes = []
    found = lrsweep.find(
        model,
        optimizer,
        loader,
        F.cross_entropy,
        steps=40,
        suggest="steep",
        out=tmp_path,
        plot=True,
        on_notice=notes.append,
    )
    assert found.run_dir.parent == tmp_path and found.run_dir.name.startswith("Sequential-find-")
    assert {p.name for p in found.run_dir.rglob("*")} >= {
        "config.yaml",
        "meta.json",
        "find.json",
        "find.csv",
        "find.png",
    }
    assert found.plot_file == found.run_dir / "plots" / "find.png"
    run = lrsweep.load_run(found.run_dir)
    assert run.kind == "find" and run.range_test().suggestions == found.suggestions
    assert run.config["find_on"]["param_groups"][0]["lr"] == 0.01 and run.config["find_on"]["loss"] == "cross_entropy"
    assert found.suggestion == found.suggestions["steep"]
    assert notes[0] == "the LRs on the curve are param group 0's; the other groups keep their ratios to it (1: x10)"
    assert found.notes[: len(notes)] == notes


def test_step_fn_and_name(tmp_path):
    model, optimizer, loader = objects()
    found = lrsweep.find(
        model,
        optimizer,
        loader,
        step_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        steps=30,
        out=tmp_path,
        name="mine",
    )
    assert found.run_dir.name.startswith("mine-find-") and found.range_test.steps_run > 5
    with pytest.raises(UsageError, match="name: must be a plain file-name prefix"):
        lrsweep.find(model, optimizer, loader, F.cross_entropy, out=tmp_path, name="a/b")


def test_arguments_that_fit_neither_form_are_a_usage_error():
    model, optimizer, loader = objects()
    with pytest.raises(UsageError, match=r"lrsweep.find\(model, optimizer, train_loader.*'optimizer'"):
        lrsweep.find(model)
    with pytest.raises(UsageError, match="give loss_fn"):
        lrsweep.find(model, optimizer, loader)
    with pytest.raises(UsageError, match=r"first argument is a config .* or your model .*got SGD"):
        lrsweep.find(optimizer, loader)
    with pytest.raises(UsageError, match=r"lrsweep.find\(config, .*unexpected keyword argument 'step_fn'"):
        lrsweep.find({"name": "x"}, step_fn=print)
    with pytest.raises(UsageError, match="suggest: got 'best'"):
        lrsweep.find(model, optimizer, loader, F.cross_entropy, suggest="best")


def test_an_attached_scheduler_is_named_and_left_alone():
    model, optimizer, loader = objects()
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=100)
    before = scheduler.state_dict(), [dict(g, params=None) for g in optimizer.param_groups]
    found = lrsweep.find(model, optimizer, loader, F.cross_entropy, steps=30)
    assert any("LR scheduler is attached" in n for n in found.notes)
    assert (scheduler.state_dict(), [dict(g, params=None) for g in optimizer.param_groups]) == before


def test_a_lightning_module_through_step_fn(tmp_path):
    lightning = pytest.importorskip("lightning")

    class Lit(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 2)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return {"loss": F.cross_entropy(self.net(x), y)}

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1)]

    _, _, loader = objects()
    module = Lit()
    weights = copy.deepcopy(module.state_dict())
    found = lrsweep.find(
        module, module.configure_optimizers(), loader, step_fn=lambda m, b: m.training_step(b, 0), steps=30
    )
    assert found.range_test.steps_run > 5 and found.suggestion > 0
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in weights.items())
