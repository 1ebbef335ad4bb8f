"""What ``find`` returns in both its forms (on a config, on your own model): :class:`FindResult`, the
settings it runs with, and its run directory (``find.json``, ``find.csv``; ``plots/find.png`` when asked).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrsweep.api.common import now
from lrsweep.errors import UsageError
from lrsweep.select.finder import SUGGESTERS, FinderResult, FinderSettings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lrsweep.run.store import RunStore


@dataclass
class FindResult:
    """What the range test found, and where it was written (``run_dir`` is None when nothing was)."""

    range_test: FinderResult  # the curve, the suggestions, the settings
    chosen: str  # the suggester gridded around (and behind .suggestion)
    run_dir: Path | None
    grid: list[float] | None = None  # the grid written with write_grid
    grid_file: Path | None = None
    notes: list[str] = field(default_factory=list)  # what the test left out, or could not measure
    plot_file: Path | None = None  # plots/find.png, when drawn (plot=True)

    @property
    def suggestions(self) -> dict[str, float]:
        return dict(self.range_test.suggestions)

    @property
    def suggested_lr(self) -> float:
        return self.range_test.suggestion(self.chosen)

    @property
    def suggestion(self) -> float:
        """The LR to train with: the chosen suggester's (``suggest=``, valley by default)."""
        return self.suggested_lr

    @property
    def divergence_lr(self) -> float | None:
        return self.range_test.divergence_lr

    @property
    def curve(self) -> list[dict]:
        """One row per optimizer step: step, lr, loss, smoothed."""
        return find_rows(self.range_test)

    def to_dict(self) -> dict:
        """What ``lrsweep find --json`` prints."""
        return {
            **self.range_test.to_dict(),
            "chosen": self.chosen,
            "suggested_lr": self.suggested_lr,
            "run_dir": str(self.run_dir) if self.run_dir is not None else None,
            "grid": self.grid,
            "grid_file": str(self.grid_file) if self.grid_file else None,
            "notes": list(self.notes),
            "plot_file": str(self.plot_file) if self.plot_file else None,
        }

    def figure(self) -> Figure:
        """The figure as a matplotlib Figure (loss against LR, suggestions and divergence marked)."""
        from lrsweep.render.figures import INSTALL_HINT
        from lrsweep.render.find import find_figure

        figure = find_figure(self.range_test)  # no pyplot: a notebook's backend stays as it is
        if figure is None:
            raise UsageError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}")
        return figure

    def png(self) -> bytes:
        """The figure as PNG bytes; needs matplotlib."""
        from lrsweep.render.find import png_bytes

        return png_bytes(self.figure())

    def plot(self, path: str | Path | None = None) -> Path | Figure:
        """The figure: written to ``path`` (default: the run directory's plots/find.png) and its path returned;
        with neither a path nor a run directory, the matplotlib Figure itself (a notebook shows it)."""
        from lrsweep.run.files import atomic_write_bytes

        if path is not None:
            target = Path(path)
        elif self.run_dir is not None:
            target = self.run_dir / "plots" / "find.png"
        else:
            return self.figure()
        atomic_write_bytes(target, self.png())
        return target


def find_rows(result: FinderResult) -> list[dict[str, Any]]:
    return [
        {"step": i, "lr": lr, "loss": loss, "smoothed": sm}
        for i, (lr, loss, sm) in enumerate(zip(result.lrs, result.losses, result.smoothed))
    ]


def finder_settings(settings: FinderSettings | None, suggest: str, **fields: Any) -> FinderSettings:
    """``settings`` (default: FinderSettings') with the fields given (not None) replaced; ``suggest`` checked."""
    if suggest not in SUGGESTERS:
        raise UsageError(f"suggest: got {suggest!r} (valid: {', '.join(SUGGESTERS)})")
    chosen = {k: v for k, v in fields.items() if v is not None}
    return replace(settings or FinderSettings(), **chosen) if chosen else (settings or FinderSettings())


def check_plot(plot: bool) -> None:
    """``plot=True`` needs matplotlib: refused before the test runs, so a missing extra costs no time."""
    import importlib.util

    from lrsweep.render.figures import INSTALL_HINT

    if plot and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}")


def save_find(
    out: Path, name: str, config: dict, meta: dict, result: FinderResult, plot: bool = False
) -> tuple[RunStore, Path | None]:
    """The run directory ``<out>/<name>-find-<stamp>/``: config.yaml, meta.json, find.csv, find.json and, with
    ``plot``, plots/find.png (matplotlib draws it in about 0.7 s, more than a short test takes; ``lrsweep plot
    RUN_DIR`` or :meth:`FindResult.plot` draws it later). Returns the store and the plot's path."""
    from lrsweep.run.store import RunStore

    store = RunStore.create(out, f"{name}-find")
    store.write_config(config)
    store.write_meta({**meta, "finished": now()})
    store.write_find(find_rows(result), result.to_dict())
    if not plot:
        return store, None
    from lrsweep.render.find import find_png

    png = find_png(result)
    return store, (store.write_plot("find.png", png) if png is not None else None)
