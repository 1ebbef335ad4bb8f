"""Name -> factory registries shared by datasets, models, optimizers and schedulers."""

from __future__ import annotations

import contextvars
import difflib
import importlib
import inspect
import os
import re
import socket
import sys
import urllib.error
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from lrsweep.errors import ConfigError, LrsweepError, NetworkError, shown

T = TypeVar("T")


def nearest(name: str, choices: Iterable[str]) -> str | None:
    """The closest spelling of ``name`` among ``choices``, or None if nothing is close."""
    if len(str(name)) > 100:  # nothing that long is a typo of a key
        return None
    matches = difflib.get_close_matches(str(name).lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not matches:
        return None
    lowered = {c.lower(): c for c in choices}
    return lowered[matches[0]]


def unknown_message(what: str, given: str, valid: Iterable[str]) -> str:
    """``unknown model 'mpl'; did you mean 'mlp'? (valid: cnn, linear, mlp)``"""
    valid = sorted(set(valid))
    guess = nearest(given, valid)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"unknown {what} '{given}'{hint} (valid: {', '.join(valid)})"


_NO_IMPORT: contextvars.ContextVar[bool] = contextvars.ContextVar("lrsweep_no_import", default=False)
_SPEC = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
)


@contextmanager
def no_imports():
    """Inside: ``package.module:function`` names are checked for form only, never imported (validate --no-import)."""
    token = _NO_IMPORT.set(True)
    try:
        yield
    finally:
        _NO_IMPORT.reset(token)


def imports_allowed() -> bool:
    return not _NO_IMPORT.get()


def check_import_spec(spec: str, key: str | None = None) -> str:
    """``package.module:function`` in form (dotted identifiers on both sides) and not from Python's standard
    library, without importing anything."""
    if not isinstance(spec, str) or not _SPEC.fullmatch(spec):
        raise ConfigError(f"expected 'package.module:function', got {shown(spec)}", key=key)
    _refuse_standard_library(spec, spec.partition(":")[0], key)
    return spec


def is_standard_library(module_name: str) -> bool:
    """Whether ``module_name`` (or the package it is in) ships with Python."""
    top = str(module_name).partition(".")[0]
    return top in sys.stdlib_module_names or top == "builtins"


def _refuse_standard_library(spec: str, module_name: str, key: str | None) -> None:
    # os:popen, subprocess:getoutput, runpy:run_path, pty:spawn run what a config tells them to: a factory
    # must come from the user's own code, so nothing of the standard library is imported or called.
    if is_standard_library(module_name):
        raise ConfigError(
            f"'{spec}' comes from Python's standard library ({module_name.partition('.')[0]}), not from your "
            "own code: lrsweep never imports or calls it from a config (name a function or class of your own)",
            key=key,
        )


def import_object(spec: str, key: str | None = None) -> Any:
    """Import ``package.module:attribute``; errors name the spec and what went wrong."""
    check_import_spec(spec, key)
    if not imports_allowed():
        raise ConfigError(f"'{spec}' would be imported (--no-import is on)", key=key)
    module_name, _, attr = spec.partition(":")
    _working_directory_on_path()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module '{module_name}' of '{spec}': {exc} (searched {_searched()})", key=key
        ) from None
    except Exception as exc:  # noqa: BLE001 - the module's own code failed while importing
        raise ConfigError(
            f"importing module '{module_name}' of '{spec}' raised {type(exc).__name__}: {str(exc)[:200]}", key=key
        ) from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module '{module_name}' has no attribute '{attr}'", key=key) from None
    check_factory(obj, spec, key)
    return obj


def check_factory(obj: Any, spec: str, key: str | None = None) -> None:
    """A factory named by a config must be a Python function or class whose parameters can be read."""
    if not callable(obj):
        raise ConfigError(f"'{spec}' is {type(obj).__name__}, not a function or class", key=key)
    _refuse_standard_library(spec, str(getattr(obj, "__module__", None) or ""), key)  # re-exported by user code
    builtin_type = isinstance(obj, type) and obj.__module__ == "builtins"
    if inspect.isbuiltin(obj) or builtin_type or inspect.ismethoddescriptor(obj):
        raise ConfigError(
            f"'{spec}' is built into Python, not a factory lrsweep can check or call "
            "(name a function or class of your own)",
            key=key,
        )
    try:
        inspect.signature(obj)
    except (ValueError, TypeError):
        raise ConfigError(
            f"'{spec}' has no signature lrsweep can read, so its options cannot be checked "
            "(wrap it in a Python function)",
            key=key,
        ) from None


