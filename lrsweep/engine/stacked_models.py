"""K copies of one architecture as one computation: parameters stacked as ``[K, *shape]``.

Two ways to run a pack forward, both mapping inputs to outputs of shape ``[K, B, out]``:

- ``SequentialStack``, the fast path for ``nn.Sequential`` stacks of Linear / Conv2d / pooling /
  Flatten / elementwise layers (lrsweep's linear, mlp and cnn): a layer whose input is shared by
  every variant runs as ONE matmul or convolution with K times the outputs; later layers run as
  batched matmuls (``baddbmm``) or grouped convolutions.
- ``ResNetStack`` (:mod:`lrsweep.engine.stacked_resnet`), lrsweep's resnet as grouped convolutions.
- ``FuncStack`` (:mod:`lrsweep.engine.stacked_base`), for any other module: ``torch.func.functional_call``
  under ``vmap`` (BatchNorm keeps per-variant running statistics).

Dropout draws ONE mask for all variants on both paths: a pack shares one seed, and each variant's own
loop would draw exactly that mask, so a variant's result does not depend on its pack's size or its
place in it (per-variant masks made a variant's loss move by ~1% with the pack).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrsweep.engine.stacked_base import CONV_FORMAT, FuncStack, StackedModel, conv_input
from lrsweep.engine.stacked_resnet import ResNetStack, is_resnet
from lrsweep.errors import VectorizeError

ELEMENTWISE = (
    nn.ReLU,
    nn.Tanh,
    nn.GELU,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.ELU,
    nn.SiLU,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
)
POOLS = (nn.MaxPool2d, nn.AvgPool2d)
PATHS = ("auto", "fast", "vmap")


class SequentialStack(StackedModel):
    """Fast path: an ``nn.Sequential`` of supported layers, run as shared / batched matmuls and grouped convs."""

    def __init__(self, models: Sequence[nn.Sequential]):
        base = models[0]
        unsupported = fast_path_obstacle(base)
        if unsupported:
            raise VectorizeError(unsupported)
        self.layers = list(base)
        self.names, self.params = [], []
        self.slots: list[tuple[int, int] | None] = []  # per layer: indices of (weight, bias) in params
        for i, layer in enumerate(self.layers):
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                w = _stack_leaf(models, i, "weight")
                b = _stack_leaf(models, i, "bias") if layer.bias is not None else None
                self.slots.append((len(self.params), len(self.params) + 1 if b is not None else -1))
                self.names.append(f"{i}.weight")
                self.params.append(w)
                if b is not None:
                    self.names.append(f"{i}.bias")
                    self.params.append(b)
            else:
                self.slots.append(None)

    def forward(self, x: Tensor, shared: bool) -> Tensor:
        h, form = x, ("shared" if shared else "KB")
        hwc = None  # (C, H, W) while features are flattened in H, W, C order (see _flatten)
        for layer, slot in zip(self.layers, self.slots):
            if slot is not None:
                w = self.params[slot[0]]
                b = self.params[slot[1]] if slot[1] >= 0 else None
                if isinstance(layer, nn.Linear):
                    h, form = _linear(h, form, w if hwc is None else _weight_to_hwc(w, hwc), b)
                    hwc = None
                else:
                    assert isinstance(layer, nn.Conv2d), "a slot holds a Linear's or a Conv2d's leaves"
                    h, form = _conv(layer, h, form, w, b)
            elif isinstance(layer, nn.Flatten):
                h, hwc = _flatten(h, form)
            else:
                h, form = self._other(layer, h, form)
        if hwc is not None:  # flattened features reached the output unchanged: back to C, H, W order
            h = h.unflatten(-1, (hwc[1], hwc[2], hwc[0])).movedim(-1, -3).flatten(-3)
        return _to_kb(h, form, self.k)

    def _other(self, layer: nn.Module, h: Tensor, form: str) -> tuple[Tensor, str]:
        if isinstance(layer, nn.Dropout):
            if not self.training or layer.p == 0:
                return h, form
            return _same_dropout(h, form, layer.p), form
        if isinstance(layer, POOLS):
            return _per_channel_map(layer, h, form, self.k), form
        return layer(h), form  # elementwise: any layout


def _same_dropout(h: Tensor, form: str, p: float) -> Tensor:
    """Dropout with one mask for every variant: the mask each variant's own loop draws (a pack shares one
    seed, so they all draw the same), never one that depends on the pack's size or a variant's place in it."""
    if form == "shared":
        return F.dropout(h, p, training=True)
    one = h[:, 0] if form == "BK" else h[0]
    mask = F.dropout(torch.ones_like(one), p, training=True)
    return h * (mask.unsqueeze(1) if form == "BK" else mask.unsqueeze(0))


def _flatten(h: Tensor, form: str) -> tuple[Tensor, tuple[int, int, int] | None]:
    """Flatten per row; stacked images are flattened in (H, W, C) order, free for channels_last memory.

    The next Linear layer permutes its weight to match (a small copy instead of a copy of the
    activations and, in the backward pass, a slow mixed-layout gradient).
    """
    if form == "shared" or h.dim() != 5:
        return h.flatten(1 if form == "shared" else 2), None
    n, k, c, height, width = h.shape
    # Through [n, H, W, K*C], which is how channels_last memory lies: the gradient comes back in that
    # layout too, and pooling's backward stays on its fast path.
    hwkc = h.reshape(n, k * c, height, width).permute(0, 2, 3, 1).reshape(n, height, width, k, c)
    return hwkc.permute(0, 3, 1, 2, 4).reshape(n, k, height * width * c), (c, height, width)


def _weight_to_hwc(w: Tensor, hwc: tuple[int, int, int]) -> Tensor:
    c, height, width = hwc
    return w.unflatten(2, (c, height, width)).permute(0, 1, 3, 4, 2).flatten(2)


def stack_models(models: Sequence[nn.Module], path: str = "auto") -> StackedModel:
    """The fast path when the architecture allows it (and ``path`` is auto or fast), else vmap."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    _check_same_architecture(models)
    if path != "vmap" and is_resnet(models[0]):
        return ResNetStack(models)
    unsupported = fast_path_obstacle(models[0])
    if path == "vmap" or (path == "auto" and unsupported):
        return FuncStack(models)
    if unsupported:  # path "fast" for a model it cannot take
        raise VectorizeError(unsupported)
    # cast: fast_path_obstacle() found models[0] a plain nn.Sequential (a check mypy cannot follow), and a
    # pack's models are one factory's, called once per seed (_check_same_architecture: the same parameters).
    return SequentialStack(cast(Sequence[nn.Sequential], models))


