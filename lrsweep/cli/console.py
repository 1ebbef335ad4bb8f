"""The consoles every command prints through: safe for any terminal, any pipe, any encoding.

- Control characters in what is echoed (a config's ``name: "x\\e]0;owned\\a"``) are stripped, so user
  text can never drive the terminal; Rich's own styling and cursor control are kept.
- Not on a terminal (a pipe, a log file) there is no line length: tables keep every digit.
- A stream whose encoding cannot carry Rich's box characters, ★, ±, – (``PYTHONIOENCODING=ascii``)
  gets ASCII stand-ins instead of a UnicodeEncodeError.
"""

from __future__ import annotations

import io
import re
import sys

from rich.console import Console
from rich.segment import Segment

PIPE_WIDTH = 10_000  # columns when not on a terminal: wide enough that no table is ever cropped
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but tab, newline), DEL, C1
_PROBE = "★±–…▁█→×·"  # what lrsweep prints beyond ASCII
ASCII_FALLBACK = str.maketrans(
    {
        "★": "*",
        "±": "+-",
        "–": "-",
        "—": "-",
        "…": "...",
        "→": "->",
        "×": "x",
        "·": "|",
        "≥": ">=",
        "≤": "<=",
        "▁": "_",
        "▂": ".",
        "▃": "-",
        "▄": "-",
        "▅": "=",
        "▆": "=",
        "▇": "#",
        "█": "#",
    }
)


def clean(text: str) -> str:
    """``text`` without control characters (escape sequences lose their ESC and cannot act)."""
    return _CONTROL.sub("", text)


class _CleanConsole(Console):
    """A Console whose rendered text never carries control characters from the data it shows."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment
            else:
                yield Segment(clean(segment.text), segment.style)


class EncodingSafe(io.TextIOBase):
    """A text stream writing to ``stream`` with ASCII stand-ins for what its encoding cannot encode."""

    def __init__(self, stream):
        self.stream = stream

    # typeshed declares TextIOBase.encoding a writable attribute; at run time it is a read-only descriptor
    # (assigning it raises AttributeError), so a property is the only way to override it.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        encoding = self.encoding
        safe = text.translate(ASCII_FALLBACK).encode(encoding, "replace").decode(encoding)
        self.stream.write(safe)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.stream.fileno()


def can_encode(stream, text: str = _PROBE) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def safe_stream(stream):
    """``stream`` itself when its encoding carries lrsweep's characters, else an :class:`EncodingSafe` over it."""
    return stream if can_encode(stream) else EncodingSafe(stream)


def make_console(stderr: bool = False, **options) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    console = _CleanConsole(file=safe_stream(stream), highlight=False, **options)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console
