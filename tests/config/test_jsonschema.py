"""`lrsweep schema` is the models' JSON Schema: every key's description and default come from the model."""

import json

import pytest

from lrsweep.config import ConfigFile, DataConfig, OptimizerConfig, TrainConfig
from lrsweep.config.jsonschema import config_schema
from lrsweep.config.sections import fields_of


@pytest.fixture(scope="module")
def schema() -> dict:
    return config_schema()


def _section(schema: dict, key: str) -> dict:
    """A top-level key's section object (the first alternative where it may also be a name or null)."""
    prop = schema["properties"][key]
    return prop["anyOf"][0] if "anyOf" in prop else prop


def _expected(field) -> object:
    default = field.get_default(call_default_factory=False)
    return list(default) if isinstance(default, tuple) else default


SECTIONS = ["data", "model", "optimizer", "train", "select", "prune", "limits"]


@pytest.mark.parametrize("key", SECTIONS)
def test_each_key_has_the_models_description_and_default(schema, key):
    section = _section(schema, key)
    model = {"data": DataConfig, "optimizer": OptimizerConfig}.get(key) or next(
        t for t in _members(fields_of(ConfigFile)[key].annotation) if fields_of(t)
    )
    for name, field in fields_of(model).items():
        if name == "options":  # flat in the file: no key of that name
            assert name not in section["properties"]
            continue
        prop = section["properties"][name]
        assert prop["description"] == field.description, f"{key}.{name}"
        if field.default_factory is None:
            assert prop["default"] == _expected(field), f"{key}.{name}"


def _members(annotation):
    import typing

    args = typing.get_args(annotation)
    return [annotation, *args, *(a for arg in args for a in typing.get_args(arg))]


def test_top_level_keys_have_the_files_descriptions_and_defaults(schema):
    for name, field in fields_of(ConfigFile).items():
        prop = schema["properties"][name]
        assert prop["description"] == field.description
        if field.default_factory is None:
            assert prop["default"] == _expected(field), name


def test_the_schema_reads_like_a_file(schema):
    text = json.dumps(schema)
    assert '"$ref"' not in text and '"title": "' not in text.replace('"title": "lrsweep config"', "")
    assert _section(schema, "train")["additionalProperties"] is False
    assert _section(schema, "data")["additionalProperties"] is True  # the dataset's own keys sit beside
    assert schema["properties"]["train"]["properties"]["epochs"]["default"] == TrainConfig().epochs


def test_what_only_lrsweep_knows_is_merged_in(schema):
    data = _section(schema, "data")["properties"]
    assert "synthetic-regression" in data["name"]["anyOf"][0]["enum"]
    assert "(datasets: csv)" in data["target"]["description"] and "n_samples" in data
    optimizer = schema["properties"]["optimizer"]["anyOf"]
    assert "adamw" in optimizer[0]["properties"]["name"]["anyOf"][0]["enum"]
    assert "adamw" in optimizer[1]["anyOf"][0]["enum"]  # `optimizer: adamw`
    assert "adamw" in optimizer[2]["items"]["anyOf"][1]["anyOf"][0]["enum"]  # in a list
    assert "cosine" in json.dumps(schema["properties"]["scheduler"])
    assert set(schema["properties"]) == set(fields_of(ConfigFile))
