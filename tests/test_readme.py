"""The README's Python example runs as written (from a folder holding configs/quickstart.yaml)."""

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_example() -> str:
    section = ROOT.joinpath("README.md").read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the From Python section has one example"
    return blocks[0]


def test_the_from_python_example_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "quickstart.yaml", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(python_example(), "README.md (From Python)", "exec"), namespace)
    result, model, found = namespace["result"], namespace["model"], namespace["found"]
    assert result.run_dir.resolve().parent == tmp_path / "runs" and (result.run_dir / "retrain" / "model.pt").exists()
    assert all(row["epochs_run"] <= 2 for row in result.table())
    assert sum(p.numel() for p in model.parameters()) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert found.range_test.steps_run <= 60 and found.suggested_lr > 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("True ")


def test_the_range_test_on_your_own_model_example_runs(tmp_path, monkeypatch, capsys):
    section = ROOT.joinpath("README.md").read_text().split("### On your own model", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md (On your own model)", "exec"), namespace)
    found = namespace["found"]
    assert found.suggestion > 0 and found.divergence_lr is not None and found.run_dir is None
    assert (tmp_path / "find.png").read_bytes().startswith(b"\x89PNG") and len(list(tmp_path.iterdir())) == 1
    assert capsys.readouterr().out.startswith(str(found.suggestion))


def stated_test_count() -> int:
    """The number of tests the quick start says the suite has (``1,278 tests``)."""
    quick = ROOT.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (count,) = re.findall(r"([\d,]+) tests", quick)
    return int(count.replace(",", ""))


def whole_suite(config) -> bool:
    """Whether this session collected every test: no paths narrower than tests/, no -k, -m, --deselect, --lf."""
    here = Path(config.invocation_params.dir)
    paths = {(here / arg.split("::")[0]).resolve() for arg in config.args}
    narrowed = config.getoption("keyword") or config.getoption("markexpr") or config.getoption("deselect")
    return paths <= {ROOT, ROOT / "tests"} and not narrowed and not getattr(config.option, "lf", False)


def test_the_quick_start_states_the_test_count(request):
    """Within a tenth, so a branch that adds a few tests passes; a README left hundreds of tests behind fails."""
    import pytest

    if not whole_suite(request.config):
        pytest.skip("counts the whole suite: run python -m pytest")
    stated, collected = stated_test_count(), len(request.session.items)
    assert abs(collected - stated) <= stated / 10, f"README says {stated} tests, the suite has {collected}"
