"""Shared fixtures: small configs written to tmp_path, and a CliRunner with a fixed terminal width."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def write_config(tmp_path):
    """Write a config dict as YAML; returns its path."""

    def write(data: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def tiny_sweep() -> dict:
    """A seconds-long sweep on the synthetic classification data."""
    return {
        "name": "tiny",
        "seed": 0,
        "device": "cpu",
        "data": {
            "name": "synthetic-classification",
            "n_samples": 300,
            "n_features": 8,
            "n_classes": 3,
            "n_test": 100,
            "val_fraction": 0.2,
            "batch_size": 32,
        },
        "model": {"name": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "momentum": 0.9},
        "lr": [0.01, 0.1, 1.0],
        "train": {"epochs": 2},
        "select": {"metric": "val_loss"},
        "retrain": True,
    }


@pytest.fixture
def seeds_share_packs(monkeypatch):
    """Seeds in one pack on this CPU too, as on an accelerator (on a CPU lrsweep keeps them apart: faster there)."""
    from lrsweep.engine import packing

    monkeypatch.setattr(packing, "SEEDS_SHARE_CPU_PACKS", True)
