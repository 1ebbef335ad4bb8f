"""Reading run directories back, from their files alone (no torch): ``load_run``, ``merge``, plots.

A summary written by a finished sweep is used while it agrees with the status files; otherwise (a run
in progress, or one killed before it could write its summary) it is rebuilt from each variant's
status.json and metrics.csv with the same pure code a finishing sweep uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrsweep.run.store import RunStore

DETAIL_KEYS = (
    "fingerprint",
    "started",
    "finished",
    "outcome",
    "host",
    "device",
    "git_sha",
    "git_dirty",
    "extensions",
    "resumes",
)  # what show --json adds from meta.json


@dataclass
class Run:
    """A run directory as data: what ``lrsweep show`` prints, and each variant's per-epoch metrics."""

    run_dir: Path
    config: dict  # config.yaml as it ran (``lrsweep.api.load_config_any(run.config)`` makes it a Config)
    meta: dict  # meta.json
    summary: dict | None  # the sweep's summary (None for a range test's directory)
    find: dict | None = None  # find.json of a range test's directory
    shards: list[str] = field(default_factory=list)  # the shard slices that ran here (I-of-N)
    _store: RunStore | None = field(default=None, repr=False)  # load_run's; a Run built by hand opens run_dir

    @property
    def kind(self) -> str:
        return "find" if self.find is not None else "sweep"

    @property
    def details(self) -> dict:
        """Where the run is and how it went (what ``show --json`` adds to the summary)."""
        return {
            "run_dir": str(self.run_dir),
            "meta": {k: self.meta[k] for k in DETAIL_KEYS if k in self.meta},
            "running": self._store.writers() if self._store is not None else [],
        }

    def in_progress(self) -> list[dict]:
        """Variants with epochs on disk but not finished: ``{id, epochs, last}`` (a run that trains, or stopped)."""
        from lrsweep.select.summary import COMPLETE_STATUSES

        return self._files().in_progress(COMPLETE_STATUSES)

    @property
    def best(self):
        """The winner as :class:`lrsweep.api.Best` (None when nothing finished, or for a range test)."""
        from lrsweep.api.sweep import Best

        return Best.from_summary(self.summary) if self.summary else None

    def table(self) -> list[dict]:
        """One plain dict per variant, ranked, with summary.csv's columns."""
        from lrsweep.select.summary import summary_columns

        summary = self.summary or {}
        return [{c: row.get(c) for c in summary_columns(summary)} for row in summary.get("variants", [])]

    def metrics(self, variant: str | None = None) -> list[dict]:
        """One row per epoch (metrics.csv) of ``variant`` (an id; None or "retrain": the retrain)."""
        from lrsweep.run.store import RETRAIN_ID

        return self._files().read_metrics(variant or RETRAIN_ID)

    def all_metrics(self) -> dict[str, list[dict]]:
        """Per variant id (and "retrain" when it ran): its per-epoch rows."""
        from lrsweep.run.store import RETRAIN_ID

        ids = [row["id"] for row in (self.summary or {}).get("variants", [])]
        store = self._files()
        found = {vid: store.read_metrics(vid) for vid in ids}
        retrained = store.read_metrics(RETRAIN_ID)
        return {**found, **({RETRAIN_ID: retrained} if retrained else {})}

    def _files(self) -> RunStore:
        if self._store is None:
            self._store = open_run(self.run_dir)
        return self._store

    def range_test(self):
        """A range test's :class:`lrsweep.select.finder.FinderResult` (None for a sweep)."""
        from lrsweep.select.finder import FinderResult

        return FinderResult.from_dict(self.find) if self.find is not None else None


def load_run(run_dir: str | Path) -> Run:
    """A run directory as a :class:`Run` (raises RunDirError when it is not one)."""
    store = open_run(run_dir)
    found = store.read_find()
    summary = None if found is not None else load_summary(store)
    return Run(
        run_dir=store.path,
        config=store.read_config(),
        meta=store.read_meta(),
        summary=summary,
        find=found,
        shards=store.shard_labels(),
        _store=store,
    )


def open_run(path: str | Path) -> RunStore:
    from lrsweep.run.store import RunStore

    return RunStore.open(Path(path))


def run_summary(run_dir: str | Path) -> dict | None:
    """The summary.json of a run directory as written (None before the first one)."""
    return open_run(run_dir).read_summary()


def summary_of(run_dir: str | Path) -> dict:
    """The run's summary as it stands (see :func:`load_summary`), with ``run_dir``: what a run stopped by a
    full disk had finished."""
    store = open_run(run_dir)
    summary = load_summary(store)
    summary["run_dir"] = str(store.path)
    return summary


