"""The shape of the package in five numbers: what the layout issue ("the house") measures.

    python benchmarks/layout.py                    # this checkout
    python benchmarks/layout.py --tree /tmp/orig   # another checkout (e.g. git archive c9deaec | tar -x -C /tmp/orig)
    python benchmarks/layout.py --list             # also name every circle, upward import and long file

1. entries directly under ``lrsweep/`` (files and folders, ``__pycache__`` left out);
2. import circles: strongly connected components of more than one module in grimp's graph of the
   package. Every import statement counts, also one inside a function or under ``TYPE_CHECKING``, and a
   package's ``__init__`` is a module like any other (its re-exports included);
3. upward imports: import edges from a module to one of a higher layer of the house (lowest first)::

       errors, _version < registry < data | models | optim < config < select | engine | run
         < sweep < render < api < cli < the package root (lrsweep/__init__, __main__)

   plus edges between two rooms of one layer (``select``, ``engine`` and ``run`` know nothing of each
   other; nor do ``data``, ``models`` and ``optim``). Modules of the tree before the regrouping
   (``lrsweep/store.py``, ``lrsweep/tune.py``, ...) count in the room they moved to (``ROOM_OF``);
4. Python files of the package over 400 lines;
5. imports past the API: direct imports by the CLI of the rooms it reaches only through ``lrsweep.api``
   (``run``, ``sweep``, ``engine``, ``select``) or of torch (the ``cli`` contract of pyproject.toml).

It reads the source only (grimp parses it); nothing of lrsweep is imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LINE_LIMIT = 400
LAYERS = (
    ("errors", "_version"),
    ("registry",),
    ("data", "models", "optim"),
    ("config",),
    ("select", "engine", "run"),
    ("sweep",),
    ("render",),
    ("api",),
    ("cli",),
    ("lrsweep", "__main__"),
)
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
# Where the top-level modules of the tree before the regrouping (c9deaec) went (commit bdf40d4).
ROOM_OF = {
    "tune": "api",
    "validation": "api",
    "configdiff": "config",
    "schema": "config",
    "safe_yaml": "config",
    "builtin": "config",
    "device": "engine",
    "models_resnet": "models",
    "schedulers": "optim",
    "formula": "optim",
    "plots": "render",
    "report": "render",
    "tensorboard": "render",
    "resume": "run",
    "store_checks": "run",
    "runlock": "run",
    "store": "run",
    "weights": "run",
    "edge": "select",
    "extend": "select",
    "finder": "select",
    "prune": "select",
    "strategy": "select",
    "summary": "select",
    "executors": "sweep",
    "plan": "sweep",
    "checks": "sweep",
    "runner": "sweep",
}
SPECIAL = {"lrsweep.data.describe": "config"}  # the one module that moved between two rooms
PAST_THE_API = ("run", "sweep", "engine", "select")  # what the CLI reaches only through lrsweep.api


def room(module: str) -> str:
    """The room of a module of either tree: ``lrsweep.run.store`` -> run, ``lrsweep.store`` -> run."""
    if module in SPECIAL:
        return SPECIAL[module]
    parts = module.split(".")
    if len(parts) == 1:
        return "lrsweep"
    return ROOM_OF.get(parts[1], parts[1])


def import_graph(tree: Path):
    """grimp's graph of the ``lrsweep`` package under ``tree`` (found before any installed copy), with the
    external packages it imports as single nodes (``torch``)."""
    import grimp

    sys.path.insert(0, str(tree))
    try:
        return grimp.build_graph("lrsweep", include_external_packages=True, cache_dir=None)
    finally:
        sys.path.remove(str(tree))


def circles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] == "lrsweep")
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work += [(node, j + 1), (nxt, 0)]
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return sorted(found)


def upward_imports(graph) -> list[tuple[str, str]]:
    """Import edges to a higher layer, or across two rooms of one layer."""
    bad = []
    for importer in sorted(m for m in graph.modules if m.split(".")[0] == "lrsweep"):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.split(".")[0] != "lrsweep":
                continue
            a, b = room(importer), room(imported)
            if a != b and LAYER_OF[a] <= LAYER_OF[b]:
                bad.append((importer, imported))
    return bad


def past_the_api(graph) -> list[tuple[str, str]]:
    """Direct imports by the CLI of a room it should reach only through the API, or of torch."""
    bad = []
    for importer in sorted(m for m in graph.modules if m.startswith("lrsweep.cli")):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            inside = imported.split(".")[0] == "lrsweep"
            if (inside and room(imported) in PAST_THE_API) or imported.split(".")[0] == "torch":
                bad.append((importer, imported))
    return bad


def long_files(package: Path) -> list[tuple[int, str]]:
    sizes = [(len(p.read_text().splitlines()), str(p.relative_to(package.parent))) for p in package.rglob("*.py")]
    return sorted((n, name) for n, name in sizes if n > LINE_LIMIT)


def top_entries(package: Path) -> list[str]:
    return sorted(p.name for p in package.iterdir() if p.name != "__pycache__")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent, help="a checkout")
    parser.add_argument("--list", action="store_true", help="name each circle, upward import and long file")
    args = parser.parse_args(argv)
    package = args.tree.resolve() / "lrsweep"
    graph = import_graph(args.tree.resolve())
    found, upward, long = circles(graph), upward_imports(graph), long_files(package)
    past = past_the_api(graph)
    print(f"tree: {args.tree}")
    print(f"entries directly under lrsweep/: {len(top_entries(package))}")
    print(f"import circles: {len(found)} ({sum(map(len, found))} modules in them)")
    print(f"upward imports: {len(upward)}")
    print(f"files over {LINE_LIMIT} lines: {len(long)}")
    print(f"imports past the API: {len(past)}")
    if args.list:
        print("\nentries:", " ".join(top_entries(package)))
        for component in found:
            print("circle:", " <-> ".join(component))
        for importer, imported in upward:
            print(f"upward: {importer} ({room(importer)}) -> {imported} ({room(imported)})")
        for n, name in long:
            print(f"long: {name} {n}")
        for importer, imported in past:
            print(f"past the API: {importer} -> {imported}")


if __name__ == "__main__":
    main()
