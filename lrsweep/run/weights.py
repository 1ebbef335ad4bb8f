"""Kept weights: what a ``model.pt`` holds besides the state_dict, and how the module is rebuilt from it.

A ``model.pt`` is a plain dict (loadable with ``torch.load(..., weights_only=True)``): the state_dict,
the model's registry name (or ``package.module:factory``) and options, the input shape and output size
it was built for, the variant it belongs to, and the lrsweep and torch versions that wrote it. Only
:mod:`lrsweep.run.store` reads and writes the file; the engine hands the state back, never writes it.
"""

from __future__ import annotations

from lrsweep.errors import RunDirError

FORMAT = 1  # bumped when the payload's keys change incompatibly
REQUIRED = ("format", "state_dict", "model", "input_shape", "output_size")


def model_payload(spec, variant, state: dict) -> dict:
    """The content of ``model.pt`` for ``variant`` (a ``plan.Variant``) trained under ``spec`` (a TrainSpec)."""
    import torch

    from lrsweep._version import __version__

    return {
        "format": FORMAT,
        "state_dict": state,
        "model": {"name": spec.model_name, "options": dict(spec.model_options)},
        "input_shape": list(spec.input_shape),
        "output_size": int(spec.output_size),
        "loss": spec.loss,
        "epochs": spec.epochs,
        "variant": variant.describe(),
        "versions": {"lrsweep": __version__, "torch": str(torch.__version__)},  # str: TorchVersion is no plain type
    }


def check_payload(payload, where: str) -> dict:
    """``payload`` if it has every key a rebuild needs; else a RunDirError naming ``where``."""
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED):
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise RunDirError(f"{where} is not a model file written by lrsweep (found {keys})")
    if payload["format"] != FORMAT:
        raise RunDirError(f"{where} has model format {payload['format']}, this lrsweep reads format {FORMAT}")
    return payload


def build_module(payload: dict, where: str, device="cpu"):
    """The ``nn.Module`` the payload describes, with its weights loaded, in eval mode, on ``device``."""
    from lrsweep.models import build_model

    model = build_model(
        payload["model"]["name"],
        payload["model"]["options"],
        tuple(payload["input_shape"]),
        payload["output_size"],
        seed=0,
    )
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirError(f"{where}: the weights do not fit model '{payload['model']['name']}': {first}") from None
    return model.to(device).eval()
