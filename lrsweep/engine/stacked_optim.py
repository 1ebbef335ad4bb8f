"""Per-variant optimizer updates for a pack: every parameter is stacked as ``[K, *shape]``.

``StackedOptimizer`` reproduces ``torch.optim`` (SGD, Adam, AdamW, RMSprop, Adagrad) for K
variants at once, each with its own hyper-parameters.  The arithmetic mirrors torch's
single-tensor implementations operation by operation; scalar hyper-parameters are computed in
Python doubles exactly as torch does, then cast once to the parameters' dtype.  A value all
variants share stays a Python number (torch's own code path); values that differ become a
``[K, 1, ...]`` tensor that broadcasts over the stacked parameters.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from lrsweep.errors import VectorizeError  # re-exported: stacked_models imports it from here
from lrsweep.registry import unknown_message

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
# Options that choose an implementation, not the maths: accepted and ignored.
IGNORED_OPTIONS = ("foreach", "fused", "capturable")
# Options a stacked update cannot honour.
REFUSED_OPTIONS = {"differentiable": False}
# Hyper-parameters a scheduler may change on the proxy optimizer (OneCycleLR, CyclicLR).
SCHEDULED = ("lr", "momentum", "betas")


def supports(name: str) -> bool:
    """Whether ``name`` (a torch.optim class name, any case) has a stacked update."""
    return str(name).lower() in OPTIMIZERS


class StackedOptimizer:
    """``torch.optim.<name>`` for K stacked variants, each with its own hyper-parameters.

    Args:
        name: sgd, adam, adamw, rmsprop or adagrad (any case).
        params: stacked parameters, each of shape ``[K, *param_shape]``.
        hparams: ``hparams[k]`` is what variant k would pass to ``torch.optim.<Class>(params, **hparams[k])``.
    """

    def __init__(self, name: str, params: Sequence[Tensor], hparams: Sequence[dict[str, Any]]):
        key = str(name).lower()
        if key not in OPTIMIZERS:
            raise VectorizeError(unknown_message("stacked optimizer", name, OPTIMIZERS))
        if not hparams:
            raise VectorizeError("a pack needs at least one variant")
        self.name = key
        self.cls = OPTIMIZERS[key]
        self.params = list(params)
        self.k = len(hparams)
        for p in self.params:
            if p.dim() == 0 or p.shape[0] != self.k:
                raise VectorizeError(f"stacked parameter of shape {tuple(p.shape)} has no leading dimension "
                                     f"of {self.k} variants")
        self._proxies = [self._proxy(dict(h)) for h in hparams]
        self.hp = _resolve(self._proxies)  # name -> one value per variant
        self.steps = [0] * self.k  # per-variant step counts
        self.started = [False] * self.k  # per variant: SGD's momentum buffer holds a value
        self.rule = RULES[key]
        self.state: dict[str, list[Tensor]] = {}
        self._cache: dict[tuple, Any] = {}
        self._ensure_state()

    def _ensure_state(self) -> None:
        """Allocate the state the current hyper-parameters need (a schedule may switch momentum on later)."""
        for s in self.rule.state_names(self.hp):
            if s not in self.state:
                self.state[s] = [_init_state(s, p, self.hp) for p in self.params]

    def _proxy(self, hparams: dict[str, Any]) -> torch.optim.Optimizer:
        for opt in IGNORED_OPTIONS:
            hparams.pop(opt, None)
        for opt, allowed in REFUSED_OPTIONS.items():
            if hparams.get(opt, allowed) != allowed:
                raise VectorizeError(f"{self.cls.__name__}({opt}={hparams[opt]!r}) cannot be vectorized")
        try:
            proxy = self.cls([torch.zeros(1, requires_grad=True)], **hparams)
        except (TypeError, ValueError) as exc:
            raise VectorizeError(f"{self.cls.__name__}{hparams}: {exc}") from None
        # The pack steps in place of the proxy; tell torch's schedulers so they don't warn about order.
        proxy._opt_called = True  # type: ignore[attr-defined]
        return proxy

    def proxy_optimizers(self) -> list[torch.optim.Optimizer]:
        """One real torch optimizer per variant, over a dummy parameter, for its scheduler to drive."""
        return self._proxies

    @property
    def lr(self) -> list[float]:
        """The per-variant learning rates used by the next step."""
        return list(self.hp["lr"])

    def set_lr(self, lrs: Sequence[float]) -> None:
        if len(lrs) != self.k:
            raise ValueError(f"expected {self.k} learning rates, got {len(lrs)}")
        self.hp["lr"] = [float(v) for v in lrs]

    def read_proxies(self) -> None:
        """Copy lr (and momentum/betas, which cyclic schedules move) from each proxy's param group."""
        groups = [p.param_groups[0] for p in self._proxies]
        for name in SCHEDULED:
            if name in groups[0]:
                values = [g[name] for g in groups]
                if name == "betas":
                    self.hp["beta1"] = [float(b[0]) for b in values]
                    self.hp["beta2"] = [float(b[1]) for b in values]
                else:
                    self.hp[name] = [float(v) for v in values]

    @torch.no_grad()
    def step(self, active: Tensor | Sequence[bool] | None = None) -> None:
        """One update of every active variant; inactive variants' parameters and state stay unchanged.

        Args:
            active: a boolean per variant, or None for all.  Inactive variants' gradients are never read,
                so NaNs in them cannot leak.
        """
        idx = _active_index(active, self.k)
        if idx is not None and not idx:
            return
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        self._ensure_state()
        members = idx if idx is not None else list(range(self.k))
        steps = [self.steps[k] + 1 for k in members]
        params, grads, state = self._gather(live, idx)
        hp = self._subset(idx)
        scalars = self.rule.scalars(hp, steps)
        like = params[0]
        values = {n: self._as_value(n, v, like) for n, v in scalars.items()}
        for j, (p, g) in enumerate(zip(params, grads)):
            view = _Broadcast(values, p.dim())
            self.rule.update(p, g, {s: t[j] for s, t in state.items()}, view)
        if idx is not None:
            self._scatter(live, idx, params, state)
        for k, started in zip(members, self.rule.started(hp)):
            self.steps[k] += 1
            self.started[k] = started

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def compact(self, keep: Sequence[int], params: Sequence[Tensor]) -> None:
        """Drop every variant not in ``keep`` (state, hyper-parameters, proxies); ``params`` are the kept stacks."""
        keep = list(keep)
        index = torch.tensor(keep, dtype=torch.long, device=self.params[0].device)
        self.params = list(params)
        self.state = {s: [t.index_select(0, index) for t in ts] for s, ts in self.state.items()}
        self.hp = {n: [v[k] for k in keep] for n, v in self.hp.items()}
        self.steps = [self.steps[k] for k in keep]
        self.started = [self.started[k] for k in keep]
        self._proxies = [self._proxies[k] for k in keep]
        self.k = len(keep)
        self._cache.clear()

    def _subset(self, idx: list[int] | None) -> dict[str, list]:
        """Hyper-parameters (and ``_started`` flags) of the variants at ``idx`` (all when None)."""
        hp = dict(self.hp, _started=self.started)
        if idx is None:
            return hp
        return {n: [v[k] for k in idx] for n, v in hp.items()}

    def _gather(self, live: list[int], idx: list[int] | None):
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        state = {s: [ts[i] for i in live] for s, ts in self.state.items()}
        if idx is None:
            return params, grads, state
        index = torch.tensor(idx, dtype=torch.long, device=params[0].device)
        pick = lambda ts: [t.index_select(0, index) for t in ts]  # noqa: E731
        return pick(params), pick(grads), {s: pick(ts) for s, ts in state.items()}

    def _scatter(self, live: list[int], idx: list[int], params: list[Tensor], state: dict[str, list[Tensor]]) -> None:
        index = torch.tensor(idx, dtype=torch.long, device=params[0].device)
        for j, i in enumerate(live):
            self.params[i].index_copy_(0, index, params[j])
            for s, ts in state.items():
                self.state[s][i].index_copy_(0, index, ts[j])

    def _as_value(self, name: str, values: list, like: Tensor) -> Any:
        """A Python number when every variant agrees, else a ``[K]`` tensor on ``like``'s device (cached)."""
        key = (name, tuple(values))
        if key in self._cache:
            return self._cache[key]
        if all(v == values[0] for v in values):
            value = values[0]
        else:
            dtype = torch.bool if isinstance(values[0], bool) else like.dtype
            value = _to_device(torch.tensor(values, dtype=torch.float64).to(dtype), like.device)
        if len(self._cache) > 256:  # lr changes every step under a schedule: keep the cache small
            self._cache.clear()
        self._cache[key] = value
        return value


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """Cast on the CPU (mps has no float64); copy to CUDA from pinned memory, so the host doesn't wait."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _active_index(active: Tensor | Sequence[bool] | None, k: int) -> list[int] | None:
    """None when every variant is active, else the active indices."""
    if active is None:
        return None
    flags = active.tolist() if isinstance(active, Tensor) else list(active)
    if len(flags) != k:
        raise ValueError(f"active mask has {len(flags)} entries for {k} variants")
    if all(flags):
        return None
    return [i for i, f in enumerate(flags) if f]


def _resolve(proxies: list[torch.optim.Optimizer]) -> dict[str, list]:
    """Per-variant hyper-parameters, read back from each proxy's (validated, defaulted) param group."""
    groups = [p.param_groups[0] for p in proxies]
    hp: dict[str, list] = {}
    skip = {"params", "foreach", "fused", "capturable", "differentiable", "initial_lr"}
    for name in groups[0]:
        if name in skip:
            continue
        values = [g[name] for g in groups]
        if name == "betas":
            hp["beta1"] = [float(b[0]) for b in values]
            hp["beta2"] = [float(b[1]) for b in values]
        elif isinstance(values[0], bool):
            hp[name] = [bool(v) for v in values]
        elif isinstance(values[0], (int, float, Tensor)):
            hp[name] = [float(v) for v in values]
    return hp