def load_summary(store) -> dict:
    """The run's summary: summary.json while it agrees with the status files, else rebuilt from them."""
    written = store.read_summary()
    if written is not None and not _stale(store, written):
        return written
    return rebuild_summary(store, previous=written)


def _stale(store, summary: dict) -> bool:
    """True when a status file says something the summary does not (e.g. a resume is running)."""
    config = store.read_config()
    recorded = {row["id"]: row["status"] for row in summary["variants"]}
    for vid in store.variant_ids():
        status = store.read_status(vid) or {}
        if vid in recorded:
            if status.get("status", "pending") != recorded[vid]:
                return True
        elif status.get("variant") and _in_grid(status["variant"], config):
            return True
    return False


def rebuild_summary(store, previous: dict | None = None) -> dict:
    """A summary from status.json + metrics.csv files (variants never started count as pending)."""
    from lrsweep.run.store import RETRAIN_ID
    from lrsweep.select.health import Scoring
    from lrsweep.select.summary import summarize, variant_row

    config = store.read_config()
    select = config.get("select") or {}
    scoring = Scoring.of(select)
    rows = []
    for vid in store.variant_ids():
        status = store.read_status(vid)
        if status and status.get("variant") and _in_grid(status["variant"], config):
            rows.append(variant_row(status["variant"], status, store.read_metrics(vid), scoring))
    summary = summarize(
        config.get("name", store.path.name),
        scoring.metric,
        rows,
        direction=select.get("mode"),
        retrain=(previous or {}).get("retrain") or _retrain_entry(store.read_status(RETRAIN_ID)),
        at=scoring.at,
        lr_scaling=(config.get("lr_scaling") or {}).get("rule", "none"),
    )
    notes = [s["engine_note"] for s in map(store.read_status, store.variant_ids()) if s and s.get("engine_note")]
    if notes:  # as the runner's summary has them: why variants trained one at a time
        summary["notices"] = list(dict.fromkeys(notes))
    missing = expected_variants(config) - len(rows)
    if missing > 0:
        summary["status_counts"]["pending"] = summary["status_counts"].get("pending", 0) + missing
        summary["complete"] = False
    return summary


def _in_grid(described: dict, config: dict) -> bool:
    """False for a variant left over from a grid that a --force'd resume changed (its lr, batch size or seed is
    gone). A variant whose lr lr_scaling scaled is judged by the grid's lr it came from (``base_lr``)."""
    lrs, seeds = config.get("lr"), config.get("seeds")
    sizes = (config.get("data") or {}).get("batch_size")
    lr = described.get("base_lr", described.get("lr"))
    size = described.get("batch_size")
    return (
        (not isinstance(lrs, list) or lr in lrs)
        and (not isinstance(seeds, list) or described.get("seed") in seeds)
        and (size is None or not isinstance(sizes, list) or size in sizes)
    )


def expected_variants(config: dict) -> int:
    """How many variants the resolved config.yaml expands to (lr × optimizer × scheduler × batch size × seed)."""

    def count(value):
        return len(value) if isinstance(value, list) else (0 if value is None else 1)

    axes = [config.get(k) for k in ("lr", "optimizer", "scheduler", "seeds")] + [
        (config.get("data") or {}).get("batch_size")
    ]
    total = 1
    for axis in axes:
        total *= max(1, count(axis))
    return total


def _retrain_entry(status: dict | None) -> dict | None:
    if not status:
        return None
    variant = status.get("variant") or {}
    keys = ("status", "epochs_run", "stop_epoch", "test_loss", "test_acc")
    further = {k: v for k, v in status.items() if k.startswith("test_") and k not in keys}
    entry = {"id": variant.get("id"), "lr": variant.get("lr"), "batch_size": variant.get("batch_size")}
    return {**entry, **{k: status.get(k) for k in keys}, **further, **{k: status.get(k) for k in ("seconds", "error")}}


def compare_runs(run_dirs: list[str | Path]) -> dict[str, dict]:
    """Per label (the directory name, or the whole path where two runs share a name): summary + details."""
    from lrsweep.errors import UsageError

    if len(run_dirs) < 2:
        raise UsageError(f"compare needs two or more run directories, got {len(run_dirs)}")
    names = [Path(p).name for p in run_dirs]
    runs = {}
    for path in run_dirs:
        run = load_run(path)
        if run.find is not None:
            raise UsageError(
                f"{path} is a range test (lrsweep find), not a sweep: compare needs sweep run "
                f"directories (lrsweep show {path} prints the range test)"
            )
        label = Path(path).name if names.count(Path(path).name) == 1 else str(path)
        runs[label] = {**(run.summary or {}), **run.details}
    return runs