def call_user(fn: Callable, kwargs: dict[str, Any], what: str, key: str | None = None) -> Any:
    """Call a factory a config named: whatever it raises becomes one ConfigError naming it."""
    try:
        return fn(**kwargs)
    except LrsweepError:
        raise
    except (ConnectionError, TimeoutError, socket.gaierror, urllib.error.URLError) as exc:
        raise NetworkError(f"{what}: network failure: {type(exc).__name__}: {str(exc)[:200]}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: any failure is reported, not a traceback
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise ConfigError(f"{what} raised {type(exc).__name__}" + (f": {text}" if text else ""), key=key) from None


def _working_directory_on_path() -> None:
    """User code is found in the working directory under ``lrsweep`` as under ``python -m lrsweep`` (whose
    sys.path starts with it): a package beside the config imports either way."""
    cwd = os.getcwd()
    if not any(entry in ("", cwd) for entry in sys.path):
        sys.path.insert(0, cwd)


def _searched(first: int = 4) -> str:
    """sys.path in short: the first entries, home as ~, and how many more."""
    home = os.path.expanduser("~")
    entries = [(os.getcwd() if e == "" else e) for e in sys.path]
    short = [e.replace(home, "~", 1) if home != "/" and e.startswith(home) else e for e in entries[:first]]
    more = f", and {len(entries) - first} more on sys.path" if len(entries) > first else ""
    return ", ".join(short) + more


class Registry(Generic[T]):
    """A dict from lower-case name (and aliases) to an entry; unknown names list the valid ones.

    Names containing ':' are imported as ``package.module:factory`` when ``allow_import`` is set.
    """

    def __init__(self, kind: str, allow_import: bool = False):
        self.kind = kind
        self.allow_import = allow_import
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, entry: T, aliases: Iterable[str] = ()) -> T:
        name = name.lower()
        if name in self._entries or name in self._aliases:
            raise ValueError(f"{self.kind} '{name}' registered twice")
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias.lower()] = name
        return entry

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            return self.add(name, entry, aliases)

        return decorate

    def names(self) -> list[str]:
        return list(self._entries)

    def aliases_of(self, name: str) -> list[str]:
        return [a for a, target in self._aliases.items() if target == name]

    def is_import(self, name: str) -> bool:
        return self.allow_import and ":" in str(name)

    def canonical(self, name: str, key: str | None = None) -> str:
        """The registered name for ``name`` or one of its aliases (imports are returned as given)."""
        if self.is_import(name):
            return str(name)
        lowered = str(name).lower()
        if lowered in self._entries:
            return lowered
        if lowered in self._aliases:
            return self._aliases[lowered]
        raise ConfigError(unknown_message(self.kind, name, self._entries), key=key)

    def get(self, name: str, key: str | None = None) -> T:
        if self.is_import(name):
            return import_object(str(name), key=key)
        return self._entries[self.canonical(name, key=key)]

    def __contains__(self, name: object) -> bool:
        lowered = str(name).lower()
        return lowered in self._entries or lowered in self._aliases

    def __iter__(self):
        return iter(self._entries.items())


def signature_defaults(fn: Callable, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Keyword parameters of ``fn`` and their defaults (``inspect.Parameter.empty`` when required)."""
    skip = set(skip)
    params = {}
    for name, param in inspect.signature(fn).parameters.items():
        if name in skip or name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        params[name] = param.default
    return params


def accepts_var_kwargs(fn: Callable) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


def check_value_type(value: Any, default: Any, key: str) -> Any:
    """Check ``value`` against the type of a signature default; returns the value, coerced where lossless."""
    if default is inspect.Parameter.empty or default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"must be true or false, got {shown(value)}", key=key)
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"must be a number, got {shown(value)}", key=key)
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            return value  # torch often writes 0 for a float default (momentum=0)
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {shown(value)}", key=key)
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"must be a list, got {shown(value)}", key=key)
        if len(value) != len(default):  # variable-length (hidden sizes); the callee checks the length
            return tuple(value)
        return tuple(check_value_type(v, d, f"{key}[{i}]") for i, (v, d) in enumerate(zip(value, default)))
    return value


def check_kwargs(
    fn: Callable,
    kwargs: dict[str, Any],
    key: str,
    skip: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> dict[str, Any]:
    """Validate ``kwargs`` against ``fn``'s signature: unknown names get the nearest valid spelling.

    Args:
        fn: the callable whose keyword parameters are allowed.
        kwargs: the user's values.
        key: the dotted config path the kwargs live under (for messages).
        skip: parameters the caller supplies itself (never taken from the user).
        extra: further keys the caller handles, allowed but not checked here.
    Returns:
        The kwargs with values type-checked against the defaults.
    """
    params = signature_defaults(fn, skip=skip)
    allowed = list(params) + list(extra)
    checked = {}
    for name, value in kwargs.items():
        if name in extra:
            checked[name] = value
            continue
        if name not in params:
            if accepts_var_kwargs(fn):
                checked[name] = value
                continue
            guess = nearest(name, allowed)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise ConfigError(f"unknown key '{name}'{hint} (valid: {', '.join(sorted(allowed))})", key=f"{key}.{name}")
        checked[name] = check_value_type(value, params[name], f"{key}.{name}")
    missing = [n for n, d in params.items() if d is inspect.Parameter.empty and n not in checked]
    if missing:
        raise ConfigError(f"missing required key(s): {', '.join(missing)}", key=key)
    return checked
