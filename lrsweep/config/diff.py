"""Which keys of two config dicts differ: what a refused ``--resume`` names."""

from __future__ import annotations

import json
from typing import Any


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ, each as ``key: old -> new`` (values shortened)."""
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}{key}"
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += config_diff(a, b, prefix=f"{path}.")
        elif a != b:
            lines.append(f"{path}: {_short(a)} -> {_short(b)}")
    return lines


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
