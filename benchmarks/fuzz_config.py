"""Config fuzz: mutated configs through ``lrsweep validate``, in-process, each with a deadline.

    python benchmarks/fuzz_config.py --cases 5000 --workers 2 --timeout 30

Every case is one mutated copy of a bundled config (configs/*.yaml and lrsweep/config/quick.yaml):
key typos, type swaps, huge / negative / NaN / infinite numbers, invalid UTF-8 bytes, deep nesting,
YAML aliases (bombs and recursive ones), duplicate keys, tagged scalars PyYAML cannot construct
(``!!int ''``), import strings (``package.module:function``), generators named by import path with sizes
past the limits, standard-library factories that would run a command (counted as an internal error if
the command ran) and broken ``--set`` items. A case is made from (seed, index) alone, so any case can be replayed:
``--replay INDEX`` prints its YAML and its outcome.

Outcomes: exit 0 (valid), 2 (refused: a config error), 3 (a network error) are fine; anything else
(exit 1, an uncaught exception, a dead worker) is an internal error, and a case past its deadline is
a hang. A worker imports everything and validates one config before its first case is timed. Each
worker process runs cases through typer's CliRunner, with its address space capped
(--memory-gb) so that allocating without bound ends in MemoryError rather than swapping the box.
tests/config/test_fuzz.py runs a fixed seeded sample of these cases and asserts 0 internal errors.

To check that a change to validation keeps every verdict, record a run and compare a later one with it::

    python benchmarks/fuzz_config.py --cases 5000 --seed 0 --log before.jsonl   # on the old code
    python benchmarks/fuzz_config.py --cases 5000 --seed 0 --against before.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASES = [
    ROOT / "configs" / "quickstart.yaml",
    ROOT / "configs" / "mnist.yaml",
    ROOT / "configs" / "regression.yaml",
    ROOT / "lrsweep" / "config" / "quick.yaml",
]
FINE = (0, 2, 3)  # valid, refused, network

# Import strings a config may name. Nothing here deletes, kills or blocks: those are refused the same way.
IMPORTS = [
    "os:system",
    "builtins:dict",
    "sys:exit",
    "torch.nn:Dropout",
    "torch.nn:Identity",
    "math:pi",
    "no.such.module:factory",
    "lrsweep.data.synthetic:regression",
    "lrsweep.models:mlp",
    "builtins:print",
    "collections:OrderedDict",
    "lrsweep.data:DATASETS",
    "json:loads",
    "builtins:input",
    "torch:zeros",
    "lrsweep.models:",
    ":mlp",
    "os.path:join",
    "lrsweep.data.synthetic:classification",
]
WORDS = [
    "name",
    "root",
    "download",
    "val_fraction",
    "batch_size",
    "hidden",
    "activation",
    "dropout",
    "channels",
    "momentum",
    "nesterov",
    "weight_decay",
    "betas",
    "eps",
    "type",
    "step_size",
    "gamma",
    "T_max",
    "patience",
    "epochs",
    "loss",
    "metric",
    "n_samples",
    "n_features",
    "n_classes",
    "n_test",
    "noise",
    "path",
    "target",
    "task",
    "seed",
    "seeds",
    "lr",
    "logspace",
    "linspace",
    "start",
    "stop",
    "num",
    "grace_epochs",
    "reduction",
    "interval",
    "milestones",
    "warmup_epochs",
    "then",
    "lr_lambda",
    "factor",
    "mode",
    "total_steps",
    "max_lr",
    "eta_min",
    "T_0",
    "T_mult",
    "cooldown",
    "min_lr",
    "threshold",
    "limits",
]
NUMBERS = [
    0,
    -1,
    1,
    2,
    7,
    0.5,
    -0.5,
    1e-300,
    1e308,
    -1e308,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**9,
    10**30,
    float("nan"),
    float("inf"),
    float("-inf"),
    3.7,
    1e9,
    1e-9,
    True,
    False,
]
SCALARS = [
    None,
    "",
    "abc",
    "x\x1b]0;owned\x07",
    "\x00",
    "1e-3",
    "[1, 2]",
    "null",
    "~",
    "auto",
    "mlp",
    "cpu",
    "cuda:7",
    "mps",
    "tpu",
    "a" * 5000,
    "ünïcödé",
    "0x10",
    "1_000",
]
CONTAINERS = [[], {}, [1, 2], [[1]], {"a": 1}, {"name": None}, [None], [{"type": "steplr"}], {"logspace": 3}]
SCHEDULERS = [
    {"type": "steplr", "step_size": 0},
    {"type": "steplr", "step_size": -3},
    {"type": "steplr", "gamma": float("inf")},
    {"type": "cosine", "T_max": 0},
    {"type": "cosine", "eta_min": float("nan")},
    {"type": "plateau", "patience": -1},
    {"type": "plateau", "factor": 2.0},
    {"type": "exponentiallr", "gamma": 1e308},
    {"type": "onecycle"},
    {"type": "onecycle", "max_lr": -1},
    {"type": "cyclic", "step_size_up": 0},
    {"type": "multisteplr", "milestones": [3, 1]},
    {"type": "lambdalr", "lr_lambda": "epoch ** 999"},
    {"type": "lambdalr", "lr_lambda": "__import__('os')"},
    {"type": "warmup", "warmup_epochs": 10**9},
    {"type": "sgdr", "T_0": 0},
    {"type": "polynomiallr", "power": float("nan")},
    {"type": "sequentiallr", "schedulers": ["steplr"]},
    {"type": "chainedscheduler", "schedulers": [{"type": "steplr"}, {"type": "cosine", "T_max": 0}]},
    {"type": "linearlr", "total_iters": -1},
    {"type": "constantlr", "factor": 0},
    "none",
    "warmup",
    "cosine",
    {"type": "reducelronplateau", "cooldown": -1},
    {"type": "steplr", "step_size": 2**70},
]
SIZES = [
    ("data.n_samples", 2**31),
    ("data.n_samples", 10**9),
    ("data.n_features", 10**9),
    ("data.n_classes", 10**9),
    ("data.n_classes", 2**31),
    ("data.n_test", 10**10),
    ("model.hidden", [1000000]),
    ("model.hidden", [100000, 100000]),
    ("model.channels", [100000]),
    ("data.batch_size", 2**40),
    ("train.epochs", 10**12),
    ("lr.logspace.num", 10**9),
    ("lr.logspace.num", 10**6),
    ("optimizer.weight_decay", 1e308),
    ("optimizer.momentum", 1e308),
    ("optimizer.betas", [0.9, 1e308]),
    ("optimizer.eps", float("nan")),
    ("seeds", list(range(10**4))),
    ("seed", 2**64),
    ("prune.reduction", 10**30),
    ("prune.grace_epochs", -(10**20)),
    ("data.val_fraction", float("nan")),
    ("model.dropout", float("nan")),
    ("data.noise", 1e308),
]


@dataclass
class Case:
    index: int
    kind: str
    content: bytes
    args: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # written beside the config


# --------------------------------------------------------------------------- structured mutations


def _paths(node, prefix=()):
    """Every (path, value) in a nested dict/list."""
    out = [(prefix, node)]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc, path, value):
    node = doc
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                return
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)):
        node[path[-1]] = value


def _typo(rng: random.Random, word: str) -> str:
    word = str(word)
    if not word:
        return "x"
    i = rng.randrange(len(word))
    op = rng.choice("swap delete insert replace case")
    if op == "s" and len(word) > 1:
        j = min(i + 1, len(word) - 1)
        return word[:i] + word[j] + word[i] + word[j + 1 :]
    if op == "d":
        return word[:i] + word[i + 1 :] or "x"
    if op == "i":
        return word[:i] + rng.choice("abcxyz_-") + word[i:]
    if op == "c":
        return word.upper()
    return word[:i] + rng.choice("abcxyz0") + word[i + 1 :]


def _rename_key(rng, doc):
    maps = [(p, v) for p, v in _paths(doc) if isinstance(v, dict) and v]
    path, mapping = rng.choice(maps)
    key = rng.choice(list(mapping))
    value = mapping.pop(key)
    mapping[_typo(rng, key)] = value


def _random_value(rng):
    pool = rng.choice([NUMBERS, SCALARS, CONTAINERS])
    return copy.deepcopy(rng.choice(pool))


def _swap_value(rng, doc):
    path, _ = rng.choice(_paths(doc)[1:])
    _set(doc, path, _random_value(rng))


def _number(rng, doc):
    numeric = [p for p, v in _paths(doc) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numeric:
        _set(doc, rng.choice(numeric), rng.choice(NUMBERS))


def _add_key(rng, doc):
    maps = [v for p, v in _paths(doc) if isinstance(v, dict)]
    rng.choice(maps)[rng.choice(WORDS + [_typo(rng, rng.choice(WORDS))])] = _random_value(rng)


def _delete_key(rng, doc):
    maps = [v for p, v in _paths(doc) if isinstance(v, dict) and v]
    mapping = rng.choice(maps)
    mapping.pop(rng.choice(list(mapping)))


def _import_string(rng, doc):
    where = rng.choice(["data.name", "model.name", "optimizer.name", "scheduler.type", "data", "model"])
    _set(doc, tuple(where.split(".")), rng.choice(IMPORTS))


def _scheduler(rng, doc):
    doc["scheduler"] = copy.deepcopy(
        rng.choice(SCHEDULERS) if rng.random() < 0.8 else [rng.choice(SCHEDULERS), rng.choice(SCHEDULERS)]
    )


def _size(rng, doc):
    key, value = rng.choice(SIZES)
    parts = tuple(key.split("."))
    if parts[0] == "lr":
        doc["lr"] = {"logspace": {"start": 1e-4, "stop": 1.0, "num": value}}
    elif parts[0] == "data" and parts[1] in ("n_samples", "n_features", "n_classes", "n_test") and rng.random() < 0.7:
        doc["data"] = {"name": rng.choice(["synthetic-regression", "synthetic-classification"]), parts[1]: value}
    else:
        _set(doc, parts, copy.deepcopy(value))


def _dataset(rng, doc):
    choices = [
        {"name": "csv", "path": "data.csv", "target": "y"},
        {"name": "csv", "path": "missing.csv", "target": "y"},
        {"name": "csv", "path": "data.csv", "target": "why"},
        {"name": "npz", "path": "data.npz"},
        {"name": "mnist"},
        {"name": "fashion-mnist", "download": False},
        {"name": "fashion_mnist"},
        {"name": "synthetic-classification", "n_classes": 1},
        {"name": "csv", "path": "data.csv", "target": "y", "task": "classification"},
        {"name": "csv", "path": "/", "target": "y"},
        {"name": "npz", "path": "data.csv"},
        {"name": "mnist", "root": "/dev/null"},
        {"name": "csv", "path": "data.csv", "target": "y", "delimiter": ""},
        {"name": "mnist-sample", "n_sample": 3},
        {"name": "synthetic-regression", "n_sampels": 10},
    ]
    doc["data"] = copy.deepcopy(rng.choice(choices))
    if rng.random() < 0.3:
        if not isinstance(doc.get("train"), dict):
            doc["train"] = {}
        doc["train"]["loss"] = rng.choice(["mse", "cross_entropy", "auto", "l1"])


# Generators named by import path, with sizes past the limits: refused from the arguments, nothing allocated.
GENERATORS = ["lrsweep.data.synthetic:classification", "lrsweep.data.synthetic:regression"]
GENERATOR_SIZES = [("n_samples", 10**9), ("n_features", 10**9), ("n_test", 10**10), ("n_classes", 10**9)]
# Standard-library functions that run what they are given: each is refused by name. The command would leave
# STDLIB_MARKER in the working directory; run_case counts a case that left it as an internal error.
STDLIB_MARKER = "stdlib-factory-ran"
STDLIB_FACTORIES = [
    ("os:popen", {"cmd": f"touch {STDLIB_MARKER}"}),
    ("os:system", {"command": f"touch {STDLIB_MARKER}"}),
    ("subprocess:getoutput", {"cmd": f"touch {STDLIB_MARKER}"}),
    ("subprocess:getstatusoutput", {"cmd": f"touch {STDLIB_MARKER}"}),
    ("subprocess:check_output", {"args": ["touch", STDLIB_MARKER]}),
    ("runpy:run_path", {"path_name": "marker.py"}),
    ("pty:spawn", {"argv": ["touch", STDLIB_MARKER]}),
    ("shutil:copyfile", {"src": "data.csv", "dst": STDLIB_MARKER}),
]


def _generator_size(rng, doc):
    key, value = rng.choice(GENERATOR_SIZES)
    doc["data"] = {"name": rng.choice(GENERATORS), key: value}


def _stdlib_factory(rng, doc):
    name, options = rng.choice(STDLIB_FACTORIES)
    where = rng.choice(["data", "model", "optimizer"])
    doc[where] = {"name": name, **copy.deepcopy(options)}


STRUCTURED = [
    _rename_key,
    _swap_value,
    _number,
    _add_key,
    _delete_key,
    _import_string,
    _scheduler,
    _size,
    _dataset,
    _generator_size,
    _stdlib_factory,
]


def _dump(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=4096).encode()


# --------------------------------------------------------------------------- text mutations


def _bad_bytes(rng, text: bytes) -> bytes:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice([b"\xff", b"\xc3\x28", b"\x80\x80", b"\xfe\xff", b"\xed\xa0\x80"]) + text[i:]


def _nesting(rng, text: bytes) -> bytes:
    depth = rng.choice([50, 200, 500, 1000, 5000, 20000])
    if rng.random() < 0.5:
        value = "[" * depth + "0.1" + "]" * depth
    else:
        value = "{a: " * depth + "1" + "}" * depth
    key = rng.choice(["lr", "model", "data", "scheduler", "nested"])
    return text + f"\n{key}: {value}\n".encode()


def _alias_bomb(rng, text: bytes) -> bytes:
    levels = rng.choice([3, 6, 9])
    width = rng.choice([5, 10])
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(width))
        lines.append(f"a{i}: &a{i} [{refs}]")
    where = rng.choice(["lr", "model.hidden", "name", "data"])
    body = "\n".join(lines)
    return (
        (body + f"\nbomb: *a{levels - 1}\n").encode()
        if where == "name"
        else (text + b"\n" + body.encode() + f"\nlr: *a{levels - 1}\n".encode())
    )


def _recursive_alias(rng, text: bytes) -> bytes:
    return text + rng.choice(
        [
            b"\nmodel: &m {name: mlp, hidden: *m}\n",
            b"\nlr: &l [0.1, *l]\n",
            b"\ndata: &d [*d]\n",
            b"\nscheduler: &s {type: warmup, then: *s}\n",
        ]
    )


def _duplicate_line(rng, text: bytes) -> bytes:
    lines = text.split(b"\n")
    candidates = [i for i, line in enumerate(lines) if b":" in line and not line.lstrip().startswith(b"#")]
    if not candidates:
        return text
    i = rng.choice(candidates)
    lines.insert(i + 1, lines[i])
    return b"\n".join(lines)


def _big_int(rng, text: bytes) -> bytes:
    digits = rng.choice([19, 20, 40, 4301, 5000, 100000])
    key = rng.choice(["seed", "train: {epochs", "data: {batch_size", "lr"])
    number = "9" * digits
    line = f"{key}: {number}" + ("}" if "{" in key else "")
    return text + f"\n{line}\n".encode()


def _big_list(rng, text: bytes) -> bytes:
    n = rng.choice([10**3, 10**4, 10**5, 10**6])
    key = rng.choice(["lr", "seeds", "model: {hidden"])
    values = ", ".join(f"{(i + 1) * 1e-6:g}" if key == "lr" else str(i + 1) for i in range(n))
    close = "]}" if "{" in key else "]"
    return text + f"\n{key}: [{values}{close}\n".encode()


def _flip(rng, text: bytes) -> bytes:
    data = bytearray(text)
    for _ in range(rng.randint(1, 5)):
        if not data:
            break
        op = rng.random()
        i = rng.randrange(len(data))
        if op < 0.4:
            data[i] = rng.choice(b":{}[]-&*!|>'\"%@`#,?\t\n \x00")
        elif op < 0.7:
            del data[i]
        else:
            data.insert(i, rng.choice(b":{}[]-&*!|>'\"\t\n "))
    return bytes(data)


def _whole_doc(rng, text: bytes) -> bytes:
    return rng.choice(
        [
            b"",
            b"- 1\n- 2\n",
            b"42\n",
            b"null\n",
            b"\xef\xbb\xbf" + text,
            text.decode().encode("utf-16"),
            b"!!python/object/apply:os.system ['echo pwned']\n",
            b"name: !!binary aGVsbG8=\n",
            b"? [a, b]\n: 1\n",
            b"lr: !!set {0.1, 0.2}\n",
            b"data: 2020-01-01\n",
            b"{\n",
            b"a: b: c\n",
            b"%YAML 1.1\n---\nname: x\n",
            b"name: x\n---\nname: y\n",
            text * 2,
            b"\t" + text,
        ]
    )


# Scalars with explicit tags PyYAML's constructors cannot read (IndexError, KeyError, AttributeError inside).
YAML_TAGS = [
    "!!float ''",
    "!!int ''",
    "!!int '-'",
    "!!int '+'",
    "!!int '0x'",
    "!!bool ''",
    "!!bool 'maybe'",
    "!!timestamp 'x'",
    "!!timestamp ''",
    "!!float 'abc'",
    "!!binary 'zz'",
    "!!null 'x'",
    "!!str",
    "!!merge 'x'",
    "!!omap [a]",
    "!!pairs [a]",
    "!!set [a]",
    "!!python/name:os.system ''",
]


def _yaml_tag(rng, text: bytes) -> bytes:
    key = rng.choice(["train: {epochs", "seed", "lr", "name", "data: {batch_size", "retrain", "model: {hidden"])
    line = f"{key}: {rng.choice(YAML_TAGS)}" + ("}" if "{" in key else "")
    return text + f"\n{line}\n".encode()


TEXTUAL = [
    _bad_bytes,
    _nesting,
    _alias_bomb,
    _recursive_alias,
    _duplicate_line,
    _big_int,
    _big_list,
    _flip,
    _whole_doc,
    _yaml_tag,
]
BAD_SETS = [
    "train.epochs=abc",
    "lr=[[[",
    "=3",
    "data",
    "data.name.x=1",
    "seed=1e999",
    "lr=" + "[" * 600 + "]" * 600,
    "model.hidden=[1000000]",
    "train.loss=mse",
    "scheduler.type=steplr",
    "no.such.key=1",
    "data.batch_size=99999999999999999999999",
    "lr=!!binary aGVsbG8=",
    "name=" + "x" * 300,
    "name=a\x00b",
]

CSV = "x1,x2,y\n" + "".join(f"{i * 0.1:.2f},{(i * 7) % 5},{(i * 13) % 97}\n" for i in range(60))


def make_case(seed: int, index: int) -> Case:
    """The case ``index`` of the run seeded ``seed``: the same inputs always give the same case."""
    rng = random.Random(f"{seed}:{index}")
    base = rng.choice(BASES)
    text = base.read_bytes()
    doc = yaml.safe_load(text)
    kinds = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutate = rng.choice(STRUCTURED)
        kinds.append(mutate.__name__.lstrip("_"))
        mutate(rng, doc)
    content = _dump(doc) if kinds else text
    if rng.random() < 0.35:
        mutate = rng.choice(TEXTUAL)
        kinds.append(mutate.__name__.lstrip("_"))
        content = mutate(rng, content if rng.random() < 0.7 else text)
    args = []
    if rng.random() < 0.1:
        args = ["--set", rng.choice(BAD_SETS)]
        kinds.append("set")
    files = {"data.csv": CSV.encode(), "marker.py": f"open({STDLIB_MARKER!r}, 'w').close()\n".encode()}
    return Case(index, "+".join(kinds), content, args, files)


# --------------------------------------------------------------------------- running


def run_case(case: Case, workdir: Path) -> dict:
    """Validate one case in this process; its outcome as a small dict."""
    from typer.testing import CliRunner

    from lrsweep.cli import app

    for name, data in case.files.items():
        (workdir / name).write_bytes(data)
    path = workdir / "case.yaml"
    path.write_bytes(case.content)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["validate", str(path), *case.args], catch_exceptions=True)
    seconds = time.perf_counter() - started
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    ran = [p for p in (Path.cwd() / STDLIB_MARKER, workdir / STDLIB_MARKER) if p.exists()]
    for marker in ran:
        marker.unlink()
    if ran and exception is None:
        exception = RuntimeError("validate ran a standard-library factory")
    code = result.exit_code
    internal = exception is not None or code not in FINE
    tail = result.output.strip().splitlines()[-1:] if result.output.strip() else []
    return {
        "index": case.index,
        "kind": case.kind,
        "exit": code,
        "internal": internal,
        "seconds": seconds,
        "exception": f"{type(exception).__name__}: {str(exception)[:300]}" if exception else None,
        "tail": tail[0][:300] if tail else "",
    }


def _worker(conn, seed: int, memory_gb: float) -> None:
    import resource

    if memory_gb:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    workdir = Path(tempfile.mkdtemp(prefix="lrsweep-fuzz-"))
    os.environ["LRSWEEP_DATA"] = str(workdir / "data")  # nothing downloaded: validate must not need it
    os.chdir(workdir)
    run_case(Case(-1, "warm-up", b"name: warm\nlr: 0.1\n"), workdir)  # imports (torch: seconds) are not a case
    conn.send("ready")
    while True:
        try:
            index = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if index is None:
            return
        try:
            outcome = run_case(make_case(seed, index), workdir)
        except BaseException as exc:  # noqa: BLE001 - the fuzz counts whatever escapes
            outcome = {
                "index": index,
                "kind": "?",
                "exit": None,
                "internal": True,
                "seconds": 0.0,
                "exception": f"{type(exc).__name__}: {str(exc)[:300]}",
                "tail": "",
            }
        try:
            conn.send(outcome)
        except OSError:  # the parent is gone
            return


class _Slot:
    def __init__(self, seed: int, memory_gb: float):
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(target=_worker, args=(child, seed, memory_gb), daemon=True)
        self.proc.start()
        self.index = None
        self.since = 0.0
        self.ready = False

    def wait_ready(self, timeout: float = 600.0) -> bool:
        """The worker has imported everything and run one case: the clock of the next case is fair."""
        if not self.ready and self.conn.poll(timeout):
            self.ready = self.conn.recv() == "ready"
        return self.ready

    def give(self, index: int) -> None:
        self.index, self.since = index, time.monotonic()
        self.conn.send(index)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()


def fuzz(
    seed: int,
    cases: int,
    workers: int,
    timeout: float,
    memory_gb: float,
    progress: bool = True,
    log: Path | None = None,
    start: int = 0,
) -> list[dict]:
    """Run cases 0..cases-1 on ``workers`` processes; a case past ``timeout`` seconds is a hang.

    ``log``: each outcome is appended there as one JSON line, as it comes (a long run can be read midway).
    """
    slots = [_Slot(seed, memory_gb) for _ in range(workers)]
    todo = list(range(start, start + cases))[::-1]
    results: list[dict] = []
    started = time.monotonic()
    reported = 0
    sink = open(log, "a") if log else None

    def record(outcome: dict) -> None:
        results.append(outcome)
        if sink:
            sink.write(json.dumps(outcome) + "\n")
            sink.flush()

    while todo or any(s.index is not None for s in slots):
        for i, slot in enumerate(slots):
            if slot.index is None and todo and slot.wait_ready():
                slot.give(todo.pop())
            if slot.index is None:
                continue
            if slot.conn.poll(0.02):
                try:
                    record(slot.conn.recv())
                    slot.index = None
                    continue
                except EOFError:
                    pass
            dead = not slot.proc.is_alive()
            if dead or time.monotonic() - slot.since > timeout:
                case = make_case(seed, slot.index)
                record(
                    {
                        "index": slot.index,
                        "kind": case.kind,
                        "exit": None,
                        "internal": dead,
                        "hang": not dead,
                        "seconds": time.monotonic() - slot.since,
                        "exception": "worker died" if dead else f"no answer in {timeout:g} s",
                        "tail": "",
                    }
                )
                slot.kill()
                slots[i] = _Slot(seed, memory_gb)
        if progress and len(results) >= reported + 250:
            reported = len(results) // 250 * 250
            print(f"  {len(results)}/{cases} cases, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if sink:
        sink.close()
    for slot in slots:
        slot.conn.send(None)
        slot.proc.join(timeout=5)
        if slot.proc.is_alive():
            slot.kill()
    return sorted(results, key=lambda r: r["index"])


def tally(results: list[dict]) -> dict:
    codes: dict[str, int] = {}
    for r in results:
        codes[str(r["exit"])] = codes.get(str(r["exit"]), 0) + 1
    return {
        "cases": len(results),
        "internal_errors": sum(bool(r["internal"]) for r in results),
        "hangs": sum(bool(r.get("hang")) for r in results),
        "exit_codes": codes,
        "slowest_s": round(max((r["seconds"] for r in results if not r.get("hang")), default=0.0), 2),
    }


def compare(results: list[dict], log: Path) -> dict:
    """Each case's exit code against the one an earlier ``--log`` (same seed) recorded for it."""
    before = {}
    for line in log.read_text().splitlines():
        outcome = json.loads(line)
        before[outcome["index"]] = outcome
    common = [r for r in results if r["index"] in before]
    changed = [r for r in common if r["exit"] != before[r["index"]]["exit"]]
    for r in changed[:40]:
        was = before[r["index"]]
        print(f"  case {r['index']} [{r['kind']}] exit {was['exit']} -> {r['exit']}: {was['tail']!r} -> {r['tail']!r}")
    return {"compared": len(common), "same_exit": len(common) - len(changed), "changed_exit": len(changed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first case index (to continue a run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space cap of each worker (0: none)")
    parser.add_argument("--replay", type=int, default=None, help="print case INDEX and run it here")
    parser.add_argument("--failures", type=Path, default=None, help="write the failing cases' outcomes (JSON)")
    parser.add_argument("--log", type=Path, default=None, help="append every outcome here as it comes (JSON lines)")
    parser.add_argument(
        "--against", type=Path, default=None, help="compare each exit code with an earlier --log of the same seed"
    )
    args = parser.parse_args()
    if args.replay is not None:
        case = make_case(args.seed, args.replay)
        print(f"# kind: {case.kind}  args: {case.args}")
        print(case.content[:4000].decode("utf-8", "replace"))
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_case(case, Path(tmp)), indent=2))
        return
    t0 = time.monotonic()
    results = fuzz(args.seed, args.cases, args.workers, args.timeout, args.memory_gb, log=args.log, start=args.start)
    summary = tally(results)
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    bad = [r for r in results if r["internal"] or r.get("hang")]
    for r in bad[:40]:
        print(f"  case {r['index']} [{r['kind']}] exit={r['exit']}: {r['exception'] or r['tail']}")
    if args.failures:
        args.failures.write_text(json.dumps(bad, indent=1))
    if args.against:
        summary["against"] = compare(results, args.against)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