def _init_state(name: str, p: Tensor, hp: dict[str, list]) -> Tensor:
    if name == "sum":  # Adagrad's accumulator starts at initial_accumulator_value, per variant
        init = torch.tensor(hp["initial_accumulator_value"], dtype=p.dtype, device=p.device)
        return init.view(-1, *([1] * (p.dim() - 1))).expand_as(p).clone().detach()
    return torch.zeros_like(p, memory_format=torch.preserve_format).detach()


class _Broadcast:
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


def _axpy_(y: Tensor, x: Tensor, a: Any) -> Tensor:
    """y += a * x in place."""
    return y.add_(x, alpha=a) if not isinstance(a, Tensor) else y.addcmul_(x, a)


def _axpy(y: Tensor, x: Tensor, a: Any) -> Tensor:
    """y + a * x."""
    return y.add(x, alpha=a) if not isinstance(a, Tensor) else torch.addcmul(y, x, a)


def _addcmul_(y: Tensor, x1: Tensor, x2: Tensor, value: Any) -> Tensor:
    """y += value * x1 * x2 (torch evaluates (value * x1) * x2)."""
    return y.addcmul_(x1, x2, value=value) if not isinstance(value, Tensor) else y.addcmul_(x1 * value, x2)


def _addcdiv_(y: Tensor, x1: Tensor, x2: Tensor, value: Any) -> Tensor:
    """y += value * x1 / x2 (torch evaluates (value * x1) / x2)."""
    return y.addcdiv_(x1, x2, value=value) if not isinstance(value, Tensor) else y.addcdiv_(x1 * value, x2)


