"""pydantic's ValidationError in lrsweep's words, in one place: ``train.epochz: unknown key; did you mean
'epochs'? (valid: compile, epochs, ...)``, ``lr must be > 0, got lr=-0.1``.

Only the first error is reported (an unknown key before anything else: it is usually a typo of a key whose value
then went missing), at its dotted path with list indices (``optimizer[1].momentum``), with the value given.
lrsweep's own checks inside validators (registries, signatures) raise :class:`ConfigError`; :func:`reported`
passes them through pydantic, so they come in key order with the rest and keep their key and message.
"""

import dataclasses
import functools
import re
import types
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError, PydanticUndefined

from lrsweep.config.sections import Unit, fields_of
from lrsweep.errors import ConfigError, shown
from lrsweep.registry import nearest

LRSWEEP = "lrsweep"  # the pydantic error type of a ConfigError raised in a validator
UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument", "invalid_key")
KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true/false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "dataclass_type": "a mapping",
}
BOUNDS = {Gt: ">", Ge: ">=", Lt: "<", Le: "<="}
BOUND_ERRORS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}

F = TypeVar("F", bound=Callable[..., Any])


def validated(model: type, raw: Any) -> Any:
    """``model`` validated from ``raw``; the first error as a :class:`ConfigError`."""
    try:
        return model.model_validate(raw)  # type: ignore[attr-defined]
    except ValidationError as err:
        raise config_error(err, model) from None


def config_error(err: ValidationError, model: type) -> ConfigError:
    """The first error of ``err`` (an unknown key if there is one), at its key path under ``model``."""
    errors = err.errors(include_url=False)
    first = next((e for e in errors if e["type"] in UNKNOWN), errors[0])
    if first["type"] == LRSWEEP:
        return first["ctx"]["error"]
    loc = first["loc"]
    if first["type"] in UNKNOWN:  # the last part is a key the file gave, whatever its type (YAML allows `1:`)
        key = f"{dotted(loc[:-1])}.{loc[-1]}" if len(loc) > 1 else str(loc[-1])
    else:
        key = dotted(loc)
    return ConfigError(message(first, model), key=key or None)


def reported(check: F) -> F:
    """``check`` (a validator) with the ConfigErrors of lrsweep's checks reported through pydantic."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except ConfigError as err:
            raise PydanticCustomError(LRSWEEP, "{message}", {"message": err.message, "error": err}) from None

    return run  # type: ignore[return-value]


def dotted(loc: tuple) -> str:
    """``("optimizer", 1, "momentum")`` -> ``optimizer[1].momentum``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def message(error: ErrorDetails, model: type) -> str:
    """One pydantic error in lrsweep's words."""
    kind, loc, value, ctx = error["type"], error["loc"], error["input"], error.get("ctx") or {}
    name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "value")
    if kind in UNKNOWN:
        return unknown_key(str(loc[-1]), keys_at(model, loc[:-1]))
    if kind in KINDS:
        return f"must be {KINDS[kind]}, got {shown(value)}"
    if kind in BOUND_ERRORS:
        return f"must be {_range(field_at(model, loc), kind, ctx)}, got {name}={shown(value)}"
    if kind == "finite_number":
        return f"must be finite, got {name}={shown(value)}"
    if kind == "literal_error":
        return _choice(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    if kind == "missing":
        return "missing (required)"
    if kind == "too_short":
        return f"must be a non-empty list, got {shown(value)}"
    if kind == "value_error":
        return str(ctx["error"])
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {shown(value)}"


def unknown_key(key: str, valid: list[str]) -> str:
    guess = nearest(key, valid)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"unknown key{hint} (valid: {', '.join(sorted(valid))})" if valid else "unknown key"


def _choice(value: Any, choices: list[str]) -> str:
    guess = nearest(str(value), choices)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"got {shown(value)}{hint} (valid: {', '.join(choices)})"


def _range(field: FieldInfo | None, kind: str, ctx: dict) -> str:
    """``in [0, 1)``, ``>= 1 pixels``: the field's range and unit (the bound that failed, if the field is not found)."""
    metadata = field.metadata if field else []
    bounds = sorted((m for m in metadata if type(m) in BOUNDS), key=lambda m: isinstance(m, (Lt, Le)))
    unit = next((f" {m.name}" for m in metadata if isinstance(m, Unit)), "")
    if len(bounds) == 2:
        low, high = bounds
        opening, closing = "[" if isinstance(low, Ge) else "(", "]" if isinstance(high, Le) else ")"
        text = f"in {opening}{_bound(low)}, {_bound(high)}{closing}"
    elif bounds:
        text = f"{BOUNDS[type(bounds[0])]} {_bound(bounds[0])}"
    else:
        text = f"{BOUND_ERRORS[kind]} {next(iter(ctx.values()), '')}"
    return text + unit


def _bound(constraint: Any) -> str:
    return f"{dataclasses.astuple(constraint)[0]:g}"


# --------------------------------------------------------------------------- where an error is


def keys_at(model: type, loc: tuple) -> list[str]:
    """The keys the section at ``loc`` declares (empty where ``loc`` leaves the models)."""
    here = _type_at(model, loc)
    return next((list(fields_of(m)) for m in _members(here) if fields_of(m)), [])


def field_at(model: type, loc: tuple) -> FieldInfo | None:
    """The field the last key of ``loc`` names, or None."""
    last = max((i for i, p in enumerate(loc) if isinstance(p, str)), default=None)
    if last is None:
        return None
    owners = [fields_of(m) for m in _members(_type_at(model, loc[:last]))]
    return next((fields[loc[last]] for fields in owners if loc[last] in fields), None)


def _type_at(model: type, loc: tuple) -> Any:
    here: Any = model
    for part in loc:
        here = _step(here, part)
        if here is None:
            return None
    return here


def _step(here: Any, part: str | int) -> Any:
    """The type one key (a field's declared type) or one index (a list's items) below ``here``."""
    for member in _members(here):
        if isinstance(part, int) and get_origin(member) in (list, tuple):
            return get_args(member)[0]
        if isinstance(part, str) and part in fields_of(member):
            return _declared(fields_of(member)[part])
    return None


def _declared(field: FieldInfo) -> Any:
    """What the file may give for a field: the input type its validator declares, else its annotation."""
    for meta in field.metadata:
        given = getattr(meta, "json_schema_input_type", Any)
        if given is not Any and given is not PydanticUndefined:
            return given
    return field.annotation


def _members(tp: Any) -> list[Any]:
    """``tp`` with Annotated and unions unwrapped: the types a value of it may have."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [tp]
