"""Reading YAML that may be hostile or broken: bounded in size, depth and alias expansion; strict keys.

A config is small. Anything far past what a real sweep needs (a file over 1 MiB, nesting 50 deep,
100,000 values once aliases are expanded, an integer past 64 bits, a key given twice) is refused with
a one-line :class:`ConfigError` naming the line, before anything big is built in memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lrsweep.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a config file is refused past 1 MiB (a long grid fits in lr: {logspace: ...})
MAX_DEPTH = 50  # lists and mappings nested deeper than this are refused
MAX_VALUES = 100_000  # values in a document, each alias counted as every value it stands for
MAX_INT_CHARS = 70  # longest integer literal read (a 64-bit integer in binary is 66)
INT64 = (-(2**63), 2**63 - 1)

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: 10x faster


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes, at most MAX_CONFIG_BYTES; errors name the file and the cause."""
    try:
        if path.is_dir():
            raise ConfigError("expected a YAML file, got a directory", file=str(path))
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=str(path)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"the config file is larger than {MAX_CONFIG_BYTES // 1024} KiB (lrsweep.config.safe_yaml."
            "MAX_CONFIG_BYTES); a long grid of learning rates fits in lr: {logspace: ...}",
            file=str(path),
        )
    return data


def decode(data: bytes, source: str | None = None) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else names the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (offset {exc.start}); save the file as UTF-8",
            file=source,
        ) from None


def load(text: str, source: str | None = None) -> Any:
    """Parse one YAML document within the bounds above; every failure is a ConfigError."""
    try:
        _check_shape(text)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as err:
        raise err.located(file=source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(f"YAML syntax error at {where}: {exc.problem}", file=source) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {_first_line(exc)}", file=source) from None
    except (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError) as exc:  # a constructor
        raise ConfigError(f"YAML value cannot be read: {_first_line(exc)}", file=source) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _check_shape(text: str) -> None:
    """One pass over the parse events: depth, the expanded size, recursive aliases; nothing is built."""
    depth, expanded = 0, 0
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    open_anchors: list[tuple[str | None, int]] = []  # (anchor, expanded count at its start)
    events = yaml.parse(text, Loader=_BaseLoader)
    starts, ends = (yaml.SequenceStartEvent, yaml.MappingStartEvent), (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in events:
        kind = type(event)
        anchor = getattr(event, "anchor", None)  # on node and alias events (yaml's Event base declares none)
        if kind is yaml.ScalarEvent:
            expanded += 1
            if anchor:
                sizes[anchor] = 1
        elif kind is yaml.AliasEvent:
            if any(a == anchor for a, _ in open_anchors):
                raise ConfigError(
                    f"line {_line(event)}: alias *{anchor} refers to a value that contains it (a recursive alias)"
                )
            expanded += sizes.get(anchor, 1) if anchor else 1
        elif kind in starts:
            depth += 1
            expanded += 1
            open_anchors.append((anchor, expanded))
            if depth > MAX_DEPTH:
                raise ConfigError(f"line {_line(event)}: lists and mappings nested more than {MAX_DEPTH} deep")
        elif kind in ends:
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor:
                sizes[anchor] = expanded - start + 1
        if expanded > MAX_VALUES:
            raise ConfigError(
                f"line {_line(event)}: more than {MAX_VALUES:,} values once aliases are expanded; "
                "a config this large is refused (an alias bomb, or a grid that belongs in "
                "lr: {logspace: ...})"
            )


def _line(event) -> int | str:
    return event.start_mark.line + 1 if event.start_mark else "?"


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses duplicate keys and integers past 64 bits."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    name = key if isinstance(key, str) and len(key) <= 60 else _short(key)
                    raise ConfigError(
                        f"line {line}: key '{name}' appears twice in one mapping (first at line {seen[key]})"
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):
        """PyYAML's scalar constructors fail with IndexError, KeyError or AttributeError on values such as
        ``!!int ''`` or ``!!timestamp 'x'``: each becomes one line naming the value, its tag and its line."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError) as exc:
            if not isinstance(node, yaml.ScalarNode):
                raise
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            why = f" ({_first_line(exc)})" if isinstance(exc, (ValueError, OverflowError)) else ""
            raise ConfigError(
                f"line {node.start_mark.line + 1}: {_short(node.value)} cannot be read as {tag}{why}"
            ) from None

    def construct_yaml_int(self, node):
        text = str(node.value)
        line = node.start_mark.line + 1
        if len(text) > MAX_INT_CHARS:
            raise ConfigError(f"line {line}: an integer of {len(text)} characters; integers must fit in 64 bits")
        value = super().construct_yaml_int(node)
        if not INT64[0] <= value <= INT64[1]:
            raise ConfigError(f"line {line}: integer {_short(value)} does not fit in 64 bits")
        return value


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
# YAML 1.1 reads 1e-3 (no dot) as text; a config means the number (YAML 1.2 and JSON agree)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)


def _short(value: Any) -> str:
    from lrsweep.errors import shown

    return shown(value, 40)
