"""Checkpoints on the runner's side: encoding, checking, and the pack a resumed variant rejoins.

Trainers hand out their state at the end of each epoch (:mod:`lrsweep.engine.checkpoint`); the sink
wraps it with a header and has the store write it atomically: ``variants/<id>/checkpoint.pt`` for a
variant trained alone, ``packs/<key>/checkpoint.pt`` for a pack (each member's ``pack.json`` names
the pack, its members in order and where it ran). On ``--resume`` a variant rejoins the pack it first
trained in (so it meets the same floating-point computation) and the pack carries on from its
checkpoint. A checkpoint is trusted only when it reads back with ``weights_only=True`` and its header
names this config's fingerprint, exactly these members, and the lrsweep and torch versions running
now; anything else is ignored with a notice and the variant starts again from epoch 1.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import torch

from lrsweep._version import __version__

CHECKPOINT_FORMAT = 1  # the file's layout (header + state); bumped when it changes


class Rejected(Exception):
    """A checkpoint that must not be trusted; the message says why."""


@dataclass
class ResumePoint:
    """Where a pack (re)starts: its members as it first ran, the states to restore, the threads it used."""

    members: list  # Variant objects, in the order the pack first ran them
    pack_state: dict | None = None  # the pack's trainer state (vectorized), if a valid one exists
    alone: dict = field(default_factory=dict)  # variant id -> its own trainer state (trained alone)
    threads: int | None = None  # torch threads of the run that wrote the state
    drop: set = field(default_factory=set)  # members the first run had stopped (pruned): they stay out

    @property
    def empty(self) -> bool:
        return self.pack_state is None and not self.alone


def header(fingerprint: str, members: list[str], state: dict) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "lrsweep": __version__,
        "torch": str(torch.__version__),
        "fingerprint": fingerprint,
        "members": list(members),
        "kind": state.get("kind"),
        "threads": state.get("threads"),
    }


def encode(fingerprint: str, members: list[str], state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save({"header": header(fingerprint, members, state), "state": state}, buffer)
    return buffer.getvalue()


def decode(data: bytes, fingerprint: str, members: list[str]) -> tuple[dict, dict]:
    """The (header, state) of a checkpoint written for exactly ``members`` of this config; else :class:`Rejected`."""
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupted, or holding objects weights_only refuses
        raise Rejected(f"unreadable ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("header"), dict) or "state" not in loaded:
        raise Rejected("not an lrsweep checkpoint")
    head = loaded["header"]
    expected = header(fingerprint, members, {})
    for key, what in (
        ("format", "file format"),
        ("fingerprint", "config fingerprint"),
        ("members", "pack members"),
        ("lrsweep", "lrsweep version"),
        ("torch", "torch version"),
    ):
        if head.get(key) != expected[key]:
            raise Rejected(f"written for another {what} ({head.get(key)!r}, expected {expected[key]!r})")
    return head, loaded["state"]


class Checkpoints:
    """The sink's checkpoint book: writes what trainers report, hands out resume points, cleans up."""

    def __init__(self, store, fingerprint: str, variants: dict, notice, keep: bool = False):
        self.store, self.fingerprint, self.variants, self.notice, self.keep = store, fingerprint, variants, notice, keep
        self.packs: dict[str, list[str]] = {}  # variant id -> the members of the pack it trains in

    def save(self, members: list[str], state: dict) -> None:
        self.store.write_checkpoint(members, encode(self.fingerprint, members, state))

    def on_pack_start(self, pack: list, device: str) -> None:
        """Remember (on disk too) which pack each variant trains in, so a resume re-forms it."""
        members = [v.id for v in pack]
        recorded = self.members_of(members[0])
        if recorded and set(members) <= set(recorded):  # the pack it first ran in, re-formed
            self.packs.update({vid: recorded for vid in members})
            return
        if len(members) < 2:
            return
        record = {"members": members, "device": device}
        for vid in members:
            self.packs[vid] = members
            self.store.write_pack_record(vid, record)

    def members_of(self, variant_id: str) -> list[str] | None:
        if variant_id in self.packs:
            return self.packs[variant_id]
        record = self.store.read_pack_record(variant_id)
        members = [m for m in record["members"] if isinstance(m, str)] if record else None
        return members if members and variant_id in members and all(m in self.variants for m in members) else None

    def regroup(self, pending: list, plan) -> list[list]:
        """The pending variants' packs: each recorded pack again (its pending members, in its order), then
        ``plan(rest)`` for the variants never packed."""
        packs, placed = [], set()
        pending_ids = {v.id for v in pending}
        for v in pending:
            members = self.members_of(v.id)
            if v.id in placed or not members:
                continue
            pack = [self.variants[m] for m in members if m in pending_ids and m not in placed]
            placed |= {p.id for p in pack}
            packs.append(pack)
        rest = [v for v in pending if v.id not in placed]
        return packs + (plan(rest) if rest else [])

    def resume_point(self, pack: list, status) -> ResumePoint | None:
        """What ``pack`` (re)starts from: the pack it first ran in, with its checkpoint when a valid one
        exists, and each variant's own checkpoint; None when there is nothing to carry on from.

        Members of the first pack that have ended since are trained along again (their records are the
        caller's to ignore), so the pack computes what it first computed; pruned ones stay out.
        """
        members = self.members_of(pack[0].id)
        if not members or not {v.id for v in pack} <= set(members):
            members = None
        point = ResumePoint(members=[self.variants[m] for m in members] if members else list(pack))
        if members:
            point.pack_state, point.threads = self._load(members)
            requested = {v.id for v in pack}
            point.drop = {m for m in members if m not in requested and status(m) == "pruned"}
        for v in pack:
            state, threads = self._load([v.id])
            if state is not None:
                point.alone[v.id] = state
                point.threads = point.threads or threads
        return None if point.empty and len(point.members) == len(pack) else point

    def _load(self, members: list[str]) -> tuple[dict | None, int | None]:
        data = self.store.read_checkpoint(members)
        if data is None:
            return None, None
        where = self.store.checkpoint_path(members)
        try:
            head, state = decode(data, self.fingerprint, members)
        except Rejected as why:
            self.notice(f"ignoring the checkpoint {where}: {why}; {_who(members)} from epoch 1")
            return None, None
        return state, head.get("threads")

    def rejected(self, members: list[str], why: str) -> None:
        """A trainer refused a state that passed the header checks (see ``restore``)."""
        self.notice(
            f"ignoring the checkpoint {self.store.checkpoint_path(members)}: {why}; {_who(members)} from epoch 1"
        )

    def discard(self, variant_id: str, finished) -> None:
        """``variant_id`` ended: drop its checkpoint (and its pack's once every member has ended)."""
        if self.keep:
            return
        self.store.delete_checkpoint([variant_id])
        members = self.members_of(variant_id)  # pack.json stays: a re-run of the variant rejoins that pack
        if members and all(finished(m) for m in members):
            self.store.delete_checkpoint(members)


def _who(members: list[str]) -> str:
    return "the variant trains" if len(members) == 1 else f"the pack of {len(members)} trains"


def _first_line(exc: Exception) -> str:
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return text.splitlines()[0][:200] if text else ""
