"""Device resolution: ``auto | cpu | cuda | cuda:N | mps`` -> a usable ``torch.device``."""

from __future__ import annotations

import re

import torch

from lrsweep.errors import ConfigError

_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def resolve_device(name: str, key: str = "device") -> torch.device:
    """The device to train on; asking for one this machine lacks is a config error."""
    if not _PATTERN.match(name):
        raise ConfigError(f"got {name!r} (valid: auto, cpu, cuda, cuda:N, mps)", key=key)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"got {name!r} but CUDA is not available on this machine (use cpu or auto)", key=key)
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"got {name!r} but this machine has {torch.cuda.device_count()} CUDA device(s)", key=key)
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("got 'mps' but MPS is not available on this machine", key=key)
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
