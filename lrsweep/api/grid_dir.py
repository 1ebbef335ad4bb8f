"""The run directory of ``grid``: the one resumed (its config checked against the one it started with),
the ``<name>-<fingerprint>`` directory every shard shares, or a new one; locked while the sweep writes;
meta.json kept through resumes, grid extensions and the end.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from lrsweep.api.common import ConfigLike, finish_meta, load_config_any, now
from lrsweep.errors import RunDirError, UsageError


def load_for_grid(config: ConfigLike | None, overrides: list[str], resume, force: bool):
    """The config to run, and the run directory to resume (or None for a new run)."""
    from lrsweep.config import apply_overrides, parse_config
    from lrsweep.run.store import RunStore

    if resume is None:
        if config is None:
            raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
        return load_config_any(config, overrides), None
    store = RunStore.open(Path(resume))
    source = str(store.path / "config.yaml")
    stored = parse_config(apply_overrides(store.read_config(), overrides), source=source)
    chosen = load_config_any(config, overrides) if config is not None else stored
    meta = store.read_meta()
    started_with = meta.get("fingerprint", stored.fingerprint())
    if chosen.fingerprint() != started_with and not force:
        extended = (
            " (its grid was extended by --extend: resume with the run directory alone)"
            if (config is not None and meta.get("extensions"))
            else ""
        )
        from lrsweep.config.diff import config_diff

        started = parse_config(store.read_config(), source=source)  # as it ran: before this command's --set
        changed = "; ".join(config_diff(started.to_dict(), chosen.to_dict())[:8]) or "its grid"
        raise RunDirError(
            f"the config differs from the one {store.path} was started with{extended} "
            f"(fingerprint {chosen.fingerprint()} != {started_with}; changed: {changed}); resuming would mix "
            "results. Start a new run, or pass --force to resume anyway."
        )
    return chosen, store


@dataclass
class HeldLock:
    """The run directory's lock, held until ``stack`` closes, and the notice of a stale lock taken over."""

    stack: ExitStack
    notice: str | None = None


def hold_lock(held: HeldLock, store, shard=None) -> None:
    """Lock the run directory until ``held.stack`` closes (RunDirError when another process writes it); a
    stale lock taken over leaves its notice in ``held.notice``."""
    held.notice = store.lock(shard.label if shard else None)
    held.stack.callback(store.unlock, shard.label if shard else None)


def open_store(store, out: Path, config, device, executor, shard, held: HeldLock):
    """The run directory, locked: the one resumed, the shared ``<name>-<fingerprint>`` of a shard, or a new one."""
    from lrsweep.api.common import run_meta
    from lrsweep.config import parse_config
    from lrsweep.run.store import RunStore

    meta = {**run_meta(config, device), "backend": executor.backend}
    if getattr(executor, "devices", None):
        meta["devices"] = executor.devices
    if store is not None:
        hold_lock(held, store)
        note_resume(store, config)
    elif shard is None:
        store = RunStore.create(out, config.name)
        hold_lock(held, store)
        store.write_config(config.to_dict())
        store.write_meta(meta)
    else:
        store = RunStore.shared(out, config.name, config.fingerprint())
        hold_lock(held, store, shard)
        if not store.create_config(config.to_dict()):
            found = parse_config(store.read_config()).fingerprint()
            if found != config.fingerprint():
                raise RunDirError(
                    f"{store.path} holds another config (fingerprint {found} != "
                    f"{config.fingerprint()}); use another --out"
                )
        store.create_meta(meta)
    if shard is not None:
        store.write_shard_meta(shard.label, {**meta, "shard": str(shard)})
    return store


def note_resume(store, config) -> None:
    """meta.json keeps every resume (when, which command line); a --force'd config becomes the run's config."""
    import sys

    meta = store.read_meta()
    entry = {"at": now(), "command": sys.argv}
    if meta.get("fingerprint") != config.fingerprint():
        entry["forced_from"] = meta.get("fingerprint")
        meta["fingerprint"] = config.fingerprint()
        store.write_config(config.to_dict())
    meta.setdefault("resumes", []).append(entry)
    store.write_meta(meta)


def finish(store, outcome: str, shard) -> None:
    """The run's meta.json gets how it ended; a shard writes only its own (shards never clobber each other)."""
    if shard is None:
        finish_meta(store, outcome)
        return
    meta = store.read_shard_meta(shard.label)
    meta.update(finished=now(), outcome=outcome)
    store.write_shard_meta(shard.label, meta)


def record_extension(store, config, extension) -> None:
    """The run directory follows the grid: config.yaml, and meta's fingerprint and extension log."""
    meta = store.read_meta()
    meta.setdefault("extensions", []).append({**extension.to_dict(), "fingerprint": config.fingerprint()})
    meta["fingerprint"] = config.fingerprint()
    store.write_meta(meta)
    store.write_config(config.to_dict())
