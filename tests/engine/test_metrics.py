"""train.metrics computed by hand (engine/metrics.py): each against a reference worked out here with numpy on
small crafted inputs, and against torchmetrics' functional API on random ones; a pack's K variants at once."""

import math

import numpy as np
import pytest
import torch

from lrsweep.engine.metrics import Scores, auroc, confusion_matrix, macro_f1


def scores(names, out, target, loss="cross_entropy", classes=None, chunk=None):
    """Scores.result() for stacked outputs [K, N, ...], fed in chunks of ``chunk`` rows."""
    k, n = out.shape[:2]
    s = Scores(names, k, loss, classes)
    step = chunk or n
    for start in range(0, n, step):
        s.add(out[:, start : start + step], target[start : start + step])
    return s.result()


def numpy_f1(pred, target):
    """Macro F1 as scikit-learn computes it: over the labels present in the targets or the predictions."""
    labels = sorted(set(pred) | set(target))
    f1s = []
    for c in labels:
        tp = sum(p == c and t == c for p, t in zip(pred, target))
        fp = sum(p == c and t != c for p, t in zip(pred, target))
        fn = sum(p != c and t == c for p, t in zip(pred, target))
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def numpy_auroc(score, positive):
    """Pairs (positive, negative) ordered right, ties counting a half: the definition of the ROC area."""
    pos = [s for s, p in zip(score, positive) if p]
    neg = [s for s, p in zip(score, positive) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def logits_for(predictions, classes):
    """Logits whose argmax is ``predictions``."""
    out = torch.zeros(len(predictions), classes)
    out[torch.arange(len(predictions)), torch.tensor(predictions)] = 1.0
    return out


def test_macro_f1_matches_the_per_class_definition_on_a_crafted_case():
    target = [0, 0, 1, 1, 2, 2, 2, 0]
    pred = [0, 1, 1, 1, 2, 0, 2, 3]  # class 3 predicted, never a target: it counts (F1 0); class 4 never seen
    out = logits_for(pred, 5).unsqueeze(0)
    got = scores(["f1"], out, torch.tensor(target), classes=5)[0]["f1"]
    assert got == pytest.approx(numpy_f1(pred, target), abs=1e-12)
    assert got == pytest.approx((2 / 5 + 4 / 5 + 4 / 5 + 0.0) / 4, abs=1e-12)  # by hand: classes 0, 1, 2, 3


def test_confusion_counts_and_f1_per_variant_of_a_pack():
    target = torch.tensor([0, 1, 1, 2])
    pred = torch.tensor([[0, 1, 1, 2], [2, 2, 2, 2]])  # variant 0 perfect, variant 1 always class 2
    counts = confusion_matrix(pred, target, 3)
    assert counts[0].diagonal().tolist() == [1, 2, 1] and counts[1][:, 2].tolist() == [1, 2, 1]
    f1 = macro_f1(counts).tolist()
    assert f1[0] == 1.0 and f1[1] == pytest.approx(numpy_f1([2, 2, 2, 2], [0, 1, 1, 2]))


def test_auroc_counts_ties_as_halves():
    score = torch.tensor([[0.1, 0.4, 0.4, 0.8, 0.4, 0.9]], dtype=torch.float64)
    positive = torch.tensor([[False, True, False, True, True, False]])
    got = auroc(score, positive).item()
    assert got == pytest.approx(numpy_auroc(score[0].tolist(), positive[0].tolist()), abs=1e-12)
    assert got == pytest.approx((1.5 + 2 + 1.5) / 9)  # each positive's wins over the 3 negatives
    assert math.isnan(auroc(score, torch.zeros_like(positive)).item())  # no positive: no curve


def test_one_vs_rest_auroc_averages_the_classes_present_and_binary_uses_class_one():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]])
    target = torch.tensor([0, 1, 2, 1, 2])
    out = probs.log().unsqueeze(0)  # softmax(log p) = p
    got = scores(["auroc"], out, target, classes=3)[0]["auroc"]
    expected = np.mean([numpy_auroc(probs[:, c].tolist(), (target == c).tolist()) for c in range(3)])
    assert got == pytest.approx(expected, abs=1e-6)
    logit = torch.tensor([[[2.0], [-1.0], [0.5], [0.5]]])  # bce_with_logits: one output, class 1 when positive
    binary = torch.tensor([1, 0, 0, 1])
    got = scores(["auroc", "f1"], logit, binary, loss="bce_with_logits", classes=2)[0]
    assert got["auroc"] == pytest.approx(numpy_auroc([2.0, -1.0, 0.5, 0.5], [1, 0, 0, 1]))
    assert got["f1"] == pytest.approx(numpy_f1([1, 0, 1, 1], [1, 0, 0, 1]))


def test_top_k_counts_a_row_whose_target_is_among_the_k_largest_outputs():
    out = torch.tensor([[[5.0, 4.0, 3.0, 0.0], [0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 0.0, 0.0]]])
    target = torch.tensor([2, 0, 0])  # third largest; smallest; largest
    got = scores(["top2", "top3"], out, target, classes=4)[0]
    assert got == {"top2": pytest.approx(1 / 3), "top3": pytest.approx(2 / 3)}


