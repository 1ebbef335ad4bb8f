"""The further metrics of ``train.metrics`` for K variants at once, from their stacked outputs.

:class:`Scores` takes each evaluation chunk's outputs ``[K, B, C]`` (logits; ``[K, B, D]`` regression predictions)
and the chunk's targets, shared by the K variants; :meth:`Scores.result` gives one ``{name: value}`` per variant.
Nothing loops over rows or variants in Python: confusion counts come from one ``bincount``, AUROC from the ranks of
the sorted scores (the Mann-Whitney U statistic, ties given their average rank; sorted by numpy on the CPU, by
torch elsewhere), top-k from a comparison with the target's output, regression errors from float64 sums. They
are computed here rather than with torchmetrics: the same numbers (tests compare them), 2-9x faster on a pack
(``python benchmarks/metrics_speed.py``), and no dependency.

Conventions (scikit-learn's): macro F1 averages the classes that occur in the targets or the predictions;
one-vs-rest AUROC averages the classes with both positives and negatives in the split (none: NaN); top-k counts a
row whose target is outscored by fewer than k classes (a tie counts for the target); R² averages the target
columns, ``1 - SS_res / SS_tot`` with SS_tot about the split's mean. A variant whose outputs are not all finite
scores NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from lrsweep.config.metrics import top_k
from lrsweep.engine.losses import class_probabilities, is_classification, predicted_class


def confusion_matrix(pred: Tensor, target: Tensor, classes: int) -> Tensor:
    """``[K, C, C]`` counts (rows: target class, columns: predicted class) of predictions ``[K, N]``."""
    k = pred.shape[0]
    index = (torch.arange(k, device=pred.device)[:, None] * classes + target.expand_as(pred)) * classes + pred
    return torch.bincount(index.reshape(-1), minlength=k * classes * classes).view(k, classes, classes)


def macro_f1(confusion: Tensor) -> Tensor:
    """``[K]`` macro F1 of ``[K, C, C]`` confusion counts, over the classes present in targets or predictions."""
    counts = confusion.double()
    tp = counts.diagonal(dim1=-2, dim2=-1)
    denominator = 2 * tp + (counts.sum(-2) - tp) + (counts.sum(-1) - tp)  # 2TP + FP + FN
    present = denominator > 0
    f1 = torch.where(present, 2 * tp / denominator.clamp(min=1), torch.zeros_like(tp))
    return f1.sum(-1) / present.sum(-1).clamp(min=1)


def _argsort(scores: Tensor) -> Tensor:
    """The order of each row; on the CPU numpy's (its vectorised sort is several times faster than torch's there)."""
    if scores.device.type == "cpu":
        return torch.from_numpy(np.argsort(scores.detach().contiguous().numpy(), axis=-1))
    return scores.argsort(dim=-1)


def auroc(scores: Tensor, positive: Tensor) -> Tensor:
    """``[M]`` area under the ROC curve of each row of ``scores`` ``[M, N]`` for the labels ``positive`` ``[M, N]``:
    the Mann-Whitney U statistic over n_pos x n_neg, tied scores at their average rank; NaN without both labels."""
    order = _argsort(scores)
    ordered = scores.gather(-1, order)
    m, n = ordered.shape
    position = torch.arange(1, n + 1, device=scores.device).expand(m, n)
    tied = ordered[:, 1:] == ordered[:, :-1]  # equal to the score before it
    no = torch.zeros_like(tied[:, :1])
    first = torch.where(torch.cat([no, tied], -1), 0, position).cummax(-1).values  # its run of equals starts here
    last = torch.where(torch.cat([tied, no], -1), n + 1, position).flip(-1).cummin(-1).values.flip(-1)  # ends here
    labels = positive.gather(-1, order)
    n_pos = labels.sum(-1).double()
    n_neg = n - n_pos
    u = ((first + last) * labels).sum(-1).double() / 2 - n_pos * (n_pos + 1) / 2  # average ranks of the positives
    both = (n_pos > 0) & (n_neg > 0)
    return torch.where(both, u / (n_pos * n_neg).clamp(min=1), torch.full_like(u, math.nan))


def macro_auroc(probabilities: Tensor, target: Tensor) -> Tensor:
    """``[K]`` AUROC of class probabilities ``[K, N, C]``: of class 1 for two classes, else one-vs-rest, macro."""
    k, n, classes = probabilities.shape
    if classes == 2:
        return auroc(probabilities[..., 1], (target == 1).expand(k, n))
    scores = probabilities.permute(0, 2, 1).reshape(k * classes, n)
    positive = target[None, :] == torch.arange(classes, device=target.device)[:, None]  # [C, N]
    each = auroc(scores, positive.expand(k, classes, n).reshape(k * classes, n)).view(k, classes)
    valid = ~torch.isnan(each)
    mean = torch.where(valid, each, torch.zeros_like(each)).sum(-1) / valid.sum(-1).clamp(min=1)
    return torch.where(valid.any(-1), mean, torch.full_like(mean, math.nan))


class Scores:
    """The metrics ``names`` (``f1``, ``auroc``, ``top5``, ``r2``, ``mae``, ``rmse``) of K variants over one split.

    Args:
        names: the metrics, as train.metrics lists them.
        k: variants whose outputs each chunk stacks.
        loss: the training loss (whether outputs are logits, one logit, or regression predictions).
        classes: the dataset's classes (None for regression).
    """

    def __init__(self, names: Sequence[str], k: int, loss: str, classes: int | None):
        self.names, self.k, self.loss = tuple(names), k, loss
        self.classes = classes or 0
        self.finite: Tensor | None = None  # [K]: every output so far finite
        self.confusion: Tensor | None = None
        self.probabilities: list[Tensor] = []  # AUROC needs every score of the split
        self.targets: list[Tensor] = []
        self.hits: dict[str, Tensor] = {}
        self.errors: dict[str, Tensor] = {}  # regression sums, float64
        self.rows = 0

    def add(self, out: Tensor, target: Tensor) -> None:
        """One chunk: ``out`` ``[K, B, ...]`` and ``target`` ``[B]`` / ``[B, D]``, the same rows for every variant."""
        if not self.names:
            return
        out = out.detach()
        finite = torch.isfinite(out).reshape(self.k, -1).all(-1)
        self.finite = finite if self.finite is None else self.finite & finite
        self.rows += len(target)
        if is_classification(self.loss):
            self._add_classes(out, target)
        else:
            self._add_errors(out.double(), target.double())

    def _add_classes(self, out: Tensor, target: Tensor) -> None:
        if "f1" in self.names:
            counts = confusion_matrix(predicted_class(out, self.loss), target, self.classes)
            self.confusion = counts if self.confusion is None else self.confusion + counts
        if "auroc" in self.names:
            self.probabilities.append(class_probabilities(out, self.loss))
            self.targets.append(target)
        for name in self.names:
            k = top_k(name)
            if k is not None:  # fewer than k classes score above the target's (a tie counts for it); no topk: slow
                above = (out > out.gather(-1, target.expand(out.shape[:2]).unsqueeze(-1))).sum(-1)
                hit = (above < k).sum(-1)
                self.hits[name] = self.hits[name] + hit if name in self.hits else hit

    def _add_errors(self, out: Tensor, target: Tensor) -> None:
        error = out - target.unsqueeze(0)  # [K, B, D]
        sums = {
            "abs": error.abs().sum((1, 2)),
            "sq": (error * error).sum(1),  # [K, D]: R² is per target column
            "y": target.sum(0),
            "y2": (target * target).sum(0),
        }
        for key, value in sums.items():
            self.errors[key] = self.errors[key] + value if key in self.errors else value

    def result(self) -> list[dict[str, float]]:
        """One ``{name: value}`` per variant (empty dicts when no metric was asked for or no row was seen)."""
        if not self.names or self.rows == 0 or self.finite is None:
            return [{} for _ in range(self.k)]
        nan = torch.full((self.k,), math.nan, dtype=torch.float64, device=self.finite.device)
        plain = {name: torch.where(self.finite, self._value(name).double(), nan).tolist() for name in self.names}
        return [{name: plain[name][i] for name in self.names} for i in range(self.k)]

    def _value(self, name: str) -> Tensor:
        if name == "f1":
            assert self.confusion is not None
            return macro_f1(self.confusion)
        if name == "auroc":
            return macro_auroc(torch.cat(self.probabilities, dim=1), torch.cat(self.targets))
        if name in self.hits:
            return self.hits[name].double() / self.rows
        e = self.errors
        elements = self.rows * e["sq"].shape[-1]
        if name == "mae":
            return e["abs"] / elements
        if name == "rmse":
            return (e["sq"].sum(-1) / elements).sqrt()
        if name == "r2":
            total = e["y2"] - e["y"] * e["y"] / self.rows  # [D], about the split's mean
            return (1 - e["sq"] / total).mean(-1)
        raise ValueError(f"unknown metric {name!r}")
