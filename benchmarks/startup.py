"""What every command costs besides its work: interpreter start, imports, the config check, teardown.

    python benchmarks/startup.py                          # this checkout, fastest of 5 of each command
    python benchmarks/startup.py --python /tmp/origvenv/bin/python --cwd /tmp/orig   # another checkout
    python benchmarks/startup.py --tree before=/tmp/origvenv/bin/python:/tmp/orig \\
        --tree after=.venv/bin/python:.  --threads 1      # several checkouts, their runs interleaved
    python benchmarks/startup.py --save after.json --against before.json             # a saved run as a column
    python benchmarks/startup.py --skip tune -n 7

1. Commands, each in a fresh subprocess, fastest of ``-n`` (rounds interleave the commands, so a busy
   minute slows all of them alike): ``python -c "import torch"``, ``python -c "import lrsweep"``,
   ``lrsweep --help``, ``lrsweep validate``, ``grid``, ``find`` and ``tune`` on the quick start config
   (``configs/quickstart.yaml``, what the README's first command runs), run directories in a temporary
   folder. ``lrsweep`` is the console script beside ``--python`` (as a user runs it). Wall seconds, and the
   child's CPU seconds (user + system), which a busy machine inflates far less than the wall.
2. The breakdown of one ``grid`` (and one ``find``) run, fastest of ``-n`` per phase: the command runs under
   ``python -X importtime`` through a driver that times lrsweep's own functions (wrapped right after their
   module is imported, so nothing is imported earlier than the command imports it) and writes marks to
   stderr between the interpreter's import lines. Each phase's time is exclusive: imports done inside it
   and files written inside it (the training writes metrics, checkpoints, model.pt) are counted under
   ``import`` and ``files``. ``start`` is exec to the driver's first line, ``teardown`` the process exit
   after the command returned (or called ``os._exit``), ``other`` the rest (parsing options, devices,
   the tables printed). The driver's import lines cost a little; its total is near, not equal, to the
   command's own.

The load average (1 minute) is printed before and after: on a shared machine compare runs made at a
similar load, and prefer the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = "configs/quickstart.yaml"
COMMANDS = {
    "import torch": ["-c", "import torch"],
    "import lrsweep": ["-c", "import lrsweep"],
    "lrsweep --help": ["--help"],
    "lrsweep validate": ["validate", CONFIG],
    "lrsweep grid": ["grid", CONFIG, "--out", "{out}"],
    "lrsweep find": ["find", CONFIG, "--out", "{out}"],
    "lrsweep tune": ["tune", CONFIG, "--out", "{out}"],
}
SHORT = {name: name.split()[-1] for name in COMMANDS}  # --skip names: torch, lrsweep, --help, validate, ...
PHASES = ("start", "import", "config", "data", "training", "files", "plots", "other", "teardown")
BREAKDOWNS = {"grid": ["grid", CONFIG, "--out", "{out}"], "find": ["find", CONFIG, "--out", "{out}"]}

# What the driver times: module -> {function (or Class.prefix*) -> phase}. Absent names are skipped, so
# the same driver measures an older checkout.
PATCHES = {
    "lrsweep.api.sweep": {
        "load_for_grid": "config",
        "preflight_located": "config",
        "load_splits": "data",
        "sweep": "training",
        "open_store": "files",
        "finish": "files",
    },
    "lrsweep.api.rangetest": {
        "load_config_any": "config",
        "load_splits": "data",
        "run_find": "training",  # the range test, its model and optimizer built (data: load_splits, inside)
        "save_find": "files",
    },
    "lrsweep.run.store": {"RunStore.write_*": "files", "RunStore.create_*": "files"},
    "lrsweep.render.find": {"find_png": "plots"},
    "lrsweep.render.plots": {"write_plots": "plots"},
}


def driver_source() -> str:
    """The driver: marks on stderr, lrsweep's functions wrapped as their modules load, then the CLI."""
    return f"""
import os, sys, time
def _mark(what, phase="-"):
    os.write(2, ("\\n@@startup %s %s %.6f\\n" % (what, phase, time.time())).encode())
_mark("start")
import functools, importlib.abc, importlib.machinery
PATCHES = {PATCHES!r}

def _timed(function, phase):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        _mark("enter", phase)
        try:
            return function(*args, **kwargs)
        finally:
            _mark("exit", phase)
    return timed

def _patch(module):
    for name, phase in PATCHES[module.__name__].items():
        owner, _, attr = name.rpartition(".")
        target = getattr(module, owner, None) if owner else module
        if target is None:
            continue
        names = [n for n in vars(target) if n.startswith(attr[:-1])] if attr.endswith("*") else [attr]
        for n in names:
            if callable(vars(target).get(n)):
                setattr(target, n, _timed(getattr(target, n), phase))

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module
            def exec_module(module, run=run):
                run(module)
                _patch(module)
            spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Finder())
_exit = os._exit
def _fast_exit(code):
    _mark("end")
    _exit(code)
os._exit = _fast_exit
sys.argv = ["lrsweep", *sys.argv[1:]]
try:
    from lrsweep.cli import main
    main()
finally:
    _mark("end")
"""


