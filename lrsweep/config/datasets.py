"""What ``lrsweep datasets`` shows: every dataset, its options, their defaults and meaning (from the factory's
signature and docstring), and the keys every data section shares (from the DataConfig model)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from lrsweep.data import COMMON_KEYS, DATASETS
from lrsweep.registry import signature_defaults

_HIDDEN = ("root", "download")  # passed by lrsweep from the common keys


def describe_datasets() -> dict:
    """``{"common": [...], "datasets": [...]}``: each option as ``{name, default, meaning}``."""
    return {"common": common_keys(), "datasets": [_describe(name, factory) for name, factory in DATASETS]}


def common_keys() -> list[dict]:
    """The keys of every data section: default and description as the DataConfig model declares them."""
    from lrsweep.config.sections import DataConfig, fields_of

    return [
        {"name": name, "default": _text(field.get_default(call_default_factory=True)), "meaning": field.description}
        for name, field in fields_of(DataConfig).items()
        if name in COMMON_KEYS
    ]


def _describe(name: str, factory) -> dict:
    doc = inspect.getdoc(factory) or ""
    meanings = _args_section(doc)
    options = []
    for option, default in signature_defaults(factory, skip=_HIDDEN).items():
        required = default is inspect.Parameter.empty
        options.append(
            {"name": option, "default": "required" if required else _text(default), "meaning": meanings.get(option, "")}
        )
    return {"name": name, "aliases": DATASETS.aliases_of(name), "summary": doc.split("\n")[0], "options": options}


def _args_section(doc: str) -> dict[str, str]:
    """``Args:`` entries of a Google-style docstring, continuation lines joined."""
    found: dict[str, str] = {}
    current = None
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        if in_args:
            match = re.match(r"\s{2,}(\w+):\s*(.*)", line)
            if match and len(line) - len(line.lstrip()) <= 4:
                current = match.group(1)
                found[current] = match.group(2).strip()
            elif line.strip() and current and line.startswith(" " * 6):
                found[current] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                in_args = False
    return found


def _text(value: Any) -> str:
    """A default as YAML would write it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a section: {crop: 0, flip: false, ...}
        return "{" + ", ".join(f"{f.name}: {_text(getattr(value, f.name))}" for f in dataclasses.fields(value)) + "}"
    return str(value)
