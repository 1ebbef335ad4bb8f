"""What the stacked update rules are made of: a hyper-parameter per variant broadcast over ``[K, *shape]``
(:class:`Broadcast`), elementwise steps that take torch's own call for a number every variant shares and
its broadcast twin for a per-variant tensor, weight decay as torch applies it, Adam's moments, and the
interface every rule implements (:class:`Rule`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


class Broadcast:
    """Looks up a per-step value and shapes tensors as ``[K, 1, ...]`` for a parameter of ``ndim`` dims."""

    def __init__(self, values: dict[str, Any], ndim: int):
        self.values = values
        self.ndim = ndim

    def __call__(self, name: str) -> Any:
        v = self.values[name]
        if isinstance(v, Tensor):
            return v.view(-1, *([1] * (self.ndim - 1)))
        return v


# ---- elementwise helpers: a Python number takes torch's own call, a tensor its broadcast twin ----


def axpy_(y: Tensor, x: Tensor, a: Any) -> Tensor:
    """y += a * x in place."""
    return y.add_(x, alpha=a) if not isinstance(a, Tensor) else y.addcmul_(x, a)


def axpy(y: Tensor, x: Tensor, a: Any) -> Tensor:
    """y + a * x."""
    return y.add(x, alpha=a) if not isinstance(a, Tensor) else torch.addcmul(y, x, a)


def addcmul_(y: Tensor, x1: Tensor, x2: Tensor, value: Any) -> Tensor:
    """y += value * x1 * x2 (torch evaluates (value * x1) * x2)."""
    return y.addcmul_(x1, x2, value=value) if not isinstance(value, Tensor) else y.addcmul_(x1 * value, x2)


def addcdiv_(y: Tensor, x1: Tensor, x2: Tensor, value: Any) -> Tensor:
    """y += value * x1 / x2 (torch evaluates (value * x1) / x2)."""
    return y.addcdiv_(x1, x2, value=value) if not isinstance(value, Tensor) else y.addcdiv_(x1 * value, x2)


def pick(flag: Any, if_true: Callable[[], Tensor], if_false: Callable[[], Tensor]) -> Tensor:
    """Per-variant branch: a uniform flag takes one branch, a mixed one selects with torch.where."""
    if isinstance(flag, Tensor):
        return torch.where(flag, if_true(), if_false())
    return if_true() if flag else if_false()


def any_of(values: list, pred: Callable[[Any], bool]) -> bool:
    return any(pred(v) for v in values)


def maybe_negate(g: Tensor, maximize: Any) -> Tensor:
    return pick(maximize, lambda: -g, lambda: g) if maximize is not False else g


def coupled_decay(p, g, wd):
    """torch's L2 weight decay folded into the gradient: g + wd * p (skipped where every wd is 0)."""
    return g if is_zero(wd) else axpy(g, p, wd)


class Rule:
    """One optimizer's maths: which state it keeps, its per-step scalars, its per-parameter update."""

    def state_names(self, hp: dict[str, list]) -> list[str]:
        raise NotImplementedError

    def scalars(self, hp: dict[str, list], steps: list[int]) -> dict[str, list]:
        raise NotImplementedError

    def update(self, p: Tensor, g: Tensor, state: dict[str, Tensor], v: Broadcast) -> None:
        raise NotImplementedError

    def started(self, hp: dict[str, list]) -> list[bool]:
        """Per variant, after a step: does SGD's momentum buffer now hold a value (torch creates it lazily)."""
        return hp["_started"]

    # per-variant scalars the rule carries from step to step (NAdam's mu_product), with their start values
    scalar_state: dict[str, float] = {}

    def advance(self, hp: dict[str, list], steps: list[int]) -> dict[str, list[float]]:
        """The scalar state after this step (read by :meth:`scalars` as ``hp["_<name>"]``)."""
        return {}


def decay_scalars(hp: dict[str, list], default_decoupled: bool = False) -> dict[str, list]:
    """Weight decay as torch applies it: decoupled (p *= 1 - lr * wd) or coupled (g += wd * p)."""
    n = len(hp["lr"])
    dec = hp.get("decoupled_weight_decay", [default_decoupled] * n)
    lr, wd = hp["lr"], hp["weight_decay"]
    return {
        "decay": [1 - lr[k] * wd[k] if dec[k] and wd[k] != 0 else 1.0 for k in range(n)],
        "wd": [0.0 if dec[k] else wd[k] for k in range(n)],
    }


def adam_moments(g: Tensor, state: dict, v: Broadcast) -> tuple[Tensor, Tensor]:
    """Adam's first and second moments moved in place by ``g`` (Adam, NAdam and RAdam share them)."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(g, v("one_minus_beta1"))
    addcmul_(exp_avg_sq.mul_(v("beta2")), g, g, v("one_minus_beta2"))
    return exp_avg, exp_avg_sq


def apply_decay(p: Tensor, g: Tensor, v: Broadcast) -> Tensor:
    if not is_one(v("decay")):
        p.mul_(v("decay"))
    return coupled_decay(p, g, v("wd"))


def is_zero(v: Any) -> bool:
    return not isinstance(v, Tensor) and v == 0


def is_one(v: Any) -> bool:
    return not isinstance(v, Tensor) and v == 1
