"""tune's cost in wall time (issue #19): pack costs measured once, the time budget, schedules, small budgets."""

import pytest

import lrsweep.api.tune_pack_cost as pack_cost
from lrsweep.api.tune_pack_cost import measure_pack_costs
from lrsweep.api.tune_stages import Tuner
from lrsweep.api.tuning import TuneSettings, tune
from lrsweep.config import parse_config
from lrsweep.run.store import RunStore
from lrsweep.select.strategy import Costs
from lrsweep.sweep.executors.base import load_data

SMALL = TuneSettings(scouts=4, finalists=2)
FAKE = {"k": 4, "one": 0.01, "pack": 0.02, "steps": 4, "vectorized": True}  # seconds per step: deterministic


@pytest.fixture
def fake_packs(monkeypatch):
    calls = []

    def measure(config, splits, width, finalists=0):
        calls.append(width)
        return dict(FAKE)

    monkeypatch.setattr(pack_cost, "measure_pack_costs", measure)
    return calls


def test_pack_costs_are_measured_for_real_once(task):
    config = parse_config(task)
    costs = measure_pack_costs(config, load_data(config), 4)
    assert costs["k"] == 4 and costs["vectorized"] and 0 < costs["one"] and 0 < costs["pack"]


def test_cost_reports_wall_seconds_and_the_pack_costs_are_kept_for_a_resume(task, tmp_path, fake_packs):
    result = tune(task, out=tmp_path, settings=SMALL)
    assert result.cost["seconds"] > 0 and result.cost["time_budget"] is None
    assert result.pack_costs == FAKE and fake_packs == [SMALL.scouts]
    assert RunStore.open(result.run_dir).read_tune()["pack_costs"] == FAKE
    tune(resume=result.run_dir)  # a finished run resumed: nothing measured again
    assert fake_packs == [SMALL.scouts]


def test_a_time_budget_stops_starting_what_would_overrun_and_says_so(task, tmp_path, monkeypatch):
    slow = {**FAKE, "one": 1.0, "pack": 1.0}  # 1 s a step: 8 steps an epoch, 3 epochs: no room for much
    monkeypatch.setattr(pack_cost, "measure_pack_costs", lambda *a: dict(slow))
    result = tune(task, out=tmp_path, settings=SMALL, time_budget=5)
    scout = next(s for s in result.stages if s["stage"] == "scout")
    assert len(scout["lrs"]) == 3 and "time budget (5 s)" in scout["reason"]
    assert result.best is not None and result.cost["time_budget"] == 5
    assert next(s for s in result.stages if s["stage"] == "final")["lrs"] == [result.best["lr"]]


def test_under_one_cycle_scouts_train_the_schedule_compressed_and_tune_json_says_so(task, tmp_path, fake_packs):
    result = tune({**task, "scheduler": "onecycle"}, out=tmp_path, settings=SMALL)
    assert result.fidelity["mode"] == "compressed" and result.fidelity["schedule"] == "cycle"
    scout = next(s for s in result.stages if s["stage"] == "scout")
    assert scout["fidelity"] == "compressed" and "compressed to 1 of 3" in scout["reason"]
    store = RunStore.open(result.run_dir)
    short = store.path / "scouts-compressed" / "variants"
    assert len(list(short.iterdir())) == SMALL.scouts  # every scout ran 1 epoch, the whole schedule in it
    full = sum(len(store.read_metrics(v)) for v in store.variant_ids())
    assert result.cost["variant_epochs"] == full + SMALL.scouts  # the compressed epochs are paid for too
    assert result.cost["trainings"] <= SMALL.budget


def test_after_a_warm_up_the_first_cut_waits_for_it(task):
    warm = {**task, "train": {"epochs": 6}, "scheduler": {"type": "warmup", "warmup_epochs": 2}}
    tuner = Tuner.__new__(Tuner)  # the decision alone: nothing trained
    tuner.config, tuner.settings, tuner.costs = parse_config(warm), TuneSettings(), Costs(6, 8)
    assert tuner._fidelity()[:2] == ("after-warmup", 3)
    assert tuner.fidelity["schedulers"] == ["warmup"] and "after the 2-epoch warm-up" in tuner.fidelity["reason"]


def test_a_small_budget_is_spent_and_an_unresolved_band_says_so(task, tmp_path, fake_packs):
    three = {**task, "seeds": [0, 1, 2]}
    result = tune(three, out=tmp_path, budget=6, settings=TuneSettings())
    assert 5 <= result.cost["trainings"] <= 6
    if not result.band["resolved"]:
        assert "unresolved" in result.band["note"]


def test_schedule_aware_scouting_can_be_turned_off_for_comparison(task):
    tuner = Tuner.__new__(Tuner)
    tuner.config, tuner.costs = parse_config({**task, "scheduler": "onecycle"}), Costs(3, 8)
    tuner.settings = TuneSettings()
    assert tuner._fidelity()[0] == "compressed"
    tuner.settings = TuneSettings(schedule_aware=False)
    assert tuner._fidelity()[0] == "prefix"


def test_a_budget_left_unspent_says_why(task, tmp_path, fake_packs):
    notices = []

    class Events:
        def __getattr__(self, name):
            return (lambda message: notices.append(message)) if name == "on_notice" else (lambda *a, **k: None)

    three = {**task, "seeds": [0, 1, 2]}
    result = tune(three, out=tmp_path, budget=40, settings=TuneSettings(), events=Events())
    left = 40 - result.cost["trainings"]
    assert left >= 1 and "pays for no further finalist" in result.cost["unspent"]  # 2 finalists at most
    assert any(n.startswith("tune: ") and "trainings spent" in n for n in notices)
    assert RunStore(result.run_dir).read_tune()["cost"]["unspent"] == result.cost["unspent"]  # kept in tune.json