def test_regression_metrics_match_their_formulas_over_every_chunking():
    pred = torch.tensor([[[1.0, 0.0], [2.0, 1.0], [3.0, 5.0], [4.0, 2.0]]])
    y = torch.tensor([[1.5, 0.5], [2.0, 2.0], [2.0, 4.0], [5.0, 2.0]])
    p, t = pred[0].numpy().astype(float), y.numpy().astype(float)
    r2 = np.mean([1 - ((t[:, d] - p[:, d]) ** 2).sum() / ((t[:, d] - t[:, d].mean()) ** 2).sum() for d in range(2)])
    expected = {"r2": r2, "mae": np.abs(t - p).mean(), "rmse": np.sqrt(((t - p) ** 2).mean())}
    for chunk in (1, 3, 4):
        got = scores(["r2", "mae", "rmse"], pred, y, loss="mse", chunk=chunk)[0]
        assert got == pytest.approx(expected, abs=1e-9)


def test_a_variant_with_non_finite_outputs_scores_nan_and_leaves_the_others_alone():
    out = torch.randn(2, 20, 3, generator=torch.Generator().manual_seed(0))
    out[1, 5, 0] = float("nan")
    target = torch.arange(20) % 3
    first, second = scores(["f1", "auroc", "top2"], out, target, classes=3)
    assert all(math.isfinite(v) for v in first.values()) and all(math.isnan(v) for v in second.values())
    alone = scores(["f1", "auroc", "top2"], out[:1], target, classes=3)[0]
    assert alone == pytest.approx(first)


def test_no_metrics_asked_costs_nothing_and_gives_empty_dicts():
    assert scores([], torch.zeros(3, 4, 2), torch.zeros(4, dtype=torch.long), classes=2) == [{}, {}, {}]


@pytest.mark.parametrize("chunk", [None, 37])
def test_classification_metrics_equal_torchmetrics_for_every_variant_of_a_pack(chunk):
    functional = pytest.importorskip("torchmetrics.functional.classification")
    g = torch.Generator().manual_seed(3)
    k, n, c = 3, 300, 6
    out = torch.randn(k, n, c, generator=g)
    target = torch.randint(0, c, (n,), generator=g)
    out[torch.arange(k)[:, None], torch.arange(n), target] += torch.linspace(0.5, 2, k)[:, None]  # unlike skills
    got = scores(["f1", "auroc", "top3"], out, target, classes=c, chunk=chunk)
    for i in range(k):
        f1 = functional.multiclass_f1_score(out[i].argmax(-1), target, num_classes=c, average="macro")
        area = functional.multiclass_auroc(out[i].softmax(-1), target, num_classes=c, average="macro")
        top = functional.multiclass_accuracy(out[i], target, num_classes=c, top_k=3, average="micro")
        assert got[i] == pytest.approx({"f1": float(f1), "auroc": float(area), "top3": float(top)}, abs=1e-6)


def test_regression_metrics_equal_torchmetrics():
    functional = pytest.importorskip("torchmetrics.functional")
    g = torch.Generator().manual_seed(4)
    target = torch.randn(200, 1, generator=g)
    out = target.unsqueeze(0) + 0.5 * torch.randn(2, 200, 1, generator=g)
    got = scores(["r2", "mae", "rmse"], out, target, loss="mse")
    for i in range(2):
        expected = {
            "r2": float(functional.r2_score(out[i], target)),
            "mae": float(functional.mean_absolute_error(out[i], target)),
            "rmse": float(functional.mean_squared_error(out[i], target, squared=False)),
        }
        assert got[i] == pytest.approx(expected, abs=1e-5)


# ---- in the engines: every epoch's records carry val_<metric>, alone and in a pack alike; test_<metric> at the end


def test_records_carry_the_metrics_alike_in_both_engines(monkeypatch):
    from dataclasses import replace

    from helpers import sibling_tests

    from lrsweep.engine.common import evaluate_all

    vec = sibling_tests("engine/test_vectorized.py")
    spec_ = replace(vec.spec(), metrics=("f1", "auroc", "top2"))
    vs = vec.variants(lrs=(0.01, 0.1))
    alone, states = vec.sequential(vs, spec_, monkeypatch=monkeypatch)
    together, _ = vec.packed(vs, spec_)
    for a, b in zip(alone, together):
        for ra, rb in zip(a.epochs, b.epochs):
            assert set(ra.metrics) == {"val_f1", "val_auroc", "val_top2"}
            assert rb.metrics == pytest.approx(ra.metrics, abs=1e-4)
    model = vec.loop.build_model("mlp", {"hidden": [16]}, (8,), 3, seed=0)
    model.load_state_dict(states[0])
    _, acc, further = evaluate_all(model, *vec.VAL, "cross_entropy", None, spec_.metrics, 3)
    assert alone[0].epochs[-1].val_acc == acc
    assert {f"val_{k}": v for k, v in further.items()} == pytest.approx(alone[0].epochs[-1].metrics)
    tested = vec.loop.train_variant(vs[0], spec_, vec.DATA, vec.VAL, test=vec.VAL)
    assert tested.test_metrics == pytest.approx({f"test_{k}": v for k, v in further.items()})
