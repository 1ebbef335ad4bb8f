"""matplotlib as an optional extra: its absence named with the install command."""

from __future__ import annotations

import sys

import pytest

from lrsweep.errors import UsageError
from lrsweep.render import figures


def test_missing_matplotlib_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"pip install 'lrsweep\[plot\]'"):
        figures.pyplot()