def _pick(flag: Any, if_true: Callable[[], Tensor], if_false: Callable[[], Tensor]) -> Tensor:
    """Per-variant branch: a uniform flag takes one branch, a mixed one selects with torch.where."""
    if isinstance(flag, Tensor):
        return torch.where(flag, if_true(), if_false())
    return if_true() if flag else if_false()


def _any(values: list, pred: Callable[[Any], bool]) -> bool:
    return any(pred(v) for v in values)


def _maybe_negate(g: Tensor, maximize: Any) -> Tensor:
    return _pick(maximize, lambda: -g, lambda: g) if not (maximize is False) else g


# ---- the update rules, one per optimizer ----


class _Rule:
    """One optimizer's maths: which state it keeps, its per-step scalars, its per-parameter update."""

    def state_names(self, hp: dict[str, list]) -> list[str]:
        raise NotImplementedError

    def scalars(self, hp: dict[str, list], steps: list[int]) -> dict[str, list]:
        raise NotImplementedError

    def update(self, p: Tensor, g: Tensor, state: dict[str, Tensor], v: _Broadcast) -> None:
        raise NotImplementedError

    def started(self, hp: dict[str, list]) -> list[bool]:
        """Per variant, after a step: does SGD's momentum buffer now hold a value (torch creates it lazily)."""
        return hp["_started"]


