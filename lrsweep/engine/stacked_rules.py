"""The per-optimizer update rules of :class:`~lrsweep.engine.stacked_optim.StackedOptimizer`.

Each rule mirrors one torch.optim single-tensor implementation operation by operation, on parameters
stacked as ``[K, *shape]``.  A hyper-parameter every variant shares arrives as a Python number (torch's
own call); one that differs arrives as a ``[K]`` tensor, shaped ``[K, 1, ...]`` by
:class:`~lrsweep.engine.stacked_ops.Broadcast` (with the elementwise steps the rules share).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lrsweep.engine.stacked_ops import (
    Rule,
    adam_moments,
    addcdiv_,
    addcmul_,
    any_of,
    apply_decay,
    axpy,
    axpy_,
    coupled_decay,
    decay_scalars,
    is_one,
    is_zero,
    maybe_negate,
    pick,
)

# ---- the update rules, one per optimizer ----


class _SGD(Rule):
    def state_names(self, hp):
        return ["momentum_buffer"] if any_of(hp["momentum"], lambda m: m != 0) else []

    def scalars(self, hp, steps):
        return {
            "neg_lr": [-lr for lr in hp["lr"]],
            "wd": hp["weight_decay"],
            "momentum": hp["momentum"],
            "momentum_on": [m != 0 for m in hp["momentum"]],
            "one_minus_dampening": [1 - d for d in hp["dampening"]],
            "nesterov": hp["nesterov"],
            "maximize": hp["maximize"],
            "first": [not started for started in hp["_started"]],
        }

    def started(self, hp):
        return [started or m != 0 for started, m in zip(hp["_started"], hp["momentum"])]

    def update(self, p, g, state, v):
        g = coupled_decay(p, maybe_negate(g, v("maximize")), v("wd"))
        if "momentum_buffer" in state:
            buf = state["momentum_buffer"]
            _momentum_(buf, g, v("momentum"), v("one_minus_dampening"), v("first"))
            m = v("momentum")
            step = pick(v("nesterov"), lambda: axpy(g, buf, m), lambda: buf)
            step = pick(v("momentum_on"), lambda: step, lambda: g)
        else:
            step = g
        axpy_(p, step, v("neg_lr"))


def _momentum_(buf: Tensor, g: Tensor, m: Any, one_minus_d: Any, first: Any) -> None:
    """SGD's buffer: a copy of the gradient on a variant's first step, then buf * m + (1 - d) * g."""
    if first is True:
        buf.copy_(g)
        return
    if first is False:
        axpy_(buf.mul_(m), g, one_minus_d)
        return
    buf.copy_(torch.where(first, g, axpy(buf * m, g, one_minus_d)))


class _Adam(Rule):
    def __init__(self, decoupled: bool):
        self.decoupled = decoupled

    def state_names(self, hp):
        names = ["exp_avg", "exp_avg_sq"]
        return names + (["max_exp_avg_sq"] if any_of(hp["amsgrad"], bool) else [])

    def scalars(self, hp, steps):
        n = len(steps)
        dec = hp.get("decoupled_weight_decay", [self.decoupled] * n)
        dec = [d or self.decoupled for d in dec]
        lr, wd, b1, b2 = hp["lr"], hp["weight_decay"], hp["beta1"], hp["beta2"]
        bc1 = [1 - b1[k] ** steps[k] for k in range(n)]
        bc2 = [1 - b2[k] ** steps[k] for k in range(n)]
        return {
            "decay": [1 - lr[k] * wd[k] if dec[k] and wd[k] != 0 else 1.0 for k in range(n)],
            "wd": [0.0 if dec[k] else wd[k] for k in range(n)],
            "one_minus_beta1": [1 - b for b in b1],
            "beta2": b2,
            "one_minus_beta2": [1 - b for b in b2],
            "neg_step_size": [-(lr[k] / bc1[k]) for k in range(n)],
            "bc2_sqrt": [b**0.5 for b in bc2],
            "eps": hp["eps"],
            "amsgrad": hp["amsgrad"],
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = maybe_negate(g, v("maximize"))
        if not is_one(v("decay")):
            p.mul_(v("decay"))
        if not is_zero(v("wd")):
            g = axpy(g, p, v("wd"))
        exp_avg, exp_avg_sq = adam_moments(g, state, v)
        if "max_exp_avg_sq" in state:
            mx = state["max_exp_avg_sq"]
            torch.maximum(mx, exp_avg_sq, out=mx)  # only read by variants with amsgrad
            second = pick(v("amsgrad"), lambda: mx, lambda: exp_avg_sq)
        else:
            second = exp_avg_sq
        denom = (second.sqrt() / v("bc2_sqrt")).add_(v("eps"))
        addcdiv_(p, exp_avg, denom, v("neg_step_size"))


class _RMSprop(Rule):
    def state_names(self, hp):
        names = ["square_avg"]
        if any_of(hp["momentum"], lambda m: m > 0):
            names.append("momentum_buffer")
        if any_of(hp["centered"], bool):
            names.append("grad_avg")
        return names

    def scalars(self, hp, steps):
        return {
            "neg_lr": [-lr for lr in hp["lr"]],
            "wd": hp["weight_decay"],
            "alpha": hp["alpha"],
            "one_minus_alpha": [1 - a for a in hp["alpha"]],
            "eps": hp["eps"],
            "momentum": hp["momentum"],
            "momentum_on": [m > 0 for m in hp["momentum"]],
            "centered": hp["centered"],
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = coupled_decay(p, maybe_negate(g, v("maximize")), v("wd"))
        square_avg = state["square_avg"]
        addcmul_(square_avg.mul_(v("alpha")), g, g, v("one_minus_alpha"))
        if "grad_avg" in state:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(g, v("one_minus_alpha"))
            avg = pick(v("centered"), lambda: square_avg.addcmul(grad_avg, grad_avg, value=-1), lambda: square_avg)
            avg = avg.sqrt()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(v("eps"))
        if "momentum_buffer" in state:
            buf = state["momentum_buffer"]
            buf.mul_(v("momentum")).addcdiv_(g, avg)
            if v("momentum_on") is True:
                axpy_(p, buf, v("neg_lr"))
            else:  # mixed: variants without momentum take torch's addcdiv step
                with_buf, without = axpy(p, buf, v("neg_lr")), torch.addcdiv(p, g * v("neg_lr"), avg)
                p.copy_(torch.where(v("momentum_on"), with_buf, without))
        else:
            addcdiv_(p, g, avg, v("neg_lr"))


class _Adagrad(Rule):
    def state_names(self, hp):
        return ["sum"]

    def scalars(self, hp, steps):
        lr, decay = hp["lr"], hp["lr_decay"]
        return {
            "neg_clr": [-(lr[k] / (1 + (steps[k] - 1) * decay[k])) for k in range(len(steps))],
            "wd": hp["weight_decay"],
            "eps": hp["eps"],
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = coupled_decay(p, maybe_negate(g, v("maximize")), v("wd"))
        state_sum = state["sum"]
        state_sum.addcmul_(g, g, value=1)
        std = state_sum.sqrt().add_(v("eps"))
        addcdiv_(p, g, std, v("neg_clr"))


class _Adamax(Rule):
    """torch.optim.Adamax (``_single_tensor_adamax``)."""

    def state_names(self, hp):
        return ["exp_avg", "exp_inf"]

    def scalars(self, hp, steps):
        lr, b1 = hp["lr"], hp["beta1"]
        return {
            "wd": hp["weight_decay"],
            "one_minus_beta1": [1 - b for b in b1],
            "beta2": hp["beta2"],
            "eps": hp["eps"],
            "neg_clr": [-(lr[k] / (1 - b1[k] ** steps[k])) for k in range(len(steps))],
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = coupled_decay(p, maybe_negate(g, v("maximize")), v("wd"))
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(g, v("one_minus_beta1"))
        torch.maximum(exp_inf.mul_(v("beta2")), g.abs().add_(v("eps")), out=exp_inf)
        addcdiv_(p, exp_avg, exp_inf, v("neg_clr"))


class _NAdam(Rule):
    """torch.optim.NAdam (``_single_tensor_nadam``); mu_product is a float32 scalar there, so it is here."""

    scalar_state = {"mu_product": 1.0}

    @staticmethod
    def _mu(hp, k: int, step: float) -> float:
        return hp["beta1"][k] * (1.0 - 0.5 * (0.96 ** (step * hp["momentum_decay"][k])))

    def state_names(self, hp):
        return ["exp_avg", "exp_avg_sq"]

    def advance(self, hp, steps):
        products = torch.tensor(hp["_mu_product"], dtype=torch.float32)
        mus = [self._mu(hp, k, steps[k]) for k in range(len(steps))]
        return {"mu_product": [(products[k] * mus[k]).item() for k in range(len(steps))]}

    def scalars(self, hp, steps):
        n, lr, b1, b2 = len(steps), hp["lr"], hp["beta1"], hp["beta2"]
        mu = [self._mu(hp, k, steps[k]) for k in range(n)]
        mu_next = [self._mu(hp, k, steps[k] + 1) for k in range(n)]
        prod = hp["_mu_product"]
        return {
            **decay_scalars(hp),
            "one_minus_beta1": [1 - b for b in b1],
            "beta2": b2,
            "one_minus_beta2": [1 - b for b in b2],
            "bc2": [1 - b2[k] ** steps[k] for k in range(n)],
            "eps": hp["eps"],
            "c_grad": [-lr[k] * (1.0 - mu[k]) / (1.0 - prod[k]) for k in range(n)],
            "c_avg": [(-lr[k] * mu_next[k]) / (1.0 - prod[k] * mu_next[k]) for k in range(n)],
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = apply_decay(p, maybe_negate(g, v("maximize")), v)
        exp_avg, exp_avg_sq = adam_moments(g, state, v)
        denom = exp_avg_sq.div(v("bc2")).sqrt().add_(v("eps"))
        addcdiv_(p, g, denom, v("c_grad"))
        addcdiv_(p, exp_avg, denom, v("c_avg"))


class _RAdam(Rule):
    """torch.optim.RAdam (``_single_tensor_radam``): the rectified step once rho_t > 5, else plain momentum."""

    def state_names(self, hp):
        return ["exp_avg", "exp_avg_sq"]

    def scalars(self, hp, steps):
        n, b1, b2 = len(steps), hp["beta1"], hp["beta2"]
        bc2 = [1 - b2[k] ** steps[k] for k in range(n)]
        rho_inf = [2 / (1 - b) - 1 for b in b2]
        rho_t = [rho_inf[k] - 2 * steps[k] * (b2[k] ** steps[k]) / bc2[k] for k in range(n)]
        on = [r > 5.0 for r in rho_t]
        rect = [
            ((rho_t[k] - 4) * (rho_t[k] - 2) * rho_inf[k] / ((rho_inf[k] - 4) * (rho_inf[k] - 2) * rho_t[k])) ** 0.5
            if on[k]
            else 0.0
            for k in range(n)
        ]
        return {
            **decay_scalars(hp),
            "one_minus_beta1": [1 - b for b in b1],
            "beta2": b2,
            "one_minus_beta2": [1 - b for b in b2],
            "bc1": [1 - b1[k] ** steps[k] for k in range(n)],
            "bc2_sqrt": [b**0.5 for b in bc2],
            "lr": hp["lr"],
            "eps": hp["eps"],
            "rect": rect,
            "rect_on": on,
            "maximize": hp["maximize"],
        }

    def update(self, p, g, state, v):
        g = apply_decay(p, maybe_negate(g, v("maximize")), v)
        exp_avg, exp_avg_sq = adam_moments(g, state, v)
        corrected = exp_avg / v("bc1")
        lr = v("lr")

        def rectified():
            return corrected * lr * (v("bc2_sqrt") / exp_avg_sq.sqrt().add_(v("eps"))) * v("rect")

        p.add_(pick(v("rect_on"), rectified, lambda: corrected * lr), alpha=-1.0)


RULES: dict[str, Rule] = {
    "sgd": _SGD(),
    "adam": _Adam(decoupled=False),
    "adamw": _Adam(decoupled=True),
    "rmsprop": _RMSprop(),
    "adagrad": _Adagrad(),
    "adamax": _Adamax(),
    "nadam": _NAdam(),
    "radam": _RAdam(),
}


__all__ = ["RULES"]
