"""Everything a range test may change in a model, its optimizer and the RNGs, kept and put back bit for bit.

Kept: each parameter and buffer (the same tensor objects: the values are copied back into them, so an
optimizer, a scheduler or a CUDA graph holding them stays valid; non-persistent buffers too), their
gradients (or None) and ``requires_grad`` flags, each module's train/eval mode; the optimizer's
per-parameter state (momentum buffers, Adam moments, step counts), every param group's
hyperparameters (``lr``, ``initial_lr``, ...) and its plain attributes (the ``_opt_called`` flag an LR
scheduler watches); the RNGs: torch's CPU generator, every CUDA device's (once CUDA is initialised),
MPS's, Python's ``random``, numpy's global one (if numpy is loaded), and any ``torch.Generator`` given.
"""

from __future__ import annotations

import copy
import random
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrsweep.errors import UsageError

if TYPE_CHECKING:
    import torch

PLAIN = (bool, int, float, str, type(None))  # optimizer attributes kept by value


def _clone(value: Any) -> Any:
    import torch

    return value.detach().clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value)


def _put_back(holder: dict, key: Any, saved: Any) -> None:
    """``holder[key] = saved``, copying into the tensor already there when it has the same layout (kept alive)."""
    import torch

    current = holder.get(key)
    if isinstance(current, torch.Tensor) and isinstance(saved, torch.Tensor):
        if (current.shape, current.dtype, current.device) == (saved.shape, saved.dtype, saved.device):
            with torch.no_grad():
                current.copy_(saved)
            return
    holder[key] = saved


def _restore_dict(current: dict, saved: dict, keep: frozenset = frozenset()) -> None:
    """``current`` made equal to ``saved`` in place (keys in ``keep`` left alone)."""
    for key in [k for k in current if k not in saved and k not in keep]:
        del current[key]
    for key, value in saved.items():
        _put_back(current, key, value)


@dataclass
class Snapshot:
    """What :meth:`capture` kept; :meth:`restore` puts it back (call it in a ``finally``)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generators: tuple = ()
    tensors: list = field(default_factory=list)  # (module._parameters or _buffers, name, the tensor, its copy)
    flags: list = field(default_factory=list)  # (parameter, requires_grad, its gradient's copy or None)
    modes: list = field(default_factory=list)
    groups: list = field(default_factory=list)  # each param group but its params
    state: dict = field(default_factory=dict)  # the optimizer's state, per parameter
    attributes: dict = field(default_factory=dict)  # the optimizer's plain attributes
    rng: dict = field(default_factory=dict)

    @classmethod
    def capture(cls, model, optimizer, generators=(), device=None) -> Snapshot:
        """Copy everything listed in the module docstring (``device``: whose RNG to keep besides the CPU's)."""
        snap = cls(model, optimizer, tuple(g for g in generators if g is not None))
        snap._capture_model()
        snap.groups = [{k: _clone(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        snap.state = {p: {k: _clone(v) for k, v in s.items()} for p, s in optimizer.state.items()}
        snap.attributes = {k: v for k, v in vars(optimizer).items() if isinstance(v, PLAIN)}
        snap.rng = _rng_states(snap.generators, device)
        return snap

    def _capture_model(self) -> None:
        from torch.nn.parameter import is_lazy

        copies: dict[int, Any] = {}  # tied weights are copied once
        for module in self.model.modules():
            for holder in (module._parameters, module._buffers):
                for name, tensor in holder.items():
                    if tensor is not None and is_lazy(tensor):
                        raise UsageError(
                            f"{type(module).__name__}.{name} is not initialised yet (a lazy module): "
                            "run one forward pass before the range test"
                        )
                    if tensor is not None and id(tensor) not in copies:
                        copies[id(tensor)] = tensor.detach().clone()
                    self.tensors.append((holder, name, tensor, None if tensor is None else copies[id(tensor)]))
        unique = {id(p): p for p in self.model.parameters()}.values()
        self.flags = [(p, p.requires_grad, None if p.grad is None else p.grad.detach().clone()) for p in unique]
        self.modes = [m.training for m in self.model.modules()]

    def restore(self) -> None:
        """Put everything back."""
        import torch

        with torch.no_grad():
            for holder, name, tensor, saved in self.tensors:
                holder[name] = tensor
                if tensor is not None:
                    tensor.copy_(saved)
        for param, requires_grad, grad in self.flags:
            param.requires_grad_(requires_grad)
            param.grad = grad
        for module, training in zip(self.model.modules(), self.modes):
            module.training = training
        self._restore_optimizer()
        _set_rng_states(self.rng, self.generators)

    def _restore_optimizer(self) -> None:
        optimizer = self.optimizer
        del optimizer.param_groups[len(self.groups) :]  # a group added during the test goes
        for group, saved in zip(optimizer.param_groups, self.groups):
            _restore_dict(group, saved, keep=frozenset({"params"}))
        for key in [k for k in optimizer.state if k not in self.state]:
            del optimizer.state[key]
        for key, saved in self.state.items():
            _restore_dict(optimizer.state.setdefault(key, {}), saved)
        for name in [k for k, v in vars(optimizer).items() if isinstance(v, PLAIN) and k not in self.attributes]:
            delattr(optimizer, name)
        for name, value in self.attributes.items():
            setattr(optimizer, name, value)


def _rng_states(generators: tuple, device) -> dict:
    import torch

    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "generators": [g.get_state() for g in generators],
    }
    if "numpy" in sys.modules:  # only if something loaded it; the test itself never needs numpy
        states["numpy"] = sys.modules["numpy"].random.get_state()
    if (device is not None and device.type == "cuda") or torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if device is not None and device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def _set_rng_states(states: dict, generators: tuple) -> None:
    import torch

    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    for generator, state in zip(generators, states["generators"]):
        generator.set_state(state)
    if "numpy" in states:
        sys.modules["numpy"].random.set_state(states["numpy"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])
    if "mps" in states:
        torch.mps.set_rng_state(states["mps"])
