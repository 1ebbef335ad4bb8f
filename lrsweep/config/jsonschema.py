"""A JSON Schema (draft 2020-12) of the config, generated from the one schema in config.py.

Sections, keys, defaults and descriptions come from the config dataclasses (each field's default and
its one-line comment); the names a key accepts come from the registries (datasets, models, optimizers,
schedulers). Editors with a YAML language server complete and check config files with it::

    lrsweep schema > lrsweep.schema.json
    # first line of a config:  # yaml-language-server: $schema=lrsweep.schema.json

The schema is deliberately permissive where the config is open (dataset-, model- and optimizer-specific
options, ``package.module:function`` names): it never refuses a config that ``validate`` accepts.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from functools import cache
from typing import Any

from lrsweep import config as cfg

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_IMPORT = {
    "type": "string",
    "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
    "description": "your own factory, imported: package.module:function",
}


@cache
def field_comments(cls: type) -> dict[str, str]:
    """Each dataclass field's one-line comment, read from the class source (``name: T = default  # comment``)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = {}
    for line in source.splitlines():
        match = re.match(r"\s+(\w+):\s*[^=#]+(?:=.*?)?\s+#\s*(.+)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _type_of(annotation: str) -> dict:
    text = str(annotation)
    if text.startswith("bool"):
        return {"type": "boolean"}
    if text.startswith("int"):
        return {"type": "integer"}
    if text.startswith("float"):
        return {"type": "number"}
    if text.startswith("str | None"):
        return {"type": ["string", "null"]}
    if text.startswith("str"):
        return {"type": "string"}
    return {}


def _section(cls: type, skip: tuple[str, ...] = (), open_: bool = False) -> dict:
    """An object schema from a config dataclass: each field typed, with its default and comment."""
    comments = field_comments(cls)
    props = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        prop = {**_type_of(f.type), "description": comments.get(f.name, "")}
        if _default(default) is not None or default is None:
            prop["default"] = _default(default)
        props[f.name] = prop
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": open_,
        "description": (inspect.getdoc(cls) or "").split("\n")[0],
    }


def _names(registry, extra: tuple[str, ...] = ()) -> list[str]:
    names = list(registry.names()) + [a for n in registry.names() for a in registry.aliases_of(n)] + list(extra)
    return sorted(set(names))


def _named(registry, section: dict, key: str, allow_import: bool) -> dict:
    """A section that may also be given as its name alone (``model: mlp``)."""
    choices = {"type": "string", "enum": _names(registry)}
    name = {"anyOf": [choices, _IMPORT]} if allow_import else choices
    section = dict(section)
    section["properties"] = {**section["properties"], key: {**section["properties"].get(key, {}), **name}}
    return {"anyOf": [section, name]}


def _lr() -> dict:
    spaced = {
        "type": "object",
        "additionalProperties": False,
        "required": ["start", "stop", "num"],
        "properties": {
            "start": {"type": "number"},
            "stop": {"type": "number"},
            "num": {"type": "integer", "minimum": 1},
        },
    }
    number = {"type": "number", "exclusiveMinimum": 0}
    return {
        "description": field_comments(cfg.Config).get("lrs", ""),
        "anyOf": [
            number,
            {"type": "array", "items": number, "minItems": 1},
            {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {"logspace": spaced, "linspace": spaced},
            },
        ],
    }


def _scheduler() -> dict:
    from lrsweep.optim.schedulers import SCHEDULERS

    names = {"type": "string", "enum": _names(SCHEDULERS)}
    entry = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": True,
        "properties": {"type": names, "interval": {"type": "string", "enum": ["epoch", "step"]}},
    }
    one = {"anyOf": [{"type": "null"}, {"const": False}, names, entry]}
    return {
        "description": field_comments(cfg.Config).get("schedulers", ""),
        "anyOf": [one, {"type": "array", "items": one, "minItems": 1}],
    }


def config_schema() -> dict:
    """The JSON Schema of a config file."""
    from lrsweep.data import DATASETS
    from lrsweep.models import MODELS
    from lrsweep.optim import OPTIMIZERS

    top = _section(
        cfg.Config,
        skip=(
            "seeds",
            "lrs",
            "optimizers",
            "schedulers",
            "data",
            "model",
            "train",
            "select",
            "prune",
            "limits",
            "source",
        ),
    )
    props = top["properties"]
    comments = field_comments(cfg.Config)
    props["seed"] = {"type": "integer", "description": "one seed (or seeds: a list)"}
    props["seeds"] = {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 1,
        "uniqueItems": True,
        "description": comments.get("seeds", ""),
    }
    props["engine"]["enum"] = list(cfg.ENGINES)
    props["lr"] = _lr()
    props["data"] = _named(DATASETS, _section(cfg.DataConfig, skip=("options",), open_=True), "name", True)
    props["model"] = _named(MODELS, _section(cfg.ModelConfig, skip=("options",), open_=True), "name", True)
    optimizer = _named(
        OPTIMIZERS, _section(cfg.OptimizerConfig, skip=("options",), open_=True), "name", OPTIMIZERS.allow_import
    )
    props["optimizer"] = {
        "description": comments.get("optimizers", ""),
        "anyOf": [*optimizer["anyOf"], {"type": "array", "items": optimizer, "minItems": 1}],
    }
    props["scheduler"] = _scheduler()
    props["train"] = _section(cfg.TrainConfig)
    props["train"]["properties"]["loss"]["enum"] = list(cfg.LOSSES)
    props["select"] = _section(cfg.SelectConfig)
    props["select"]["properties"]["metric"]["enum"] = list(cfg.SELECT_METRICS)
    prune = _section(cfg.PruneConfig)
    prune["properties"]["type"]["enum"] = list(cfg.PRUNERS)
    props["prune"] = {"anyOf": [{"type": "null"}, {"type": "string", "enum": list(cfg.PRUNERS)}, prune]}
    if "save" in props and hasattr(cfg, "SAVES"):
        props["save"]["enum"] = list(cfg.SAVES)
    props["limits"] = _section(cfg.LimitsConfig)
    for prop in props["limits"]["properties"].values():
        prop["type"] = "number"  # 1e9 is accepted for 1000000000
    known = set(cfg.TOP_KEYS)
    props = {k: v for k, v in props.items() if k in known}
    return {
        "$schema": DRAFT,
        "$id": "https://lrsweep.dev/config.schema.json",
        "title": "lrsweep config",
        "description": "A sweep of learning rates (lrsweep/config.py); every key is optional.",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }
