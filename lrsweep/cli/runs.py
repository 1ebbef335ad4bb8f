"""``lrsweep show``, ``compare`` and ``plot``: read run directories back, from files alone.

Nothing here imports torch, so reading results starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import JsonOption, print_json, stdout_console, user_errors
from lrsweep.cli.console import clean
from lrsweep.errors import RunDirError

RunDirArg = Annotated[Path, typer.Argument(help="A run directory (runs/<name>-<stamp>).")]


@app.command()
def show(run_dir: RunDirArg, json_out: JsonOption = False) -> None:
    """Print a run directory's tables again, from its files (no training, no torch).

    With --json, the summary as JSON:  lrsweep show runs/<run> --json | jq .best.lr
    """
    from lrsweep import api
    from lrsweep.render.tables import run_header, running_table, summary_table, verdict

    with user_errors():
        if show_preview(run_dir, json_out):
            return
        tuned = api.load_tune_run(run_dir)
        if tuned is not None:
            _show_tune(tuned, json_out)
            return
        run = api.load_run(run_dir)
        if run.find is not None:
            _show_find(run, json_out)
            return
        summary, details = run.summary, run.details
        assert summary is not None, "only a range test's directory (shown above) has no summary"
        if json_out:
            print_json({**summary, **details})
            return
        console = stdout_console()
        console.print(run_header(details, summary), markup=False, highlight=False, soft_wrap=True)
        console.print(summary_table(summary))
        in_progress = run.in_progress()
        if in_progress and details["running"]:  # training now: each unfinished variant's epochs so far
            console.print(running_table(in_progress, (run.config.get("train") or {}).get("epochs")))
        console.print(verdict(summary))
        if run.shards and not summary.get("complete", True):
            console.print(
                f"Sharded run ({', '.join(run.shards)}): lrsweep merge {run.run_dir} "
                "lists what each shard still has to train.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _show_find(run, json_out: bool) -> None:
    """A range test's directory: its suggestions and curve, as `lrsweep find` printed them."""
    from lrsweep.render.find import render_find

    if json_out:
        print_json({**run.find, **run.details})
        return
    result = run.range_test()
    stdout_console().print(render_find(result, result.default, {"run_dir": str(run.run_dir)}))


def _show_tune(tuned, json_out: bool) -> None:
    """A tune run's directory: its stage tables and verdict, as `lrsweep tune` printed them."""
    from lrsweep.render.tune import tune_tables, tune_verdict

    if json_out:
        print_json({**tuned.tune, **tuned.details})
        return
    console = stdout_console()
    for table in tune_tables(tuned.tune, tuned.summary):
        console.print(table)
    console.print(tune_verdict(tuned.tune))
    console.print(f"Results: {tuned.run_dir}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    json_out: JsonOption = False,
) -> None:
    """Sweeps side by side: the best of each, and each run's metric at every learning rate."""
    from lrsweep import api
    from lrsweep.render.compare import compare_data, compare_tables

    with user_errors():
        data = compare_data(api.compare_runs(run_dirs))
        if json_out:
            print_json(data)
            return
        console = stdout_console()
        for table in compare_tables(data):
            console.print(table)


@app.command()
def plot(run_dir: RunDirArg) -> None:
    """Write PNG figures of a run into RUN_DIR/plots/ and print their paths.

    metric_vs_lr.png: the selection metric vs lr (log axis), seed mean ± std, a line per optimizer/scheduler.

    loss_curves.png: train and val loss per epoch, a panel per variant.

    lr_schedule.png: the learning rate per epoch (per optimizer step where recorded).

    Needs matplotlib:  pip install 'lrsweep\\[plot]'
    """
    from lrsweep import api

    with user_errors():
        for path in api.plot_run(run_dir):
            typer.echo(clean(str(path)))


def show_preview(path: Path, json_out: bool) -> bool:
    """A schedule preview's folder (preview.json): its tables again; False for any other directory."""
    from lrsweep import api
    from lrsweep.render.schedules import preview_tables

    data = api.load_preview(path)
    if data is None:
        return False
    if json_out:
        print_json(data)
        return True
    console = stdout_console()
    try:
        for table in preview_tables(data):
            console.print(table)
    except (KeyError, TypeError, ValueError, IndexError):
        raise RunDirError(f"{api.preview_file(path)}: not a preview lrsweep wrote (edited or damaged)") from None
    return True
