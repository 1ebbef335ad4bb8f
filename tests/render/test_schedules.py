"""``lrsweep schedule``'s renderables: the preview figure."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from lrsweep.render import schedules  # noqa: E402


def test_the_preview_legend_is_beside_the_curves(tmp_path, monkeypatch):
    saved = {}
    monkeypatch.setattr(schedules, "save_png", lambda figure, path: saved.setdefault("figure", figure))
    monkeypatch.setattr(schedules.pyplot(), "close", lambda figure: None)
    data = {
        "lr": 0.1,
        "epochs": 4,
        "steps_per_epoch": 2,
        "schedules": [
            {"scheduler": "steplr", "epoch_lrs": [0.1, 0.1, 0.01, 0.01]},
            {
                "scheduler": "onecycle",
                "step_lrs": [0.01, 0.05, 0.1, 0.08, 0.05, 0.03, 0.01, 0.001],
                "epoch_lrs": [0.01, 0.1, 0.05, 0.01],
            },
        ],
    }
    schedules.write_schedule_preview(data, tmp_path / "p.png")
    ax = saved["figure"].axes[0]
    saved["figure"].canvas.draw()
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
    assert ax.get_xlim() == (0, 4)