def test_pack_costs_are_measured_under_a_schedule_too_short_for_one_epoch(task):
    """The measurement trains one epoch; a warm-up of one epoch then leaves none for what follows it, so it is timed
    without the schedule (whose step costs next to nothing) rather than not at all."""
    config = parse_config({**task, "scheduler": {"type": "warmup", "warmup_epochs": 1, "then": "cosine"}})
    costs = measure_pack_costs(config, load_data(config), 4)
    assert "error" not in costs and costs["one"] > 0 and costs["pack"] > 0


def test_where_packs_are_cheap_scouting_takes_more_lrs_in_its_one_pack_instead_of_refinement_rounds(
    task, tmp_path, monkeypatch
):
    def run(pack):  # one more LR adds 0% (cheap) or 67% (dear) of a pack of one's step
        monkeypatch.setattr(pack_cost, "measure_pack_costs", lambda *a: {**FAKE, "one": 0.01, "pack": pack})
        result = tune(task, out=tmp_path / str(pack), budget=14, settings=SMALL)
        assert result.cost["trainings"] <= 14
        scout = next(s for s in result.stages if s["stage"] == "scout")
        return scout, [s for s in result.stages if s["stage"] == "refine"]

    cheap, cheap_rounds = run(0.01)
    assert cheap["widened"] and SMALL.scouts < len(cheap["lrs"]) <= 2 * SMALL.scouts
    assert "packs are cheap here" in cheap["reason"]
    dear, dear_rounds = run(0.03)
    assert not dear["widened"] and len(dear["lrs"]) == SMALL.scouts
    assert len(cheap_rounds) < len(dear_rounds)  # the money of a refinement round went into the one wide pack


def test_the_finals_mixed_seed_pack_is_measured_where_seeds_can_share_one(task):
    three = parse_config({**task, "seeds": [0, 1, 2]})
    costs = measure_pack_costs(three, load_data(three), 4, finalists=2)
    assert costs["mixed_k"] == 4 and costs["mixed"] > 0  # 2 finalists x the 2 seeds after the first
    assert "mixed" not in measure_pack_costs(parse_config(task), load_data(three), 4)  # no finalists asked
    dropout = parse_config({**task, "seeds": [0, 1, 2], "model": {"name": "mlp", "hidden": [16], "dropout": 0.2}})
    assert "mixed" not in measure_pack_costs(dropout, load_data(dropout), 4, finalists=2)  # its seeds stay apart


def _final_packs(store: RunStore) -> dict[str, dict]:
    """The finals' variants (seeds after the first): id -> status.json, with its metrics.csv rows as ``rows``."""
    out = {}
    for vid in store.variant_ids():
        record = store.read_status(vid)
        if record.get("stage") == "final":
            out[vid] = {**record, "rows": store.read_metrics(vid)}
    return out


def test_the_finals_train_every_seed_in_one_pack_where_measured_faster_with_the_same_numbers(
    task, tmp_path, monkeypatch
):
    three = {**task, "seeds": [0, 1, 2], "retrain": False}
    runs = {}
    for name, mixed in (("together", 0.015), ("apart", 0.2)):  # seconds per step: 2 x 0.015 for one pack per seed
        fake = {**FAKE, "one": 0.01, "pack": 0.02, "mixed": mixed, "mixed_k": 4}
        monkeypatch.setattr(pack_cost, "measure_pack_costs", lambda *a, fake=fake: dict(fake))
        result = tune(three, out=tmp_path / name, settings=SMALL)
        final = next(s for s in result.stages if s["stage"] == "final")
        runs[name] = (result, final, _final_packs(RunStore.open(result.run_dir)))
    together, final, packs = runs["together"]
    assert final["seeds_in_one_pack"] is True and "every seed in one pack: about" in final["reason"]
    assert {tuple(r["computed"]["seeds"]) for r in packs.values()} == {(1, 2)}  # one pack, both seeds
    assert {r["computed"]["pack_size"] for r in packs.values()} == {2 * len(final["lrs"])}
    apart, final_apart, packs_apart = runs["apart"]
    assert final_apart["seeds_in_one_pack"] is False and "one pack per seed: about" in final_apart["reason"]
    assert {tuple(r["computed"]["seeds"]) for r in packs_apart.values()} == {(1,), (2,)}
    assert together.best["lr"] == apart.best["lr"] and set(packs) == set(packs_apart)
    for vid, record in packs.items():  # each variant's numbers as when its seed had a pack of its own
        alone = packs_apart[vid]["rows"]
        assert len(record["rows"]) == len(alone) == three["train"]["epochs"]
        for row, same in zip(record["rows"], alone):
            for column in ("train_loss", "val_loss", "val_acc"):
                assert row[column] == pytest.approx(same[column], rel=1e-5, abs=1e-6)


def test_the_wide_pack_is_measured_only_where_a_plan_may_use_its_cost(task, tmp_path, fake_packs):
    """At the default budget 8 scouts and the finals spend it all: no plan can widen, and a pack of 8 (the dearest
    part of the measurement) is not timed; a time budget or room for more scouts times it."""
    three = {**task, "seeds": [0, 1, 2]}
    tune(three, out=tmp_path / "default", settings=TuneSettings())
    tune(three, out=tmp_path / "timed", settings=TuneSettings(), time_budget=600)
    tune(three, out=tmp_path / "roomy", budget=40, settings=TuneSettings())
    assert fake_packs == [TuneSettings().finalists, TuneSettings().scouts, TuneSettings().scouts]
