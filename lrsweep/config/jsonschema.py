"""A JSON Schema (draft 2020-12) of a config file: ``ConfigFile.model_json_schema()``, plus what only lrsweep knows.

pydantic writes the keys, types, choices, defaults and descriptions from the models (lrsweep.config.sections and
lrsweep.config.file). Merged in here: the names each registry accepts (datasets, models, optimizers, schedulers),
each built-in dataset's own keys with their meaning, and the open sections opened (their ``options`` are flat
in the file). References are inlined and titles dropped, so the schema reads like a file; numeric ranges are
left to ``lrsweep validate``, whose messages say what was given. Editors with a YAML language server complete
and check config files with it::

    lrsweep schema > lrsweep.schema.json
    # first line of a config:  # yaml-language-server: $schema=lrsweep.schema.json
"""

from __future__ import annotations

from typing import Any

from lrsweep.config.file import DATA_KEYS, ConfigFile

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_IMPORT = {
    "type": "string",
    "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
    "description": "your own factory, imported: package.module:function",
}
_DROPPED = ("title", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_VALUES = ("default", "enum", "const", "examples")  # data, not schemas: kept as they are


def config_schema() -> dict:
    """The JSON Schema of a config file."""
    from lrsweep.data import DATASETS
    from lrsweep.models import MODELS
    from lrsweep.optim import OPTIMIZERS

    generated = ConfigFile.model_json_schema()
    defs = generated.pop("$defs")
    named = {
        "data": ("DataConfig", _name(DATASETS, True), _dataset_options()),
        "model": ("ModelConfig", _name(MODELS, True), {}),
        "optimizer": ("OptimizerConfig", _name(OPTIMIZERS, OPTIMIZERS.allow_import), {}),
    }
    for section, name, options in named.values():
        defs[section] = _opened(defs[section], name, options)
    props = _tidy(_inline(generated, defs))["properties"]
    for key, (_, name, _) in named.items():
        props[key] = _names_for_strings(props[key], name)
    props["scheduler"] = {**_scheduler(), "description": props["scheduler"]["description"]}
    return {
        "$schema": DRAFT,
        "$id": "https://lrsweep.dev/config.schema.json",
        "title": "lrsweep config",
        "description": generated["description"],
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "allOf": [_engine_metrics()],
    }


def _engine_metrics() -> dict:
    """Without command: or function:, lrsweep's own loop trains, and select.metric is one it reports."""
    from lrsweep.config.sections import SELECT_PATTERN

    own_code = {"anyOf": [{"required": ["command"]}, {"required": ["function"]}]}
    metric = {"pattern": SELECT_PATTERN}
    return {"if": {"not": own_code}, "then": {"properties": {"select": {"properties": {"metric": metric}}}}}


def _inline(node: Any, defs: dict) -> Any:
    """``{"$ref": "#/$defs/X", ...}`` replaced by the definition of X (the reference's own keys win)."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        found = defs[node["$ref"].rpartition("/")[2]]
        return {**_inline(found, defs), **{k: _inline(v, defs) for k, v in node.items() if k != "$ref"}}
    return {k: v if k in _VALUES else _inline(v, defs) for k, v in node.items()}


def _tidy(node: Any) -> Any:
    """Without pydantic's titles and the numeric ranges (see the module's docstring)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _tidy(schema) for name, schema in value.items()}
        elif key not in _DROPPED:
            out[key] = value if key in _VALUES else _tidy(value)
    return out


def _opened(section: dict, name: dict, options: dict[str, dict]) -> dict:
    """An open section as the file has it: its ``options`` flat beside the keys, ``name`` one of the registry's."""
    props = {k: v for k, v in section["properties"].items() if k != "options"}
    props["name"] = {**props["name"], **name}
    props.update({k: v for k, v in options.items() if k not in props})
    return {**section, "properties": props, "additionalProperties": True}


def _names_for_strings(field: dict, name: dict) -> dict:
    """A field's alternatives that are a bare string (``model: mlp``) become a registry name."""

    def alternative(alt: dict) -> dict:
        if alt == {"type": "string"}:
            return name
        if alt.get("type") == "array" and "anyOf" in alt.get("items", {}):
            return {**alt, "items": _names_for_strings(alt["items"], name)}
        return alt

    return {**field, "anyOf": [alternative(alt) for alt in field["anyOf"]]}


def _names(registry, extra: tuple[str, ...] = ()) -> list[str]:
    names = list(registry.names()) + [a for n in registry.names() for a in registry.aliases_of(n)] + list(extra)
    return sorted(set(names))


def _name(registry, allow_import: bool) -> dict:
    choices = {"type": "string", "enum": _names(registry)}
    return {"anyOf": [choices, _IMPORT]} if allow_import else choices


def _dataset_options() -> dict[str, dict]:
    """Each built-in dataset's own keys, with their meaning and the datasets that take them."""
    from lrsweep.config.datasets import describe_datasets

    found: dict[str, dict] = {}
    takers: dict[str, list[str]] = {}
    for dataset in describe_datasets()["datasets"]:
        for option in dataset["options"]:
            if option["name"] in DATA_KEYS:
                continue
            found.setdefault(option["name"], {"description": option["meaning"]})
            found[option["name"]]["description"] = found[option["name"]]["description"] or option["meaning"]
            takers.setdefault(option["name"], []).append(dataset["name"])
    return {
        k: {"description": f"{v['description'].rstrip('.')} (datasets: {', '.join(takers[k])})".lstrip()}
        for k, v in found.items()
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
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}
