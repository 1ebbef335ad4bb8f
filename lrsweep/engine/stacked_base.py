"""What every stacked pack shares: the :class:`StackedModel` interface, the generic vmap path
(:class:`FuncStack`, whose parameter layout :class:`~lrsweep.engine.stacked_resnet.ResNetStack` reuses),
and the memory format the grouped convolutions run in.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

CONV_FORMAT = torch.channels_last


class StackedModel:
    """The stacked leaves of K models and a forward over all of them."""

    names: list[str]
    params: list[Tensor]
    training: bool = True
    autocast_ok: bool = True  # whether autocast reaches the ops of forward (not through vmap)

    @property
    def k(self) -> int:
        return self.params[0].shape[0]

    def train(self, mode: bool = True) -> StackedModel:
        self.training = mode
        return self

    def forward(self, x: Tensor, shared: bool) -> Tensor:
        """``x``: one batch ``[B, ...]`` for every variant (``shared``) or ``[K, B, ...]``; returns ``[K, B, out]``."""
        raise NotImplementedError

    def variant_state(self, k: int) -> dict[str, Tensor]:
        """Variant ``k``'s parameters (and buffers), named as in its module's ``state_dict``."""
        return {n: p[k].detach().clone() for n, p in zip(self.names, self.params)}

    def compact(self, keep: Sequence[int]) -> None:
        """Keep only the variants at positions ``keep``; the parameters become new leaves."""
        index = torch.tensor(list(keep), dtype=torch.long, device=self.params[0].device)
        self.params = [p.detach().index_select(0, index).requires_grad_(True) for p in self.params]


class FuncStack(StackedModel):
    """Generic path: ``functional_call`` over the user's module under ``vmap``."""

    autocast_ok = False

    def __init__(self, models: Sequence[nn.Module]):
        self.base = models[0]
        params, buffers = stack_module_state(list(models))
        self.names = list(params)
        self.params = list(params.values())
        self.buffer_names = list(buffers)
        self.buffers = list(buffers.values())

    def train(self, mode: bool = True) -> FuncStack:
        self.training = mode
        self.base.train(mode)
        return self

    def forward(self, x: Tensor, shared: bool) -> Tensor:
        names, buffer_names, base = self.names, self.buffer_names, self.base

        def one(params, buffers, xb):
            return functional_call(base, (dict(zip(names, params)), dict(zip(buffer_names, buffers))), (xb,))

        # randomness="same": one dropout mask for every variant (see stacked_models._same_dropout)
        fn = vmap(one, in_dims=(0, 0, None if shared else 0), randomness="same")
        return fn(self.params, self.buffers, x)

    def variant_state(self, k: int) -> dict[str, Tensor]:
        state = super().variant_state(k)
        state.update({n: b[k].clone() for n, b in zip(self.buffer_names, self.buffers)})
        return state

    def compact(self, keep: Sequence[int]) -> None:
        super().compact(keep)
        index = torch.tensor(list(keep), dtype=torch.long, device=self.params[0].device)
        self.buffers = [b.index_select(0, index) for b in self.buffers]


def conv_input(x: Tensor) -> Tensor:
    """``x`` in CONV_FORMAT memory, so the convolution's output is too (a 1-channel input needs explicit strides)."""
    if x.shape[1] > 1 and x.is_contiguous(memory_format=CONV_FORMAT):
        return x
    return torch.empty_like(x, memory_format=CONV_FORMAT).copy_(x)
