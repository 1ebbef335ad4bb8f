"""The console script's fast exit: files and output whole, the exit code kept, the interpreter's teardown skipped
only when nothing needs it."""

import json
import multiprocessing
import subprocess
import sys
import threading

import pytest
from helpers import ROOT

from lrsweep.cli.exit import NEEDS_TEARDOWN, exit_code, teardown_needed

QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
# main() as the console script runs it, with an atexit hook that says whether the teardown ran
MAIN = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('teardown ran', flush=True))\n"
    "sys.argv = ['lrsweep', *sys.argv[1:]]\n"
    "from lrsweep.cli import main\n"
    "main()\n"
)


def run_main(*args: str, prelude: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", prelude + MAIN, *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_the_console_script_skips_the_teardown_and_keeps_the_exit_code():
    done = run_main("--version")
    assert (done.returncode, done.stdout) == (0, f"lrsweep {__import__('lrsweep').__version__}\n")  # no teardown
    done = run_main("validate", "missing.yaml")
    assert done.returncode == 2 and "config file not found: missing.yaml" in done.stderr
    assert "teardown ran" not in done.stdout


def test_everything_printed_is_flushed_before_the_fast_exit():
    done = run_main("validate", QUICKSTART, "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)  # the whole document, nothing cut off by os._exit
    assert len(plan["variants"]) == 7


def test_the_teardown_runs_when_something_needs_it():
    thread = (  # a thread still running when the command ends: it lives a second after main() starts
        "import sys, threading, time\n"
        "def live():\n"
        "    while 'lrsweep.cli.exit' not in sys.modules: time.sleep(0.01)\n"
        "    time.sleep(1)\n"
        "threading.Thread(target=live).start()\n"
    )
    done = run_main("--version", prelude=thread)
    assert done.returncode == 0 and done.stdout.endswith("teardown ran\n")


def test_what_needs_the_teardown(monkeypatch):
    for name in NEEDS_TEARDOWN:  # earlier tests in this process may have loaded them
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "gettrace", lambda: None)  # pytest may run under coverage
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [])
    main = threading.main_thread()
    monkeypatch.setattr(threading, "enumerate", lambda: [main])
    assert teardown_needed() is None
    monkeypatch.setitem(sys.modules, "ray", object())
    assert teardown_needed() == "ray is loaded"
    monkeypatch.delitem(sys.modules, "ray")
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        monkeypatch.setattr(threading, "enumerate", lambda: [main, worker])
        assert teardown_needed() == "a thread is still running"
    finally:
        stop.set()
        worker.join()
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [object()])
    assert teardown_needed() == "a child process is still running"
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [])
    monkeypatch.setattr(sys, "getprofile", lambda: print)
    assert teardown_needed() == "a tracer or profiler is active"


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2), (130, 130), ("bye", 1)])
def test_exit_codes_are_pythons(code, status, capsys):
    assert exit_code(code) == status