class _SGD(_Rule):
    def state_names(self, hp):
        return ["momentum_buffer"] if _any(hp["momentum"], lambda m: m != 0) else []

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
        g = _maybe_negate(g, v("maximize"))
        if not _is_zero(v("wd")):
            g = _axpy(g, p, v("wd"))
        if "momentum_buffer" in state:
            buf = state["momentum_buffer"]
            _momentum_(buf, g, v("momentum"), v("one_minus_dampening"), v("first"))
            m = v("momentum")
            step = _pick(v("nesterov"), lambda: _axpy(g, buf, m), lambda: buf)
            step = _pick(v("momentum_on"), lambda: step, lambda: g)
        else:
            step = g
        _axpy_(p, step, v("neg_lr"))


def _momentum_(buf: Tensor, g: Tensor, m: Any, one_minus_d: Any, first: Any) -> None:
    """SGD's buffer: a copy of the gradient on a variant's first step, then buf * m + (1 - d) * g."""
    if first is True:
        buf.copy_(g)
        return
    if first is False:
        _axpy_(buf.mul_(m), g, one_minus_d)
        return
    buf.copy_(torch.where(first, g, _axpy(buf * m, g, one_minus_d)))


class _Adam(_Rule):
    def __init__(self, decoupled: bool):
        self.decoupled = decoupled

    def state_names(self, hp):
        names = ["exp_avg", "exp_avg_sq"]
        return names + (["max_exp_avg_sq"] if _any(hp["amsgrad"], bool) else [])

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
        g = _maybe_negate(g, v("maximize"))
        if not _is_one(v("decay")):
            p.mul_(v("decay"))
        if not _is_zero(v("wd")):
            g = _axpy(g, p, v("wd"))
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(g, v("one_minus_beta1"))
        _addcmul_(exp_avg_sq.mul_(v("beta2")), g, g, v("one_minus_beta2"))
        if "max_exp_avg_sq" in state:
            mx = state["max_exp_avg_sq"]
            torch.maximum(mx, exp_avg_sq, out=mx)  # only read by variants with amsgrad
            second = _pick(v("amsgrad"), lambda: mx, lambda: exp_avg_sq)
        else:
            second = exp_avg_sq
        denom = (second.sqrt() / v("bc2_sqrt")).add_(v("eps"))
        _addcdiv_(p, exp_avg, denom, v("neg_step_size"))


class _RMSprop(_Rule):
    def state_names(self, hp):
        names = ["square_avg"]
        if _any(hp["momentum"], lambda m: m > 0):
            names.append("momentum_buffer")
        if _any(hp["centered"], bool):
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
        g = _maybe_negate(g, v("maximize"))
        if not _is_zero(v("wd")):
            g = _axpy(g, p, v("wd"))
        square_avg = state["square_avg"]
        _addcmul_(square_avg.mul_(v("alpha")), g, g, v("one_minus_alpha"))
        if "grad_avg" in state:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(g, v("one_minus_alpha"))
            avg = _pick(v("centered"), lambda: square_avg.addcmul(grad_avg, grad_avg, value=-1), lambda: square_avg)
            avg = avg.sqrt()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(v("eps"))
        if "momentum_buffer" in state:
            buf = state["momentum_buffer"]
            buf.mul_(v("momentum")).addcdiv_(g, avg)
            if v("momentum_on") is True:
                _axpy_(p, buf, v("neg_lr"))
            else:  # mixed: variants without momentum take torch's addcdiv step
                with_buf, without = _axpy(p, buf, v("neg_lr")), torch.addcdiv(p, g * v("neg_lr"), avg)
                p.copy_(torch.where(v("momentum_on"), with_buf, without))
        else:
            _addcdiv_(p, g, avg, v("neg_lr"))


class _Adagrad(_Rule):
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
        g = _maybe_negate(g, v("maximize"))
        if not _is_zero(v("wd")):
            g = _axpy(g, p, v("wd"))
        state_sum = state["sum"]
        state_sum.addcmul_(g, g, value=1)
        std = state_sum.sqrt().add_(v("eps"))
        _addcdiv_(p, g, std, v("neg_clr"))


def _is_zero(v: Any) -> bool:
    return not isinstance(v, Tensor) and v == 0


def _is_one(v: Any) -> bool:
    return not isinstance(v, Tensor) and v == 1


RULES: dict[str, _Rule] = {
    "sgd": _SGD(),
    "adam": _Adam(decoupled=False),
    "adamw": _Adam(decoupled=True),
    "rmsprop": _RMSprop(),
    "adagrad": _Adagrad(),
}

__all__ = ["StackedOptimizer", "VectorizeError", "OPTIMIZERS", "supports"]
