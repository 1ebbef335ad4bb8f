"""What every API function shares: configs from anything, the run's meta.json, the data."""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from lrsweep.config import Config
from lrsweep.errors import ConfigError
from lrsweep.run.store import RETRAIN_ID  # noqa: F401  the retrain's variant id, in events and on disk

DEFAULT_OUT = Path("runs")  # the folder in which commands create their run directories
ConfigLike = str | Path | Mapping | Config
Overrides = Mapping[str, Any] | Sequence[str] | None


def to_json(data: Any) -> str:
    """``--json``'s text: tuples as lists, non-finite floats as null, indented."""
    import json

    from lrsweep.run.files import to_plain

    return json.dumps(to_plain(data), indent=2)


def override_items(overrides: Overrides) -> list[str]:
    """``{"train.epochs": 2}`` or ``["train.epochs=2"]`` as ``dotted.key=value`` strings (values as YAML)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a dict or a list of 'key=value' strings, got the string {overrides!r}")
    if isinstance(overrides, Mapping):
        return [f"{key}={_yaml_value(value)}" for key, value in overrides.items()]
    return [str(item) for item in overrides]


def _yaml_value(value: Any) -> str:
    """A Python value as YAML text that reads back as the same value (1e-05 stays a float)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan")
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf)
    return text.removesuffix("\n...\n").strip()


def load_config_any(config: ConfigLike, overrides: Overrides = None) -> Config:
    """A validated :class:`Config` from a YAML path, a dict (validated like a file) or a Config.

    Args:
        config: path to a YAML file, a mapping with the file's keys, or a Config.
        overrides: ``{"train.epochs": 2}`` or ``["train.epochs=2"]``, applied before validation.

    Raises:
        ConfigError: naming the key (and the file, for a path).
    """
    from lrsweep.config import apply_overrides, load_config, parse_config

    items = override_items(overrides)
    if isinstance(config, Config):
        return parse_config(apply_overrides(config.to_dict(), items), source=config.source) if items else config
    if isinstance(config, Mapping):
        return parse_config(apply_overrides(dict(config), items), source=None)
    if isinstance(config, (str, Path)):
        return load_config(Path(config), items)
    raise ConfigError(f"config must be a path, a dict or a Config, got {type(config).__name__}")


def raw_config(config: ConfigLike, overrides: Overrides = None) -> tuple[dict, str]:
    """The config as a plain mapping (overrides applied, not validated) and where it came from."""
    from lrsweep.config import apply_overrides, read_yaml

    items = override_items(overrides)
    if isinstance(config, Config):
        return apply_overrides(config.to_dict(), items), config.source or "a Config"
    if isinstance(config, Mapping):
        return apply_overrides(dict(config), items), "a dict"
    return apply_overrides(read_yaml(Path(config)), items), str(config)


def load_splits(config):
    """The dataset of ``config``, split with its first seed (the same split for every seed).

    Downloads are announced through the ``lrsweep.data.download`` logger. A config of your own code
    (``command:``, ``function:``) has no data of lrsweep's: what needs lrsweep's own loop (``find``, ``schedule``)
    is refused here, before anything is made.
    """
    from lrsweep.errors import UsageError
    from lrsweep.sweep.executors.base import load_data  # the loader worker processes and Ray tasks use too

    if config.kind != "engine":
        raise UsageError(
            f"this config trains with your own {config.kind}, which loads its own data and model: the range test "
            "and schedule experiments need lrsweep's own training loop. Use  lrsweep tune  (it searches the span "
            "of lr) or  lrsweep grid"
        )
    return load_data(config)


def git_state() -> dict:
    """The commit of the working directory's repository, and whether its tree was dirty."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5)
        return {"git_sha": sha.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {}


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def finish_meta(store, outcome: str) -> None:
    """meta.json gets the end time and how the run ended (finished | interrupted)."""
    meta = store.read_meta()
    meta["finished"] = now()
    meta["outcome"] = outcome
    store.write_meta(meta)


def run_meta(config, device) -> dict:
    """meta.json: what ran, where, on which versions (no fingerprint without a config: find on your own model)."""
    import torch

    from lrsweep._version import __version__
    from lrsweep.engine.device import describe_device

    return {
        "command": sys.argv,
        "cwd": os.getcwd(),
        "started": now(),
        "host": socket.gethostname(),
        **({"fingerprint": config.fingerprint()} if config is not None else {}),
        "device": describe_device(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "lrsweep": __version__,
        },
        **git_state(),
    }