def plot_run(run_dir: str | Path) -> list[Path]:
    """PNG figures of a sweep, a tune run (tune.png too) or a range test (find.png) into RUN_DIR/plots/; their paths."""
    from lrsweep.errors import RunDirError
    from lrsweep.render.figures import pyplot
    from lrsweep.render.find import find_png
    from lrsweep.render.plots import write_plots
    from lrsweep.render.tune_plots import write_tune_plots

    store = open_run(run_dir)
    tuned = store.read_tune()
    if tuned is not None:
        summary = store.read_summary()  # a tune run's: every variant tried, each with its stage
        if summary is None or not summary.get("tune"):
            raise RunDirError(f"{store.path}: the tune run has not finished (resume it: lrsweep tune --resume)")
        return [*write_tune_plots(store, tuned, summary), *write_plots(store, summary)]
    found = store.read_find()
    if found is None:
        return write_plots(store, load_summary(store))
    from lrsweep.select.finder import FinderResult

    pyplot()  # a UsageError naming the install command when matplotlib is missing
    png = find_png(FinderResult.from_dict(found))
    assert png is not None, "find_png returns None only without matplotlib, which pyplot() found"
    return [store.write_plot("find.png", png)]


@dataclass
class MergeResult:
    """One summary from the shards of a sweep; ``summary['missing']`` lists what has not finished."""

    run_dir: Path
    summary: dict
    retrain: bool  # the config retrains the best once every variant has finished

    @property
    def complete(self) -> bool:
        return not self.summary["missing"]


def merge(run_dir: str | Path) -> MergeResult:
    """Combine the shards of a sweep into the summary of one unsharded run (``lrsweep merge``); writes it."""
    from lrsweep.config import parse_config
    from lrsweep.sweep.runner import merge_run

    store = open_run(run_dir)
    config = parse_config(store.read_config(), source=str(store.path / "config.yaml"))
    summary = merge_run(config, store)
    summary["run_dir"] = str(store.path)
    return MergeResult(run_dir=store.path, summary=summary, retrain=config.retrain)


@dataclass
class TuneRun:
    """A tune run's directory as data: what ``lrsweep show`` prints of it."""

    run_dir: Path
    tune: dict  # tune.json: the pick, the band, the cost, the stages
    summary: dict  # the summary it wrote at the end, or (still running) its variants read from their files
    details: dict  # where the run is and how it went (what ``show --json`` adds)


def load_tune_run(run_dir: str | Path) -> TuneRun | None:
    """A tune run's directory as a :class:`TuneRun`; None for any other run directory (RunDirError: not one)."""
    store = open_run(run_dir)
    tuned = store.read_tune()
    if tuned is None:
        return None
    meta = store.read_meta()
    details = {"run_dir": str(store.path), "meta": {k: meta[k] for k in DETAIL_KEYS if k in meta}}
    return TuneRun(run_dir=store.path, tune=tuned, summary=_tune_summary(store), details=details)


def _tune_summary(store) -> dict:
    """A tune run's summary: the one it wrote at the end, or (still running) its variants read from their files."""
    from lrsweep.select.summary import variant_row

    written = store.read_summary()
    if written is not None and written.get("tune"):
        return written
    from lrsweep.select.health import Scoring

    config = store.read_config()
    scoring = Scoring.of(config.get("select") or {})
    rows = []
    for vid in store.variant_ids():
        status = store.read_status(vid)
        if status and status.get("variant"):
            row = variant_row(status["variant"], status, store.read_metrics(vid), scoring)
            rows.append({**row, "stage": status.get("stage")})
    metric = (config.get("select") or {}).get("metric", "val_loss")
    return {"name": config.get("name"), "metric": metric, "variants": rows, "groups": [], "best": None}


def load_preview(path: str | Path) -> dict | None:
    """The record of a schedule preview's folder (:func:`preview_file`); None for any other directory."""
    from lrsweep.run.files import checks, read_json

    preview = preview_file(path)
    if not preview.is_file() or (Path(path) / "config.yaml").exists():
        return None
    return checks.expect_dict(read_json(preview), preview)


def preview_file(path: str | Path) -> Path:
    """Where a schedule preview's folder keeps its record (preview.json)."""
    from lrsweep.run.store import PREVIEW_JSON

    return Path(path) / PREVIEW_JSON
