"""Two runs of ``benchmarks/selection.py --time --json`` side by side (before and after a change to tune): the
README's markdown table, a row per task present in both, tune and grid5 from each run and their wall ratio
(each measured in its own run, task by task: the ratio is the figure that survives a shared machine's load),
and any other strategy from the run that has it.

    python benchmarks/selection_compare.py before.json after.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection_report import KINDS, Row, cell, ratio_cell, summary_cells, tune_ratio  # noqa: E402


def _rows(task: dict) -> dict[str, Row]:
    return {s: Row(**r) for s, r in task["strategies"].items()}


def markdown(before: dict, after: dict) -> str:
    names = [t["task"] for t in after["tasks"] if t["task"] in {b["task"] for b in before["tasks"]}]
    old = {t["task"]: t for t in before["tasks"]}
    new = {t["task"]: t for t in after["tasks"]}
    extra = [s for s in before["meta"]["strategies"] if s not in ("tune", "grid5")]
    b_budget, a_budget = before["meta"]["budget"], after["meta"]["budget"]
    head = ["task", "kind", "good band", f"tune before (budget {b_budget:g})", f"tune after (budget {a_budget:g})"]
    head += ["grid5 (after's run)", "tune ÷ grid5 wall: before", "after", *(f"{s} (before's run)" for s in extra)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    ratios: dict[str, list] = {"before": [], "after": []}
    for name in names:
        rb, ra = _rows(old[name]), _rows(new[name])
        low, high = new[name]["band"]
        qb, qa = tune_ratio(rb), tune_ratio(ra)
        ratios["before"] += [qb] if qb else []
        ratios["after"] += [qa] if qa else []
        cells = [name + (" (held out)" if new[name]["held_out"] else ""), KINDS.get(name, ""), f"{low:.2g}–{high:.2g}"]
        cells += [cell(rb["tune"]), cell(ra["tune"]), cell(ra["grid5"])]
        cells += [f"{qb[0]:.2f}" if qb else "", f"{qa[0]:.2f}" if qa else ""]
        cells += [cell(rb[s]) for s in extra]
        lines.append("| " + " | ".join(cells) + " |")
    per_b = [_rows(old[n]) for n in names]
    per_a = [_rows(new[n]) for n in names]
    summary = [*summary_cells(per_b, ["tune"]), *summary_cells(per_a, ["tune", "grid5"])]
    summary += [ratio_cell(ratios["before"]), ratio_cell(ratios["after"]), *summary_cells(per_b, extra)]
    lines.append("| **in band · mean trainings · mean s** | | | " + " | ".join(f"**{c}**" for c in summary) + " |")
    loads = f"load average (1 min) {before['meta']['load']} before, {after['meta']['load']} after"
    lines.append(f"\n{len(names)} tasks; {before['meta']['cpus']} CPUs; {loads} (start, end).")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a selection.py --time --json file (before the change)")
    parser.add_argument("after", type=Path, help="... and after it")
    args = parser.parse_args()
    for path in (args.before, args.after):
        if not path.is_file():
            parser.error(f"no such file: {path}")
    print(markdown(*(json.loads(path.read_text()) for path in (args.before, args.after))))
