"""train.loss as torch computes it: each loss with its option, per row and as a batch mean, in both shapes."""

import pytest
import torch
import torch.nn.functional as F

from lrsweep.engine.losses import class_probabilities, elementwise, loss_fn, predicted_class
from lrsweep.engine.pack_stats import variant_losses

G = torch.Generator().manual_seed(0)
LOGITS, LABELS = torch.randn(6, 4, generator=G), torch.tensor([0, 3, 1, 1, 2, 0])
PRED, TARGET = torch.randn(6, 2, generator=G) * 3, torch.randn(6, 2, generator=G)


@pytest.mark.parametrize(
    "name, options, reference",
    [
        ("cross_entropy", {}, lambda: F.cross_entropy(LOGITS, LABELS)),
        ("cross_entropy", {"label_smoothing": 0.2}, lambda: F.cross_entropy(LOGITS, LABELS, label_smoothing=0.2)),
        ("mse", {}, lambda: F.mse_loss(PRED, TARGET)),
        ("l1", {}, lambda: (PRED - TARGET).abs().mean()),
        ("huber", {"delta": 0.5}, lambda: F.huber_loss(PRED, TARGET, delta=0.5)),
        ("smooth_l1", {"beta": 2.0}, lambda: F.smooth_l1_loss(PRED, TARGET, beta=2.0)),
    ],
)
def test_each_loss_is_torchs_with_its_option_and_its_rows_average_to_the_batch_loss(name, options, reference):
    out, y = (LOGITS, LABELS) if name == "cross_entropy" else (PRED, TARGET)
    assert loss_fn(name, options)(out, y).item() == pytest.approx(reference().item(), rel=1e-6)
    assert elementwise(name, options)(out, y).mean().item() == pytest.approx(reference().item(), rel=1e-6)


def test_huber_is_quadratic_inside_delta_and_linear_outside():
    fn = elementwise("huber", {"delta": 1.0})
    rows = fn(torch.tensor([[0.5], [3.0]]), torch.zeros(2, 1))
    assert rows.flatten().tolist() == pytest.approx([0.5 * 0.25, 1.0 * (3.0 - 0.5)])


def test_bce_with_logits_takes_one_logit_per_row_and_the_class_index_as_its_target():
    logits, labels = torch.tensor([[2.0], [-1.0], [0.3]]), torch.tensor([1, 0, 0])
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    assert loss_fn("bce_with_logits")(logits, labels).item() == pytest.approx(expected.item())
    assert predicted_class(logits, "bce_with_logits").tolist() == [1, 0, 1]
    probabilities = class_probabilities(logits, "bce_with_logits")
    assert probabilities[:, 1].tolist() == pytest.approx(torch.sigmoid(logits[:, 0]).tolist())


@pytest.mark.parametrize("name", ["cross_entropy", "bce_with_logits", "huber", "l1"])
def test_a_packs_per_variant_losses_are_each_variants_own(name):
    k = 3
    if name in ("cross_entropy", "bce_with_logits"):
        width = 4 if name == "cross_entropy" else 1
        out, y = torch.randn(k, 6, width, generator=G), torch.tensor([0, 1, 1, 0, 1, 0])
    else:
        out, y = torch.randn(k, 6, 2, generator=G), TARGET
    options = {"delta": 0.7} if name == "huber" else {}
    got = variant_losses(out, y, True, name, options=options)
    for i in range(k):
        assert got[i].item() == pytest.approx(loss_fn(name, options)(out[i], y).item(), rel=1e-6)
