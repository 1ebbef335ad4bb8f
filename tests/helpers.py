"""What several test modules share: an events recorder, the splits of a parsed config, a local file server."""

import http.server
import importlib.util
import threading
from pathlib import Path

from lrsweep.data import load_dataset, split
from lrsweep.sweep.runner import QuietEvents

ROOT = Path(__file__).resolve().parent.parent  # the repository


def sibling_tests(path: str):
    """Another test module's shared constants and functions, by its path under tests/ (no package imports)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / "tests" / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorded(QuietEvents):
    """SweepEvents that remember what a sweep told them."""

    def __init__(self):
        self.notices, self.packs, self.ended, self.epochs = [], [], [], 0

    def on_notice(self, message):
        self.notices.append(message)

    def on_pack_start(self, variants):
        self.packs.append(len(variants))

    def on_epoch(self, variant_id, record):
        self.epochs += 1

    def on_variant_end(self, variant, result):
        self.ended.append((variant.lr, result.status))


def splits_of(config):
    """The config's dataset, split as the CLI splits it."""
    return split(load_dataset(config.data.name, config.data.options), config.data.val_fraction, config.seeds[0])


class FileServer:
    """Serves ``files`` on 127.0.0.1 (URL path -> bytes) and records every path requested; 404 otherwise."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


TINY_SWEEP = {  # a 2-LR sweep that trains in a blink, for tests that need a real run directory
    "name": "tiny",
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 200,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 50,
        "val_fraction": 0.2,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [8]},
    "optimizer": {"name": "sgd"},
    "lr": [0.01, 0.1],
    "train": {"epochs": 2},
    "retrain": False,
}


def finished_run(folder, **changes):
    """The run directory of ``lrsweep grid`` on TINY_SWEEP (with ``changes``), trained in ``folder``."""
    import yaml
    from typer.testing import CliRunner

    from lrsweep.cli import app

    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({**TINY_SWEEP, **changes}))
    result = CliRunner().invoke(app, ["grid", str(config), "--out", str(folder / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return next((folder / "runs").iterdir())


def tune_summary() -> dict:
    """A tune run's summary: 3 scouts cut at a rung (epoch 1 of 3), one scout and one refinement that ran
    full length, and 2 finals (the groups) whose first seed was that scout and that refinement."""
    rows = [
        {"lr": 0.1, "stage": "scout", "epochs_run": 1, "val_loss": 0.9},
        {"lr": 0.3, "stage": "scout", "epochs_run": 1, "val_loss": 1.1},
        {"lr": 1.0, "stage": "scout", "epochs_run": 1, "val_loss": 1.5},
        {"lr": 0.01, "stage": "rung", "epochs_run": 3, "val_loss": 0.5},
        {"lr": 0.02, "stage": "refine", "epochs_run": 3, "val_loss": 0.4},
        {"lr": 0.01, "stage": "final", "epochs_run": 3, "val_loss": 0.52, "seed": 1},
        {"lr": 0.02, "stage": "final", "epochs_run": 3, "val_loss": 0.42, "seed": 1},
    ]
    for i, row in enumerate(rows):
        row.update(id=f"v{i}", optimizer="sgd", scheduler="none", status="done", seed=row.get("seed", 0))
    groups = [
        {"lr": lr, "optimizer": "sgd", "scheduler": "none", "mean": mean, "std": 0.01, "statuses": ["done"]}
        for lr, mean in ((0.01, 0.51), (0.02, 0.41))
    ]
    best = {"lr": 0.02, "optimizer": "sgd", "scheduler": "none", "mean": 0.41}
    summary = {"name": "t", "metric": "val_loss", "direction": "min", "variants": rows, "groups": groups}
    return {**summary, "best": best, "tune": True}


def assert_same(a, b):
    """Equal bit for bit: tensors with torch.equal (and the same dtype), containers recursively."""
    import torch

    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b
