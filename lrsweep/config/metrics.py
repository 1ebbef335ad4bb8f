"""The metrics lrsweep's own loop computes (``train.metrics``) and the names a sweep can be ranked by.

``train.metrics`` lists them by short name; each is computed on the validation split every epoch (``val_f1``) and
on the test split for the retrained winner (``test_f1``):

- classification: ``f1`` (macro F1: the unweighted mean of per-class F1), ``auroc`` (binary, or one-vs-rest
  macro), ``top<k>`` (top-k accuracy, e.g. ``top5``; k >= 2, fewer than the classes);
- regression: ``r2`` (coefficient of determination, averaged over target columns), ``mae``, ``rmse``.

Which task a metric needs is known here; whether the dataset has that task is known only once the data is
loaded (``sweep.plan.check_task``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lrsweep.errors import ConfigError
from lrsweep.registry import nearest

CLASSIFICATION_METRICS = ("f1", "auroc")  # and top<k>
REGRESSION_METRICS = ("r2", "mae", "rmse")
METRIC_NAMES = (*CLASSIFICATION_METRICS, "top5", *REGRESSION_METRICS)  # as messages list them (top5: any top<k>)
STANDARD = ("val_loss", "val_acc")  # what every sweep of lrsweep's own loop reports
_TOP_K = re.compile(r"top([0-9]+)")


def top_k(name: str) -> int | None:
    """k of a ``top<k>`` metric, else None."""
    found = _TOP_K.fullmatch(name)
    return int(found.group(1)) if found else None


def metric_task(name: str) -> str:
    """The task a known metric needs: classification or regression."""
    return "regression" if name in REGRESSION_METRICS else "classification"


def check_metric_name(name: str, key: str) -> str:
    """A known metric name (``top<k>`` with k >= 2), else a ConfigError with the nearest spelling."""
    k = top_k(name)
    if name in CLASSIFICATION_METRICS or name in REGRESSION_METRICS or (k is not None and k >= 2):
        return name
    if k is not None:
        raise ConfigError(f"top-k needs k >= 2 (top1 is val_acc), got {name!r}", key=key)
    guess = nearest(name.removeprefix("val_"), METRIC_NAMES)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"got {name!r}{hint} (valid: {', '.join(METRIC_NAMES)}, or top<k> for any k >= 2)", key=key)


def engine_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """Every metric lrsweep's own loop reports on validation for ``train.metrics``: what ``select.metric`` may be."""
    return (*STANDARD, *(f"val_{m}" for m in metrics))


def check_select_metric(metric: str, metrics: Sequence[str], key: str = "select.metric") -> str:
    """``select.metric`` among :func:`engine_metrics`; otherwise how to add it, or the nearest valid name."""
    valid = engine_metrics(metrics)
    if metric in valid:
        return metric
    short = metric.removeprefix("val_")
    if metric.startswith("val_") and (short in METRIC_NAMES or (top_k(short) or 0) >= 2):
        raise ConfigError(
            f"got {metric!r} (valid: {', '.join(valid)}): add {short} to train.metrics to rank by {metric}", key=key
        )
    guess = nearest(metric, valid)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"got {metric!r}{hint} (valid: {', '.join(valid)})", key=key)
