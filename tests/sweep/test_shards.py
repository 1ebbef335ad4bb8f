"""Shards: deterministic balanced slices, one shared run directory, and a merge equal to one run."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from lrsweep.cli import app
from lrsweep.config import parse_config
from lrsweep.errors import UsageError
from lrsweep.sweep.plan import Shard, expand, shard_of, shard_variants

SWEEP = {
    "name": "sharded",
    "seeds": [0, 1],
    "device": "cpu",
    "data": {
        "name": "synthetic-classification",
        "n_samples": 240,
        "n_features": 8,
        "n_classes": 3,
        "n_test": 60,
        "val_fraction": 0.25,
        "batch_size": 32,
    },
    "model": {"name": "mlp", "hidden": [8]},
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "lr": [0.01, 0.03, 0.1, 0.3, 1.0],
    "train": {"epochs": 2},
    "retrain": True,
}


def test_shards_are_deterministic_balanced_disjoint_and_cover_the_grid():
    variants = expand(parse_config({**SWEEP, "optimizer": ["sgd", "adam"]}))  # 20 variants
    slices = [shard_variants(variants, Shard(i, 3)) for i in (1, 2, 3)]
    assert sorted(len(s) for s in slices) == [6, 7, 7]
    ids = [v.id for s in slices for v in s]
    assert sorted(ids) == sorted(v.id for v in variants)  # every variant exactly once
    shuffled = random.Random(0).sample(variants, len(variants))  # another machine, another order: same slice
    assert {v.id for v in shard_variants(shuffled, Shard(2, 3))} == {v.id for v in slices[1]}
    assert all(shard_of(v, variants, 3) == Shard(i, 3) for i, s in enumerate(slices, 1) for v in s)
    # pack-friendly: a slice is a contiguous run of (optimizer, seed) groups, so 3 slices split at most 2 groups
    groups_per_slice = [len({(v.optimizer.name, v.seed) for v in s}) for s in slices]
    assert sum(groups_per_slice) <= 4 + 2


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/3", "3", "1/0"])
def test_bad_shard_specs_are_usage_errors(text):
    with pytest.raises(UsageError, match="I/N"):
        Shard.parse(text)


def rows_by_id(summary):
    return {r["id"]: r for r in summary["variants"]}


def test_three_shards_merge_into_the_summary_of_one_run(runner, write_config, tmp_path):
    config = write_config(SWEEP)
    whole = runner.invoke(app, ["grid", str(config), "--json", "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    reference = json.loads(whole.stdout)
    out = tmp_path / "shared"

    def shard(i):
        result = runner.invoke(app, ["grid", str(config), "--shard", f"{i}/3", "--quiet", "--out", str(out)])
        assert result.exit_code == 0, result.output
        return result

    first = shard(1)
    run = next(out.iterdir())
    assert run.name == f"sharded-{parse_config(SWEEP).fingerprint()}"
    assert f"run directory: {run}" in first.output
    shard(3)
    partial = runner.invoke(app, ["merge", str(run)])
    assert partial.exit_code == 1
    missing = [v for v in expand(parse_config(SWEEP)) if shard_of(v, expand(parse_config(SWEEP)), 3) == Shard(2, 3)]
    assert f"{len(missing)} of 10 variants not finished" in partial.stdout
    assert all(v.id in partial.stdout for v in missing) and "shard 2/3:" in partial.stdout

    shard(2)
    assert list(run.glob("*")) and not (run / "retrain").exists()  # shards never retrain
    assert sorted(p.name for p in (run / "shards").iterdir()) == ["1-of-3", "2-of-3", "3-of-3"]
    assert yaml.safe_load((run / "config.yaml").read_text())["name"] == "sharded"
    merged = runner.invoke(app, ["merge", str(run), "--json"])
    assert merged.exit_code == 0, merged.output
    summary = json.loads(merged.stdout)
    assert summary["missing"] == [] and summary["complete"]
    assert summary["best"]["ids"] == reference["best"]["ids"]
    expected = rows_by_id(reference)
    for vid, row in rows_by_id(summary).items():
        assert row["status"] == expected[vid]["status"] and row["rank"] == expected[vid]["rank"]
        assert row["val_loss"] == pytest.approx(expected[vid]["val_loss"], rel=1e-4, abs=1e-6)
    assert json.loads((run / "summary.json").read_text())["best"]["ids"] == reference["best"]["ids"]

    retrained = runner.invoke(app, ["grid", "--resume", str(run), "--json"])
    assert retrained.exit_code == 0, retrained.output
    final = json.loads(retrained.stdout)
    assert final["retrain"]["test_loss"] == pytest.approx(reference["retrain"]["test_loss"], rel=1e-4)


def test_shards_refuse_what_needs_the_whole_sweep(runner, write_config, tmp_path):
    pruned = write_config({**SWEEP, "prune": {"type": "asha"}})
    refused = runner.invoke(app, ["grid", str(pruned), "--shard", "1/2", "--out", str(tmp_path)])
    assert refused.exit_code == 2 and "cannot run in independent shards" in refused.output
    extended = runner.invoke(
        app, ["grid", str(write_config(SWEEP)), "--shard", "1/2", "--extend", "--out", str(tmp_path)]
    )
    assert extended.exit_code == 2 and "cannot run in a shard" in extended.output
