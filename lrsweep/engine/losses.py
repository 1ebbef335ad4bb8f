"""The training losses (``train.loss``), per row, as every engine and the range test compute them.

Each is torch's own function with its option (``delta``, ``beta``, ``label_smoothing``). Targets arrive as the
dataset holds them: class indices ``[B]`` (int64) for classification, ``[B, k]`` floats for regression;
``bce_with_logits`` takes the class index of a two-class dataset as its 0/1 target and one logit per row.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from lrsweep.config.sections import CLASSIFICATION_LOSSES


def is_classification(loss: str) -> bool:
    return loss in CLASSIFICATION_LOSSES


def _torch_loss(loss: str, options: dict | None) -> tuple[Callable[..., Tensor], dict]:
    """torch's function for ``loss`` and the keyword argument its option becomes."""
    options = options or {}
    table: dict[str, tuple[Callable[..., Tensor], dict]] = {
        "cross_entropy": (F.cross_entropy, {"label_smoothing": float(options.get("label_smoothing", 0.0))}),
        "bce_with_logits": (F.binary_cross_entropy_with_logits, {}),
        "mse": (F.mse_loss, {}),
        "l1": (F.l1_loss, {}),
        "huber": (F.huber_loss, {"delta": float(options.get("delta", 1.0))}),
        "smooth_l1": (F.smooth_l1_loss, {"beta": float(options.get("beta", 1.0))}),
    }
    if loss not in table:
        raise ValueError(f"unknown loss {loss!r}")
    return table[loss]


def loss_fn(loss: str, options: dict | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """``fn(out, target)`` -> the mean loss of a batch (what training steps on and the range test uses).

    ``out`` is ``[N, C]`` logits, ``[N, 1]`` for bce_with_logits, or ``[N, k]`` predictions; ``target`` as the
    dataset holds it. Regression targets are not cast (autocast runs these losses in float32 itself).
    """
    fn, kwargs = _torch_loss(loss, options)
    if loss == "bce_with_logits":
        return lambda out, y: fn(out[..., 0], y.to(out.dtype), **kwargs)
    return lambda out, y: fn(out, y, **kwargs)


def elementwise(loss: str, options: dict | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """``fn(out, target)``: the loss of every row (of every element for regression), unreduced; ``out`` and
    ``target`` may have any leading dimensions (``[K, B, ...]`` for a pack), the class/output dimension last."""
    fn, kwargs = _torch_loss(loss, options)
    if loss == "cross_entropy":
        return lambda out, y: fn(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none", **kwargs).view(
            y.shape
        )
    if loss == "bce_with_logits":
        return lambda out, y: fn(out[..., 0], y.to(out.dtype), reduction="none", **kwargs)
    return lambda out, y: fn(out, y, reduction="none", **kwargs)


def predicted_class(out: Tensor, loss: str) -> Tensor:
    """The class each row's output predicts: argmax of the logits, or a positive logit for bce_with_logits."""
    if loss == "bce_with_logits":
        return (out[..., 0] > 0).long()
    return out.argmax(dim=-1)


def class_probabilities(out: Tensor, loss: str) -> Tensor:
    """``[..., C]`` probabilities of each class (two for bce_with_logits), in float32.

    The softmax is written out: torch's CPU kernel is ~15x slower for the few classes of a typical last dimension.
    """
    if loss == "bce_with_logits":
        positive = torch.sigmoid(out[..., 0].float())
        return torch.stack([1 - positive, positive], dim=-1)
    shifted = (out.float() - out.float().amax(dim=-1, keepdim=True)).exp()
    return shifted / shifted.sum(dim=-1, keepdim=True)
