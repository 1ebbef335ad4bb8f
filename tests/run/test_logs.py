"""run/logs.py: a trial's stdout.log and stderr.log, kept across attempts, and a remote trial's output appended."""

from lrsweep.run.logs import AGAIN, append_logs, trial_paths
from lrsweep.run.store import RunStore


def test_a_trial_started_again_keeps_the_output_of_every_attempt(tmp_path):
    store = RunStore.create(tmp_path, "logs")
    folder, out, err, run_dir = trial_paths(store, "lr0.1-s0")
    assert folder == store.variant_dir("lr0.1-s0") and folder.is_dir() and run_dir == store.path
    assert (out.name, err.name) == ("stdout.log", "stderr.log") and not out.exists()
    out.write_bytes(b'{"epoch": 1}\n')
    trial_paths(store, "lr0.1-s0")  # a second attempt: a marker where it begins, in the log that has output
    assert out.read_bytes() == b'{"epoch": 1}\n' + AGAIN and not err.exists()
    append_logs(store, "lr0.1-s0", '{"epoch": 1}\n', "warning\n")
    assert out.read_text().endswith('{"epoch": 1}\n') and err.read_text() == "warning\n"