@dataclass
class Tree:
    """A checkout to measure: its interpreter, its root, the environment its commands run in."""

    label: str
    python: str
    cwd: Path
    env: dict = field(default_factory=dict)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default=sys.executable, help="the interpreter of the checkout to measure")
    p.add_argument("--cwd", type=Path, default=Path(__file__).resolve().parents[1], help="the checkout's root")
    p.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=PYTHON:CWD",
        help="measure several checkouts in one run, their runs interleaved (repeatable; replaces --python/--cwd)",
    )
    p.add_argument("-n", type=int, default=5, help="runs of each command (the fastest is reported; >= 5)")
    p.add_argument("--skip", action="append", default=[], help=f"leave a command out: {', '.join(SHORT.values())}")
    p.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for every run (a shared machine: 1 keeps training's share steady)"
    )
    p.add_argument("--no-breakdown", action="store_true", help="only the commands' totals")
    p.add_argument("--save", type=Path, help="write the figures as JSON here")
    p.add_argument("--against", type=Path, help="a --save file of one checkout, printed as the first column")
    return p.parse_args(argv)


def trees_of(args) -> list[Tree]:
    given = [t.partition("=") for t in args.tree] or [("this", "=", f"{args.python}:{args.cwd}")]
    trees = []
    for label, _, where in given:
        python, _, cwd = where.partition(":")
        # PYTHONPATH: the checkout in cwd is what runs, whichever tree the interpreter's editable install names
        env = {**os.environ, "PYTHONPATH": str(Path(cwd).resolve()), "COLUMNS": "100"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
        trees.append(Tree(label, os.path.abspath(python), Path(cwd).absolute(), env))  # abspath: keep the venv
    return trees


def script_of(python: str) -> str:
    """The ``lrsweep`` console script installed beside ``python``."""
    script = Path(python).parent / "lrsweep"
    if not script.exists():
        raise SystemExit(f"no lrsweep console script beside {python}")
    return str(script)


def timed_run(argv: list[str], tree: Tree) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the child's own: a busy machine inflates it far less)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=tree.cwd, env=tree.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def command_argv(name: str, tree: Tree, out: str) -> list[str]:
    tail = [part.replace("{out}", out) for part in COMMANDS[name]]
    return [tree.python, *tail] if tail[0] == "-c" else [script_of(tree.python), *tail]


def measure_commands(trees: list[Tree], names: list[str], n: int, out: str) -> dict[str, dict[str, dict]]:
    """Per tree: each command's fastest wall seconds and fastest CPU seconds of ``n`` runs."""
    wall = {t.label: {name: float("inf") for name in names} for t in trees}
    cpu = {t.label: {name: float("inf") for name in names} for t in trees}
    for _ in range(n):
        for tree in trees:
            for name in names:
                seconds, used = timed_run(command_argv(name, tree, out), tree)
                wall[tree.label][name] = min(wall[tree.label][name], seconds)
                cpu[tree.label][name] = min(cpu[tree.label][name], used)
    return {"wall": wall, "cpu": cpu}


def breakdown(tree: Tree, tail: list[str], out: str) -> dict:
    """One run under the driver: each phase's exclusive seconds, and the heaviest top-level imports."""
    argv = [tree.python, "-X", "importtime", "-c", driver_source(), *[p.replace("{out}", out) for p in tail]]
    begun = time.time()
    done = subprocess.run(argv, cwd=tree.cwd, env=tree.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(tail)} (driver) exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return attribute(done.stderr.decode(errors="replace").splitlines(), begun, ended)


def attribute(lines: list[str], begun: float, ended: float) -> dict:
    """Seconds per phase from the marks and import lines on stderr (in the order they were written)."""
    seconds = dict.fromkeys(PHASES, 0.0)
    imports: list[tuple[float, str, str]] = []
    stack = ["other"]
    last = start = end = None
    for line in lines:
        if line.startswith("@@startup "):
            _, what, phase, stamp = line.split()
            t = float(stamp)
            if what == "start":
                start = last = t
                continue
            if what == "end":
                end = end or t
            if last is not None:
                seconds[stack[-1]] += t - last
            last = t
            if what == "enter":
                stack.append(phase)
            elif what == "exit":
                stack.pop()
        elif line.startswith("import time:") and "|" in line and start is not None and end is None:
            _, cumulative, name = line.split("|")
            if name.startswith("   "):  # nested: counted in its top-level import's cumulative time
                continue
            if cumulative.strip().isdigit():
                took = int(cumulative) / 1e6
                seconds["import"] += took
                seconds[stack[-1]] -= took
                imports.append((took, name.strip(), stack[-1]))
    if start is None or end is None:
        raise SystemExit("the driver wrote no start/end marks")
    seconds["start"] = start - begun
    seconds["teardown"] = ended - end
    heavy = [{"module": m, "seconds": s, "phase": p} for s, m, p in sorted(imports, reverse=True)[:8]]
    return {"phases": seconds, "total": ended - begun, "imports": heavy}


def fastest_breakdowns(trees: list[Tree], n: int, out: str) -> dict[str, dict[str, dict]]:
    """Per tree and command: each phase's fastest of ``n`` runs, the total and imports of the fastest run."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(n):
        for tree in trees:
            for label, tail in BREAKDOWNS.items():
                runs.setdefault((tree.label, label), []).append(breakdown(tree, tail, out))
    found: dict[str, dict[str, dict]] = {}
    for (tree_label, label), done in runs.items():
        fastest = min(done, key=lambda r: r["total"])
        phases = {p: min(r["phases"][p] for r in done) for p in PHASES}
        found.setdefault(tree_label, {})[label] = {
            "phases": phases,
            "total": fastest["total"],
            "imports": fastest["imports"],
        }
    return found


def load() -> float:
    return os.getloadavg()[0]


def print_table(title: str, columns: dict[str, dict[str, float]]) -> None:
    """Rows of seconds, one column per checkout (and what the last saves against the first)."""
    labels = list(columns)
    rows = list(next(iter(columns.values())))
    saved = len(labels) > 1
    print(f"\n{title}")
    print(f"  {'':<20}" + "".join(f" {label:>9}" for label in labels) + (f" {'saved':>9}" if saved else ""))
    for row in rows:
        values = [columns[label].get(row) for label in labels]
        cells = "".join(f" {v:9.2f}" if v is not None else f" {'-':>9}" for v in values)
        if saved and values[0] is not None and values[-1] is not None:
            cells += f" {values[0] - values[-1]:9.2f}"
        print(f"  {row:<20}{cells}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.n < 1:
        raise SystemExit("-n must be at least 1")
    trees = trees_of(args)
    names = [name for name in COMMANDS if SHORT[name] not in args.skip]
    before = json.loads(args.against.read_text()) if args.against else None
    figures: dict = {"trees": {t.label: f"{t.python}:{t.cwd}" for t in trees}, "n": args.n, "threads": args.threads}
    figures["load_before"] = load()
    threads = f", OMP_NUM_THREADS={args.threads}" if args.threads else ""
    for tree in trees:
        print(f"{tree.label}: {tree.python} in {tree.cwd}")
    print(f"fastest of {args.n}{threads}; load average (1 min) before: {figures['load_before']:.2f}")
    with tempfile.TemporaryDirectory(prefix="lrsweep-startup-") as out:
        for tree in trees:
            for name in names[:3]:  # warm the file cache (and .pyc files) once, uncounted
                timed_run(command_argv(name, tree, out), tree)
        figures["commands"] = measure_commands(trees, names, args.n, out)
        if not args.no_breakdown:
            figures["breakdowns"] = fastest_breakdowns(trees, args.n, out)
    figures["load_after"] = load()
    report(figures, before)
    print(f"\nload average (1 min) after: {figures['load_after']:.2f}")
    if args.save:
        args.save.write_text(json.dumps(figures, indent=1) + "\n")


def report(figures: dict, before: dict | None) -> None:
    for kind, title in (("wall", "wall seconds"), ("cpu", "CPU seconds (user + system)")):
        commands = figures["commands"][kind]
        if before is not None:
            commands = {"before": next(iter(before["commands"][kind].values())), **commands}
        print_table(f"{title} per command (fresh process, fastest of {figures['n']})", commands)
    for label in BREAKDOWNS:
        found = {t: b[label] for t, b in figures.get("breakdowns", {}).items()}
        if not found:
            continue
        if before is not None and before.get("breakdowns"):
            found = {"before": next(iter(before["breakdowns"].values()))[label], **found}
        columns = {t: {**b["phases"], "total (driver)": b["total"]} for t, b in found.items()}
        print_table(f"lrsweep {label}: seconds per phase (exclusive; fastest of {figures['n']} each)", columns)
        for tree, b in found.items():
            heavy = ", ".join(f"{i['module']} {i['seconds']:.2f} ({i['phase']})" for i in b["imports"][:5])
            print(f"  {tree}, heaviest imports: {heavy}")


if __name__ == "__main__":
    main()
