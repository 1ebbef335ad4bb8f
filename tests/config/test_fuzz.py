"""A fixed, seeded sample of the config fuzz (benchmarks/fuzz_config.py) through `validate`, in-process:
every case ends in exit 0 (valid), 2 (refused) or 3 (network), never an internal error or a hang."""

import importlib.util
import signal
import sys
import time

import pytest
from helpers import ROOT

SEED, CASES = 13, 240  # the full run: python benchmarks/fuzz_config.py --cases 5000
CASE_DEADLINE_S = 30  # generous: a shared, busy machine; cases take well under a second


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_config", ROOT / "benchmarks" / "fuzz_config.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def _reuse_the_bundled_sample(monkeypatch):
    """Half the cases load the bundled 5,000 digits; load them once (the fuzz is about configs, not IDX files)."""
    import lrsweep.data as data

    real, kept = data.load_dataset, {}

    def load_dataset(name, options, root=None, download=True, **more):
        if str(name).lower() in ("mnist-sample", "mnist_sample", "sample") and not options:
            if "sample" not in kept:
                kept["sample"] = real(name, options, root=root, download=download, **more)
            return kept["sample"]
        return real(name, options, root=root, download=download, **more)

    monkeypatch.setattr(data, "load_dataset", load_dataset)


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="per-case deadline needs SIGALRM")
def test_a_seeded_fuzz_sample_has_no_internal_errors_and_no_hangs(tmp_path, monkeypatch):
    fuzz = _fuzz_module()
    _reuse_the_bundled_sample(monkeypatch)
    monkeypatch.setenv("LRSWEEP_DATA", str(tmp_path / "data"))  # nothing downloaded, nothing there
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGALRM, _alarm)
    bad, kinds = [], set()
    started = time.perf_counter()
    try:
        for index in range(CASES):
            case = fuzz.make_case(SEED, index)
            kinds.update(case.kind.split("+"))
            signal.alarm(CASE_DEADLINE_S)
            try:
                outcome = fuzz.run_case(case, tmp_path)
            except _Hang:
                outcome = {"index": index, "kind": case.kind, "internal": True, "exception": "hang"}
            finally:
                signal.alarm(0)
            if outcome["internal"]:
                bad.append(outcome)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not bad, (
        f"{len(bad)} of {CASES} cases failed; replay with  python benchmarks/fuzz_config.py "
        f"--seed {SEED} --replay INDEX:\n" + "\n".join(map(str, bad[:10]))
    )
    covered = {"bad_bytes", "alias_bomb", "import_string", "size", "scheduler", "yaml_tag", "generator_size"}
    assert covered | {"stdlib_factory"} <= kinds  # the sample covers them
    print(f"{CASES} fuzz cases in {time.perf_counter() - started:.1f} s")
