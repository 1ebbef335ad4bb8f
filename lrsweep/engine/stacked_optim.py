"""Per-variant optimizer updates for a pack: every parameter is stacked as ``[K, *shape]``.

``StackedOptimizer`` reproduces ``torch.optim`` (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, NAdam,
RAdam) for K
variants at once, each with its own hyper-parameters.  The arithmetic mirrors torch's
single-tensor implementations operation by operation; scalar hyper-parameters are computed in
Python doubles exactly as torch does, then cast once to the parameters' dtype.  A value all
variants share stays a Python number (torch's own code path); values that differ become a
``[K, 1, ...]`` tensor that broadcasts over the stacked parameters.  The per-optimizer maths lives in
:mod:`lrsweep.engine.stacked_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from lrsweep.engine.stacked_ops import Broadcast
from lrsweep.engine.stacked_rules import RULES
from lrsweep.errors import VectorizeError
from lrsweep.optim import trial_optimizer
from lrsweep.registry import unknown_message

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
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
        name: a key of OPTIMIZERS (any case).
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
                raise VectorizeError(
                    f"stacked parameter of shape {tuple(p.shape)} has no leading dimension of {self.k} variants"
                )
        self._proxies = [self._proxy(dict(h)) for h in hparams]
        self.hp = _resolve(self._proxies)  # name -> one value per variant
        self.steps = [0] * self.k  # per-variant step counts
        self.started = [False] * self.k  # per variant: SGD's momentum buffer holds a value
        self.rule = RULES[key]
        self.scalar_state = {n: [v] * self.k for n, v in self.rule.scalar_state.items()}  # per variant
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
            proxy = trial_optimizer(self.cls, **hparams)  # never steps: built without torch._dynamo
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
    def step(self, active: Tensor | Sequence[bool] | None = None, keep: Tensor | None = None) -> None:
        """One update of every active variant; inactive variants' parameters and state stay unchanged.

        Args:
            active: a boolean per variant, or None for all.  Inactive variants' gradients are never read,
                so NaNs in them cannot leak.  Read on the host (a device sync when it is a GPU tensor).
            keep: a boolean tensor per variant on the parameters' device, never read on the host: every
                variant is updated, then those where it is False get their parameters and state back.
                Their step counts still advance, so use it only for variants about to leave the pack.
        """
        if keep is not None and active is not None:
            raise ValueError("pass either active or keep, not both")
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
        advanced = self.rule.advance(hp, steps)
        hp.update({f"_{n}": v for n, v in advanced.items()})
        scalars = self.rule.scalars(hp, steps)
        like = params[0]
        values = {n: self._as_value(n, v, like) for n, v in scalars.items()}
        for j, (p, g) in enumerate(zip(params, grads)):
            view = Broadcast(values, p.dim())
            tensors = {s: t[j] for s, t in state.items()}
            saved = [t.clone() for t in (p, *tensors.values())] if keep is not None else []
            self.rule.update(p, g, tensors, view)
            if keep is not None:
                _restore([p, *tensors.values()], saved, keep)
        if idx is not None:
            self._scatter(live, idx, params, state)
        for k, started in zip(members, self.rule.started(hp)):
            self.steps[k] += 1
            self.started[k] = started
        for n, per_member in advanced.items():
            for k, value in zip(members, per_member):
                self.scalar_state[n][k] = value

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
        self.scalar_state = {n: [v[k] for k in keep] for n, v in self.scalar_state.items()}
        self._proxies = [self._proxies[k] for k in keep]
        self.k = len(keep)
        self._cache.clear()

    def _subset(self, idx: list[int] | None) -> dict[str, list]:
        """Hyper-parameters (and ``_started`` flags) of the variants at ``idx`` (all when None)."""
        hp = dict(self.hp, _started=self.started, **{f"_{n}": v for n, v in self.scalar_state.items()})
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


def _restore(tensors: list[Tensor], saved: list[Tensor], keep: Tensor) -> None:
    """Put ``saved`` back into ``tensors`` for the variants where ``keep`` is False (no host sync)."""
    for t, old in zip(tensors, saved):
        t.copy_(torch.where(keep.view(-1, *([1] * (t.dim() - 1))), t, old))


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


__all__ = ["StackedOptimizer", "VectorizeError", "OPTIMIZERS", "supports"]
