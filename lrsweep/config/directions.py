"""Which way a metric is better: what ``select.mode`` is when the config does not say.

Names are split into words (``val_loss`` -> val, loss; ``eval/top5_acc`` -> eval, top5, acc); a word
that names a loss or an error means lower is better, one that names a score means higher is better.
A name with neither (or both) has no inferred direction: the config must give ``select.mode``.
"""

from __future__ import annotations

import re

MODES = ("min", "max")
LOWER_IS_BETTER = ("loss", "error", "err", "mae", "mse", "rmse", "nll", "perplexity", "ppl", "wer", "cer")
HIGHER_IS_BETTER = (
    "acc",
    "accuracy",
    "f1",
    "auroc",
    "auc",
    "r2",
    "precision",
    "recall",
    "map",
    "bleu",
    "rouge",
    "iou",
    "dice",
    "top1",
    "top5",
    "topk",
    "top",  # top3, top10: the k-th of top-k accuracy (see _PREFIXED)
    "score",
)
_PREFIXED = ("loss", "acc", "top")  # also as a word's start: losses, accuracy, top3


def inferred_mode(metric: str) -> str | None:
    """``min`` or ``max`` when the name says which way is better, else None."""
    words = [w for w in re.split(r"[^a-z0-9]+", str(metric).lower()) if w]
    found = set()
    for word in words:
        for mode, names in (("min", LOWER_IS_BETTER), ("max", HIGHER_IS_BETTER)):
            if word in names or any(word.startswith(p) and p in names_of(mode) for p in _PREFIXED):
                found.add(mode)
    return found.pop() if len(found) == 1 else None


def names_of(mode: str) -> tuple[str, ...]:
    return LOWER_IS_BETTER if mode == "min" else HIGHER_IS_BETTER


def metric_mode(metric: str, mode: str | None = None) -> str:
    """``mode`` if given, else the inferred one; ValueError when the name does not tell."""
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode must be min or max, got {mode!r}")
        return mode
    inferred = inferred_mode(metric)
    if inferred is None:
        raise ValueError(f"cannot tell whether a higher or a lower {metric} is better: give select.mode (min or max)")
    return inferred