def fast_path_obstacle(model: nn.Module) -> str | None:
    """Why ``model`` cannot take the fast path, or None when it can."""
    if type(model) is not nn.Sequential:
        return f"{type(model).__name__} is not a plain nn.Sequential"
    for i, layer in enumerate(model):
        if isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) != (1, -1):
            return f"layer {i}: Flatten({layer.start_dim}, {layer.end_dim})"
        if isinstance(layer, nn.Conv2d) and (
            layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str)
        ):
            return f"layer {i}: Conv2d with groups/padding_mode/string padding"
        if type(layer) not in (nn.Linear, nn.Conv2d, nn.Flatten, *POOLS, *ELEMENTWISE):
            return f"layer {i}: {type(layer).__name__}"
    return None


def _check_same_architecture(models: Sequence[nn.Module]) -> None:
    first = [(n, p.shape) for n, p in models[0].state_dict().items()]
    for k, m in enumerate(models[1:], start=1):
        if [(n, p.shape) for n, p in m.state_dict().items()] != first:
            raise VectorizeError(f"variant {k}'s model has different parameters from variant 0's")


def _stack(tensors: Sequence[Tensor]) -> Tensor:
    return torch.stack([t.detach() for t in tensors]).requires_grad_(True)


def _stack_leaf(models: Sequence[nn.Sequential], i: int, name: str) -> Tensor:
    """Leaf ``name`` (weight, bias) of layer ``i`` of every model, stacked ``[K, *shape]``."""
    return _stack([getattr(m[i], name) for m in models])


# ---- layouts: "shared" [B, ...] (one input for all), "BK" [B, K, ...], "KB" [K, B, ...] ----


def _to_kb(h: Tensor, form: str, k: int) -> Tensor:
    if form == "KB":
        return h
    if form == "shared":
        return h.unsqueeze(0).expand(k, *h.shape)
    return h.transpose(0, 1)


def _to_bk(h: Tensor, form: str, k: int) -> Tensor:
    if form == "BK":
        return h
    if form == "shared":
        return h.unsqueeze(1).expand(h.shape[0], k, *h.shape[1:])
    return h.transpose(0, 1).contiguous()


def _linear(h: Tensor, form: str, w: Tensor, b: Tensor | None) -> tuple[Tensor, str]:
    k, out_f, in_f = w.shape
    if form == "shared":  # one [B, in] x [in, K*out] product for the whole pack
        y = F.linear(h, w.reshape(k * out_f, in_f), None if b is None else b.reshape(k * out_f))
        return y.view(h.shape[0], k, out_f), "BK"
    h = _to_kb(h, form, k)
    if b is None:
        return torch.bmm(h, w.transpose(1, 2)), "KB"
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)), "KB"


def _conv(layer: nn.Conv2d, h: Tensor, form: str, w: Tensor, b: Tensor | None) -> tuple[Tensor, str]:
    k, out_c, in_c = w.shape[:3]
    stride, padding, dilation = layer.stride, layer.padding, layer.dilation
    bias = None if b is None else b.reshape(k * out_c)
    # channels_last: on CPU the grouped convolution and max-pooling run several times faster in it
    weight = w.reshape(k * out_c, *w.shape[2:]).contiguous(memory_format=CONV_FORMAT)
    if form == "shared":  # one convolution with K times the output channels
        y = F.conv2d(conv_input(h), weight, bias, stride=stride, padding=padding, dilation=dilation)
    else:  # a grouped convolution: variant k's channels only see variant k's filters
        h = _to_bk(h, form, k)
        x = conv_input(h.reshape(h.shape[0], k * in_c, *h.shape[3:]))
        y = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=k)
    return y.view(y.shape[0], k, out_c, *y.shape[2:]), "BK"


def _per_channel_map(layer: nn.Module, h: Tensor, form: str, k: int) -> Tensor:
    """Apply a per-channel spatial op (pooling) to stacked [., ., C, H, W] activations."""
    if form == "shared":
        return layer(h)
    lead = h.shape[:2]
    merged = (lead[0], -1) if form == "BK" else (lead[0] * lead[1], -1)  # views of channels_last memory
    y = layer(h.reshape(*merged, *h.shape[-2:]))
    return y.view(*lead, -1, *y.shape[-2:])
