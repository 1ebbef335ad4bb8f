"""Mixed precision, gradient clipping and torch.compile for both engines.

``train.precision``: ``32`` (fp32), ``bf16-mixed`` (autocast to bfloat16; no scaling needed),
``16-mixed`` (autocast to float16 with dynamic loss scaling, CUDA only), ``auto`` (bf16-mixed on a
CUDA device that has bf16, else 32). Only the training forward pass and loss run under autocast;
parameters, optimizer state and gradients stay fp32, and evaluation runs in fp32 with autocast off,
so validation metrics compare across precisions.

The sequential engine uses torch's own ``GradScaler`` and ``clip_grad_norm_``. A pack keeps one loss
scale per variant (:class:`PackAmp`): one variant's overflow skips only that variant's step and halves
only its scale, as K separate GradScalers would; clipping uses each variant's own gradient norm.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from lrsweep.config import PRECISIONS, parse_precision  # noqa: F401 - the values, validated in config
from lrsweep.errors import ConfigError

DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
# torch.amp.GradScaler's defaults, which PackAmp reproduces per variant
INIT_SCALE, GROWTH_FACTOR, BACKOFF_FACTOR, GROWTH_INTERVAL = 2.0**16, 2.0, 0.5, 2000
CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6)
COMPILE_BACKEND = "inductor"  # torch.compile's default backend (tests swap in "eager")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """What ``auto`` means on ``device``; other values as given."""
    device = torch.device(device)
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32"


def check_device(precision: str, device: torch.device | str, key: str = "train.precision") -> None:
    """Refuse what ``device`` cannot do: fp16 mixed precision anywhere but CUDA."""
    device = torch.device(device)
    if precision == "16-mixed" and device.type != "cuda":
        raise ConfigError(
            f"16-mixed (fp16 with loss scaling) needs a CUDA device, not {device.type}; use bf16-mixed or 32", key=key
        )


def check_devices(precision: str, devices, key: str = "train.precision") -> None:
    """:func:`check_device` for every device a sweep trains on (before any run directory is made)."""
    for device in devices:
        check_device(precision, device, key)


def compile_obstacle(device: torch.device | str) -> str | None:
    """Why torch.compile cannot run on ``device`` here, or None when it can."""
    device = torch.device(device)
    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "torch.compile on CUDA needs triton, which is not installed"
    elif device.type == "cpu":
        if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
            return "torch.compile on the CPU needs a C++ compiler (g++ or clang++), none found"
    else:
        return f"torch.compile is not supported on {device.type}"
    return None


def maybe_compile(fn: Callable, enabled: bool, device: torch.device | str) -> Callable:
    """``torch.compile(fn)`` when asked and possible here, else ``fn`` (the runner says why)."""
    if not enabled or compile_obstacle(device):
        return fn
    return torch.compile(fn, backend=COMPILE_BACKEND)


def notices(precision: str, compile_: bool, device: torch.device | str) -> list[str]:
    """What a sweep should tell its user before training (the engines stay silent)."""
    out = []
    if compile_:
        reason = compile_obstacle(device)
        if reason:
            out.append(f"train.compile: running without torch.compile: {reason}")
    if precision == "auto":
        out.append(f"train.precision auto: {resolve_precision(precision, device)} on {torch.device(device)}")
    return out


def autocast(precision: str, device: torch.device):
    """The autocast context of the training forward pass (a no-op in fp32)."""
    if precision not in DTYPES:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


class Amp:
    """One model's training step in the configured precision, with optional gradient clipping.

    ``backward(loss)`` then ``step(optimizer)``; the step is skipped (as GradScaler does) when an fp16
    gradient overflowed.
    """

    def __init__(
        self, precision: str, device: torch.device, grad_clip: float | None, params: Callable[[], Iterable[Tensor]]
    ):
        self.precision = resolve_precision(precision, device)
        check_device(self.precision, device)
        self.device, self.grad_clip, self.params = device, grad_clip, params
        self.scaler = torch.amp.GradScaler(device.type) if self.precision == "16-mixed" else None

    def autocast(self):
        return autocast(self.precision, self.device)

    def backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(list(self.params()), self.grad_clip)
            optimizer.step()
            return
        if self.grad_clip is not None:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(list(self.params()), self.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()


class PackAmp:
    """A pack's precision: per-variant loss scales (fp16) and per-variant gradient clipping.

    Args:
        precision: the configured ``train.precision``.
        device: where the pack trains.
        k: variants in the pack.
        grad_clip: max norm of each variant's own gradient (over its slices of the stacked params), or None.
    """

    def __init__(self, precision: str, device: torch.device, k: int, grad_clip: float | None):
        self.precision = resolve_precision(precision, device)
        check_device(self.precision, device)
        self.device, self.grad_clip = device, grad_clip
        self.scaling = self.precision == "16-mixed"
        self.scale = torch.full((k,), INIT_SCALE, device=device)
        self.growth = torch.zeros(k, dtype=torch.int64, device=device)

    def autocast(self):
        return autocast(self.precision, self.device)

    def scaled(self, losses: Tensor) -> Tensor:
        """Per-variant losses ``[K]``, each times its variant's scale when fp16 scaling is on."""
        return losses * self.scale if self.scaling else losses

    def unscale_and_clip(self, params: list[Tensor], keep: Tensor) -> Tensor | None:
        """Unscale and clip the stacked gradients in place.

        Returns None without fp16 scaling; else the variants that may step (``keep`` and finite
        gradients), after backing off the scale of those that overflowed and growing the others'.
        """
        grads = [p.grad for p in params if p.grad is not None]
        active = None
        if self.scaling:
            inv = self.scale.double().reciprocal().float()
            for g in grads:
                g.mul_(_per_variant(inv, g))
            finite = torch.stack([torch.isfinite(g.flatten(1)).all(dim=1) for g in grads]).all(dim=0)
            self._update(finite)
            active = keep & finite
        if self.grad_clip is not None and grads:
            clip_per_variant_(grads, self.grad_clip)
        return active

    def _update(self, finite: Tensor) -> None:
        """GradScaler.update, per variant: back off on overflow, grow after GROWTH_INTERVAL clean steps."""
        self.growth = torch.where(finite, self.growth + 1, torch.zeros_like(self.growth))
        grow = self.growth >= GROWTH_INTERVAL
        self.scale = torch.where(
            finite, torch.where(grow, self.scale * GROWTH_FACTOR, self.scale), self.scale * BACKOFF_FACTOR
        )
        self.growth = torch.where(grow, torch.zeros_like(self.growth), self.growth)

    def compact(self, keep: Tensor) -> None:
        """Keep only the variants at positions ``keep`` (a long tensor on the device)."""
        self.scale, self.growth = self.scale[keep], self.growth[keep]


def clip_per_variant_(grads: list[Tensor], max_norm: float) -> Tensor:
    """``clip_grad_norm_`` for each variant of stacked gradients ``[K, ...]``; returns the norms ``[K]``."""
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
    total = torch.linalg.vector_norm(norms, dim=0)
    coef = torch.clamp(max_norm / (total + CLIP_EPS), max=1.0)
    for g in grads:
        g.mul_(_per_variant(coef, g))
    return total


def _per_variant(values: Tensor, like: Tensor) -> Tensor:
    return values.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)
