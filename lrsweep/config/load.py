"""From a YAML file and ``--set`` overrides to a :class:`Config`: read (bounded), override, resolve paths, validate."""

import copy
from pathlib import Path
from typing import Any

from lrsweep.config.errors import validated
from lrsweep.config.file import ConfigFile
from lrsweep.config.grid import expand_lrs
from lrsweep.config.limits import check_consistency
from lrsweep.config.resolved import Config
from lrsweep.config.sections import DataConfig, LimitsConfig
from lrsweep.errors import ConfigError, shown

PATH_KEYS = ("root", "path")  # data keys naming a file or folder (path: built-in datasets only)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML file, apply ``dotted.key=value`` overrides, validate."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        raw = resolve_paths(raw, path.resolve().parent)  # the file's own paths: relative to the file
        changed = resolve_paths(apply_overrides(raw, overrides), Path.cwd())  # --set paths: relative to cwd
        try:
            return parse_config(changed, source=str(path))
        except ConfigError as err:
            raise _renamed_section(err, raw, overrides) or err from None
    except ConfigError as err:
        raise err.located(file=str(path)) from None


NAME_KEYS = {"data": "name", "model": "name", "optimizer": "name", "scheduler": "type"}


def _renamed_section(err: ConfigError, raw: dict, overrides) -> ConfigError | None:
    """``--set optimizer.name=nadam`` on a file whose optimizer has ``momentum``: that key is the old
    optimizer's, not a typo of the new one's; say so, and how to replace the whole section."""
    section, _, key = str(err.key or "").partition(".")
    name_key = NAME_KEYS.get(section)
    if not name_key or not key or "." in key or not err.message.startswith("unknown key"):
        return None
    given = {tuple(keys): value for keys, value in map(parse_override, overrides)}
    old = raw.get(section)
    old_name = old.get(name_key) if isinstance(old, dict) else old
    new_name = given.get((section, name_key))
    if new_name is None or new_name == old_name or (section, key) in given:
        return None
    return ConfigError(
        f"'{key}' belongs to the file's {section} '{old_name}', not to '{new_name}' (--set {section}.{name_key} "
        f"changes the name alone); to switch, replace the whole section: --set '{section}={{{name_key}: {new_name}}}'",
        key=err.key,
    )


def parse_config(raw: dict, source: str | None = None) -> Config:
    """Validate a raw mapping into a :class:`Config` (errors carry the key path)."""
    config = Config.from_file(validated(ConfigFile, raw), source)
    check_consistency(config)
    return config


def parse_lrs(value: Any, max_num: int = LimitsConfig().max_variants) -> tuple[float, ...]:
    """``lr:`` as a file gives it (a number, a list, or ``{logspace: {start, stop, num}}``) -> the learning rates."""
    return expand_lrs(validated(ConfigFile, {"lr": value}).lr, max_num)


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping, bounded and strict (lrsweep.config.safe_yaml); errors name the file and line."""
    from lrsweep.config import safe_yaml  # yaml is imported when a file is read, not with the package

    path = Path(path)
    raw = safe_yaml.load(safe_yaml.decode(safe_yaml.read_config_bytes(path), str(path)), str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got {type(raw).__name__}", file=str(path))
    return raw


def resolve_paths(raw: dict, base: Path) -> dict:
    """A copy of ``raw`` whose relative ``data.root`` / ``data.path`` are made absolute against ``base``.

    ``~`` paths and absolute ones are kept as given; anything not a string is left for validation. A command's
    working directory (``trials.cwd``) is resolved likewise, and is ``base`` itself when not given.
    """
    raw = _command_cwd(raw, base)
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    from lrsweep import data as datasets  # (imports torch: not for a config without a data section)

    builtin = not datasets.DATASETS.is_import(str(data.get("name", DataConfig().name)))
    resolved = dict(data)
    for key in PATH_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value and (key == "root" or builtin) and not value.startswith("~"):
            if not Path(value).is_absolute():
                resolved[key] = str(base / value)
    return {**raw, "data": resolved}


def _command_cwd(raw: dict, base: Path) -> dict:
    trials = raw.get("trials") if raw.get("trials") is not None else {}
    if raw.get("command") is None or not isinstance(trials, dict):
        return raw
    cwd = trials.get("cwd")
    if cwd is None:
        cwd = str(base)
    elif isinstance(cwd, str) and cwd and not cwd.startswith("~") and not Path(cwd).is_absolute():
        cwd = str(base / cwd)
    return {**raw, "trials": {**trials, "cwd": cwd}}


def parse_override(item: str) -> tuple[list[str], Any]:
    """``train.epochs=3`` -> (["train", "epochs"], 3); the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects dotted.key=value, got '{item}'")
    from lrsweep.config import safe_yaml

    try:
        value = safe_yaml.load(text) if text.strip() else None
    except ConfigError as err:
        raise ConfigError(f"cannot parse the value of --set {shown(item)} as YAML: {err.message}", key=key) from None
    return key.split("."), value


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Set each ``dotted.key=value`` in a copy of ``raw`` (keys are validated later, with the rest)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        parts, value = parse_override(item)
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str) and part in ("data", "model", "optimizer", "scheduler"):
                child = node[part] = {"type" if part == "scheduler" else "name": child}
            elif not isinstance(child, dict):
                raise ConfigError(f"cannot set '{'.'.join(parts)}': '{'.'.join(parts[: i + 1])}' is not a section")
            node = child
        node[parts[-1]] = value
        if parts in (["seed"], ["seeds"]) and value is not None:  # --set seeds=[0,1,2] on a `seed: 0` file
            raw.pop("seeds" if parts == ["seed"] else "seed", None)
    return raw
