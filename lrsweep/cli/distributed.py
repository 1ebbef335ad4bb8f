"""``lrsweep merge``: one summary from the shards of a sweep (``grid --shard I/N``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrsweep.cli.app import app
from lrsweep.cli.common import JsonOption, print_json, stdout_console, user_errors


@app.command()
def merge(
    run_dir: Annotated[Path, typer.Argument(help="The run directory the shards share (<out>/<name>-<fingerprint>).")],
    json_out: JsonOption = False,
) -> None:
    """Combine the shards of a sweep into the summary of one unsharded run (summary.csv/.json), and say
    which variants are still missing. Exit code 0 when every variant has finished, 1 otherwise.

    Once all have finished,  lrsweep grid --resume RUN_DIR  retrains the best (with retrain: true).
    """
    from lrsweep import api
    from lrsweep.render.tables import summary_table, verdict

    with user_errors():
        merged = api.merge(run_dir)
        summary = merged.summary
        if json_out:
            print_json(summary)
        else:
            console = stdout_console()
            console.print(summary_table(summary))
            if summary["best"] is not None or not summary["missing"]:  # else "nothing finished" misleads
                console.print(verdict(summary))
            console.print(merge_note(summary, merged.retrain), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1 if summary["missing"] else 0)


def merge_note(summary: dict, retrain: bool) -> str:
    """What the merge found, and what to run next."""
    total, missing = len(summary["variants"]), summary["missing"]
    shards = ", ".join(summary["shards"]) or "none"
    if not missing:
        lines = [f"All {total} variants finished (shards here: {shards})."]
        if retrain and not summary.get("retrain"):
            lines.append(f"Retrain the best on train+val:  lrsweep grid --resume {summary['run_dir']}")
        return "\n".join(lines)
    lines = [f"{len(missing)} of {total} variants not finished (shards here: {shards}):"]
    by_shard: dict[str, list[dict]] = {}
    for entry in missing:
        by_shard.setdefault(entry["shard"] or "?", []).append(entry)
    for shard, entries in sorted(by_shard.items()):
        ids = ", ".join(f"{e['id']} ({e['status']})" for e in entries)
        lines.append(f"  shard {shard}: {ids}")
    lines.append(
        f"Run those shards again (grid CONFIG --shard I/N --out ...), or all that is left here:  "
        f"lrsweep grid --resume {summary['run_dir']}"
    )
    return "\n".join(lines)
