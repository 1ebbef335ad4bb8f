"""``lrsweep show``, ``compare`` and ``plot``: read run directories back, from files alone.

Nothing here imports torch, so reading results starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import JsonOption, print_json, stdout_console, user_errors

RunDirArg = Annotated[Path, typer.Argument(help="A run directory (runs/<name>-<stamp>).")]


def load_summary(store) -> dict:
    """The run's summary: summary.json while it agrees with the status files, else rebuilt from them.

    A run still in progress (or killed without a chance to write its summary) is rebuilt from
    each variant's status.json and metrics.csv with the same pure code a finishing sweep uses.
    """
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
    from lrsweep.store import RETRAIN_ID
    from lrsweep.summary import summarize, variant_row

    config = store.read_config()
    rows = []
    for vid in store.variant_ids():
        status = store.read_status(vid)
        if status and status.get("variant") and _in_grid(status["variant"], config):
            rows.append(variant_row(status["variant"], status, store.read_metrics(vid)))
    summary = summarize(config.get("name", store.path.name), (config.get("select") or {}).get("metric", "val_loss"),
                        rows, retrain=(previous or {}).get("retrain") or _retrain_entry(store.read_status(RETRAIN_ID)))
    missing = expected_variants(config) - len(rows)
    if missing > 0:
        summary["status_counts"]["pending"] = summary["status_counts"].get("pending", 0) + missing
        summary["complete"] = False
    return summary


def _in_grid(described: dict, config: dict) -> bool:
    """False for a variant left over from a grid that a --force'd resume changed (its lr or seed is gone)."""
    lrs, seeds = config.get("lr"), config.get("seeds")
    return (not isinstance(lrs, list) or described.get("lr") in lrs) and (
        not isinstance(seeds, list) or described.get("seed") in seeds)


def expected_variants(config: dict) -> int:
    """How many variants the resolved config.yaml expands to (lr × optimizer × scheduler × seed)."""
    def count(key):
        value = config.get(key)
        return len(value) if isinstance(value, list) else (0 if value is None else 1)

    return max(1, count("lr")) * max(1, count("optimizer")) * max(1, count("scheduler")) * max(1, count("seeds"))


def _retrain_entry(status: dict | None) -> dict | None:
    if not status:
        return None
    variant = status.get("variant") or {}
    keys = ("status", "test_loss", "test_acc", "seconds", "error")
    return {"id": variant.get("id"), "lr": variant.get("lr"), **{k: status.get(k) for k in keys}}


def open_run(path: Path):
    from lrsweep.store import RunStore

    return RunStore.open(path)


def run_details(store) -> dict:
    """What ``show --json`` adds to the summary: where the run is and how it went."""
    meta = store.read_meta()
    keep = ("fingerprint", "started", "finished", "outcome", "host", "device", "git_sha", "git_dirty", "extensions",
            "resumes")
    return {"run_dir": str(store.path), "meta": {k: meta[k] for k in keep if k in meta}}


@app.command()
def show(run_dir: RunDirArg, json_out: JsonOption = False) -> None:
    """Print a run directory's tables again, from its files (no training, no torch).

    With --json, the summary as JSON:  lrsweep show runs/<run> --json | jq .best.lr
    """
    from lrsweep.report import run_header, summary_table, verdict

    with user_errors():
        store = open_run(run_dir)
        found = store.read_find()
        if found is not None:
            _show_find(store, found, json_out)
            return
        tuned = store.read_tune()
        if tuned is not None:
            _show_tune(store, tuned, json_out)
            return
        summary = load_summary(store)
        details = run_details(store)
        if json_out:
            print_json({**summary, **details})
            return
        console = stdout_console()
        console.print(run_header(details, summary), markup=False, highlight=False, soft_wrap=True)
        console.print(summary_table(summary))
        console.print(verdict(summary))
        if store.shard_labels() and not summary.get("complete", True):
            console.print(f"Sharded run ({', '.join(store.shard_labels())}): lrsweep merge {store.path} "
                          "lists what each shard still has to train.", markup=False, highlight=False, soft_wrap=True)


def _show_find(store, found: dict, json_out: bool) -> None:
    """A range test's directory: its suggestions and curve, as `lrsweep find` printed them."""
    from lrsweep.cli.find import render_find
    from lrsweep.finder import FinderResult

    details = run_details(store)
    if json_out:
        print_json({**found, **details})
        return
    result = FinderResult.from_dict(found)
    stdout_console().print(render_find(result, result.default, {"run_dir": str(store.path)}))


def tune_summary(store) -> dict:
    """A tune run's summary: the one it wrote at the end, or (still running) its variants read from their files."""
    from lrsweep.summary import variant_row

    written = store.read_summary()
    if written is not None and written.get("tune"):
        return written
    config = store.read_config()
    rows = []
    for vid in store.variant_ids():
        status = store.read_status(vid)
        if status and status.get("variant"):
            rows.append({**variant_row(status["variant"], status, store.read_metrics(vid)), "stage": status.get("stage")})
    metric = (config.get("select") or {}).get("metric", "val_loss")
    return {"name": config.get("name"), "metric": metric, "variants": rows, "groups": [], "best": None}


def _show_tune(store, tuned: dict, json_out: bool) -> None:
    """A tune run's directory: its stage tables and verdict, as `lrsweep tune` printed them."""
    from lrsweep.report import tune_tables, tune_verdict

    details = run_details(store)
    if json_out:
        print_json({**tuned, **details})
        return
    console = stdout_console()
    for table in tune_tables(tuned, tune_summary(store)):
        console.print(table)
    console.print(tune_verdict(tuned))
    console.print(f"Results: {store.path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    json_out: JsonOption = False,
) -> None:
    """Sweeps side by side: the best of each, and each run's metric at every learning rate."""
    from lrsweep.errors import UsageError
    from lrsweep.report import compare_data, compare_tables

    with user_errors():
        if len(run_dirs) < 2:
            raise UsageError(f"compare needs two or more run directories, got {len(run_dirs)}")
        runs = {}
        for path in run_dirs:
            store = open_run(path)
            runs[_label(path, run_dirs)] = {**load_summary(store), **run_details(store)}
        data = compare_data(runs)
        if json_out:
            print_json(data)
            return
        console = stdout_console()
        for table in compare_tables(data):
            console.print(table)


def _label(path: Path, all_paths: list[Path]) -> str:
    """The directory name, or the whole path where two runs share a name."""
    names = [p.name for p in all_paths]
    return path.name if names.count(path.name) == 1 else str(path)


@app.command()
def plot(run_dir: RunDirArg) -> None:
    """Write PNG figures of a run into RUN_DIR/plots/ and print their paths.

    metric_vs_lr.png: the selection metric vs lr (log axis), seed mean ± std, a line per optimizer/scheduler
    loss_curves.png: train and val loss per epoch, a panel per variant
    lr_schedule.png: the learning rate per epoch (per optimizer step where recorded)

    Needs matplotlib:  pip install 'lrsweep\\[plot]'
    """
    from lrsweep.plots import write_plots, write_tune_plot

    with user_errors():
        store = open_run(run_dir)
        tuned = store.read_tune()
        summary = store.read_summary() if tuned is not None else load_summary(store)
        if tuned is not None and summary is None:
            from lrsweep.errors import RunDirError

            raise RunDirError(f"{store.path}: the tune run has no summary yet (resume it: lrsweep tune --resume)")
        if tuned is not None:
            typer.echo(str(write_tune_plot(store, tuned, summary)))
        for path in write_plots(store, summary):
            typer.echo(str(path))
