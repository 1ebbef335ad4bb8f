"""tune's pure decisions: budget arithmetic, the scouting grid, refinement points, the band."""

import math

import pytest

from lrsweep.optim.schedulers import parse_scheduler
from lrsweep.select.strategy import (
    ABOVE_MIN_SCOUTS,
    CHEAP_PACK,
    WIDEN,
    Costs,
    band_of,
    ceiling_is_a_blow_up,
    compressed_keep,
    finals_step_seconds,
    grace_epochs,
    halving_epochs,
    halving_segments,
    log_space,
    marginal_cost,
    most_scouts,
    parabola,
    refine_points,
    refine_rounds,
    schedule_shape,
    scout_fidelity,
    scout_grid,
    smoothed_ranking,
    stage_seconds,
    step_seconds,
    survivors,
    widen_band,
)
from lrsweep.select.summary import tied


def test_log_space_is_geometric_and_keeps_its_ends():
    lrs = log_space(1e-3, 1.0, 4)
    assert lrs == [0.001, 0.01, 0.1, 1.0]
    assert log_space(0.01, 1.0, 1) == [0.1]


def test_costs_count_epochs_and_range_test_steps_as_trainings():
    costs = Costs(epochs=4, steps_per_epoch=25)
    assert costs.trainings(variant_epochs=8) == 2.0
    assert costs.trainings(steps=50) == 0.5


@pytest.mark.parametrize(
    "scouts, epochs, grace, reduction, expected",
    [
        (8, 3, 1, 3, 8 * 1 + 2 * 2),  # one rung at epoch 1: 2 of 8 go on for 2 more epochs
        (9, 9, 1, 3, 9 * 1 + 3 * 2 + 1 * 6),  # rungs at 1 and 3
        (6, 1, 1, 3, 6),  # no rung before the last epoch: everyone trains the one epoch
    ],
)
def test_halving_epochs_is_what_successive_halving_trains(scouts, epochs, grace, reduction, expected):
    assert halving_epochs(scouts, epochs, grace, reduction) == expected


def test_grace_is_a_share_of_the_epochs_at_least_one():
    assert grace_epochs(3, 1 / 3) == 1 and grace_epochs(30, 1 / 3) == 10 and grace_epochs(1, 1 / 3) == 1
    assert survivors(8, 3, 1, 3) == 2


def test_refinement_bisects_both_sides_in_log_lr_until_the_resolution():
    points, why = refine_points([0.001, 0.01, 0.1], 0.01, ceiling=1.0, resolution=1.5)
    assert points == pytest.approx([math.sqrt(0.001 * 0.01), math.sqrt(0.01 * 0.1)], rel=1e-3) and not why
    points, why = refine_points([0.01, 0.012, 0.0085], 0.01, ceiling=1.0, resolution=1.5)
    assert points == [] and "resolution" in why


def test_refinement_looks_below_a_lowest_best_and_never_above_the_ceiling():
    points, _ = refine_points([0.01, 0.1], 0.01, ceiling=0.1, resolution=1.5)
    assert points[0] == pytest.approx(0.001)
    points, _ = refine_points([0.01, 0.1], 0.1, ceiling=0.1, resolution=1.5)
    assert points == [pytest.approx(math.sqrt(0.01 * 0.1), rel=1e-3)]  # only below: the ceiling is the top


def test_refinement_looks_above_a_best_that_is_above_the_ceiling():
    points, why = refine_points([0.01, 0.1, 1.0], 1.0, ceiling=0.1, resolution=1.5)
    assert points == [pytest.approx(math.sqrt(0.1), rel=1e-3), pytest.approx(10.0)] and not why  # and above it
    points, _ = refine_points([0.01, 0.1, 1.0], 0.1, ceiling=0.1, resolution=1.5)
    assert points == [pytest.approx(math.sqrt(0.01 * 0.1), rel=1e-3)]  # the scout above lost: no midpoint up there


def test_the_scout_grid_puts_one_scout_a_spacing_above_the_ceiling_when_asked():
    assert scout_grid(0.001, 1.0, 8, above=False) == log_space(0.001, 1.0, 8)
    lrs = scout_grid(0.001, 1.0, 8, above=True)
    assert len(lrs) == 8 and lrs[:-1] == log_space(0.001, 1.0, 7)  # the ceiling itself is still a scout
    spacing = 1000 ** (1 / 6)
    assert lrs[-1] == pytest.approx(spacing, rel=1e-3)
    assert all(b / a == pytest.approx(spacing, rel=1e-3) for a, b in zip(lrs, lrs[1:]))  # one even grid
    few = ABOVE_MIN_SCOUTS - 1
    assert scout_grid(0.001, 1.0, few, above=True) == log_space(0.001, 1.0, few)  # too few to spare one


@pytest.mark.parametrize(
    ("range_test", "above"),
    [
        ({"divergence_lr": 0.1, "onset_lr": 0.1, "edge_lr": None}, True),  # the curve blew up (an adaptive optimizer)
        ({"divergence_lr": 0.1, "onset_lr": 0.1, "edge_lr": 0.5}, True),  # ... below the stability edge
        ({"divergence_lr": 0.05, "onset_lr": 0.1, "edge_lr": 0.05}, False),  # the edge set it: exact on a quadratic
        ({"divergence_lr": None, "onset_lr": None, "edge_lr": None}, False),  # no blow-up: bounded where it stopped
        ({"divergence_lr": 0.05, "onset_lr": None, "edge_lr": 0.05}, False),  # only the edge
        (None, False),  # your own code: no range test, the config's span
    ],
)
def test_only_a_ceiling_where_the_curve_blew_up_gets_a_scout_above_it(range_test, above):
    assert ceiling_is_a_blow_up(range_test) is above


def group(lr, scores):
    mean = sum(scores) / len(scores)
    std = (sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)) ** 0.5 if len(scores) > 1 else 0.0
    return {"lr": lr, "seeds": list(range(len(scores))), "scores": scores, "mean": mean, "std": std}


def test_the_band_spans_the_lrs_tied_with_the_best():
    best = group(0.03, [0.30, 0.32, 0.31])
    groups = [best, group(0.01, [0.31, 0.31, 0.33]), group(0.1, [0.50, 0.52, 0.51]), group(0.02, [0.29, 0.35, 0.30])]
    assert band_of(best, groups, tied) == {"low": 0.01, "high": 0.03}


def test_parabola_fits_exactly_and_ranks_by_the_fitted_valley():
    assert parabola([0, 1, 2, 3], [1, 0, 1, 4]) == pytest.approx((1.0, -2.0, 1.0))
    # one seed's noise makes 0.0095 and 0.0217 look best; the fitted valley sits between them
    noisy = [(0.603, 0.0063), (0.533, 0.00774), (0.480, 0.00951), (0.515, 0.0117), (0.557, 0.0144), (0.494, 0.0217)]
    assert {lr for _s, lr in smoothed_ranking(noisy)[:2]} == {0.0117, 0.0144}
    few = [(0.5, 0.01), (0.4, 0.02)]
    assert smoothed_ranking(few) == sorted(few)  # too few points: the raw ranking


def test_the_band_widens_over_first_seed_neighbours_within_the_finals_seed_noise():
    """Scouts and refinement points have one seed: a neighbour within the best's seed std on that same seed
    joins the band; the walk stops at the first LR worse by more (0.1 here), so 0.3 never joins."""
    best = group(0.03, [0.30, 0.32, 0.31])  # std 0.01
    ranking = sorted([(0.30, 0.03), (0.305, 0.02), (0.309, 0.045), (0.33, 0.01), (0.40, 0.1), (0.301, 0.3)])
    assert widen_band({"low": 0.03, "high": 0.03}, best, ranking, seed=0, rtol=1e-4) == {"low": 0.02, "high": 0.045}


def test_the_band_does_not_widen_without_seed_noise_or_without_the_best_among_the_points():
    one_seed = group(0.03, [0.30])  # std 0: only the relative tolerance
    ranking = [(0.30, 0.03), (0.305, 0.02)]
    assert widen_band({"low": 0.03, "high": 0.03}, one_seed, ranking, seed=0, rtol=1e-4) == {"low": 0.03, "high": 0.03}
    assert widen_band({"low": 0.03, "high": 0.03}, group(0.03, [0.3, 0.32]), [(0.305, 0.02)], seed=0, rtol=1e-4) == {
        "low": 0.03,
        "high": 0.03,
    }


# ---- issue #19: schedules, wall time, the band against the finals


@pytest.mark.parametrize(
    ("entry", "shape"),
    [
        ("none", ("plain", 0)),
        ("cosine", ("plain", 0)),
        ("onecycle", ("cycle", 0)),
        ("cyclic", ("cycle", 0)),
        ("sgdr", ("cycle", 0)),
        ({"type": "warmup", "warmup_epochs": 2}, ("warmup", 2)),
        ({"type": "warmup", "warmup_epochs": 1, "then": {"type": "cosine"}, "interval": "step"}, ("warmup", 1)),
        ({"type": "warmup", "then": {"type": "onecycle"}}, ("cycle", 0)),
    ],
)
def test_schedule_shape_finds_warm_ups_and_cycles(entry, shape):
    assert schedule_shape(parse_scheduler(entry), epochs=10) == shape


def test_scout_fidelity_never_cuts_before_a_warm_up_ends_nor_inside_a_cycle():
    assert scout_fidelity(("plain", 0), 6, 2)[:2] == ("prefix", 2)
    assert scout_fidelity(("warmup", 2), 9, 3)[:2] == ("after-warmup", 3)  # the warm-up ended at 2
    assert scout_fidelity(("warmup", 2), 6, 1)[:2] == ("after-warmup", 3)  # the first rung moves after it
    assert scout_fidelity(("warmup", 3), 4, 1)[:2] == ("compressed", 1)  # no epoch left after the warm-up
    mode, grace, why = scout_fidelity(("cycle", 0), 3, 1)
    assert (mode, grace) == ("compressed", 1) and "compressed" in why
    assert scout_fidelity(("cycle", 0), 1, 1)[:2] == ("full", 1)


def test_pack_costs_give_stage_seconds_linear_in_the_pack_width():
    costs = {"k": 5, "one": 1.0, "pack": 2.0}
    assert [step_seconds(costs, w) for w in (1, 3, 5, 9)] == [1.0, 1.5, 2.0, 3.0]
    assert stage_seconds(costs, 10, [(5, 2), (1, 1)]) == 10 * (2 * 2.0 + 1 * 1.0)
    assert stage_seconds(None, 10, [(5, 2)]) == 0.0
    for scouts, epochs, grace in [(8, 6, 2), (8, 10, 4), (5, 4, 1)]:
        segments = halving_segments(scouts, epochs, grace, 3)
        assert sum(w * e for w, e in segments) == halving_epochs(scouts, epochs, grace, 3)


def test_the_finals_seconds_one_pack_per_seed_against_every_seed_in_one_pack():
    costs = {"k": 5, "one": 1.0, "pack": 2.0, "mixed": 3.0, "mixed_k": 4}  # a one-seed pack of 4: 1.75 s a step
    apart, together = finals_step_seconds(costs, 2, 2)
    assert apart == 2 * 1.25 and together == pytest.approx(3.0)  # 2 finalists x 2 seeds: the width measured
    apart, together = finals_step_seconds(costs, 1, 2)  # 1 finalist: a mixed pack of 2, scaled as packs scale
    assert apart == 2.0 and together == pytest.approx(3.0 * 1.25 / 1.75)
    assert finals_step_seconds({k: v for k, v in costs.items() if k != "mixed"}, 2, 2)[1] == math.inf
    assert finals_step_seconds(None, 2, 2) == (0.0, math.inf)  # nothing measured: the device's rule


def test_the_band_never_holds_a_finalist_the_finals_call_not_tied():
    def group(lr, mean, std=0.01):
        return {"lr": lr, "mean": mean, "std": std, "seeds": [0, 1], "scores": [mean, mean]}

    best = group(0.1, 1.0)
    groups = [best, group(0.05, 1.5), group(0.02, 1.0), group(0.2, 1.0)]  # 0.05 not tied, 0.02 tied beyond it

    def tied(a, b):
        return abs(a["mean"] - b["mean"]) < 0.1

    band = band_of(best, groups, tied)
    assert band == {"low": 0.1, "high": 0.2}  # 0.02 is tied but lies past 0.05: the band stays one interval
    ranking = [(1.0, 0.1), (1.001, 0.05), (1.0, 0.03), (1.0, 0.2)]  # on the first seed 0.05 looks as good
    widened = widen_band(band, best, ranking, seed=0, rtol=0.05, apart=(0.05,))
    assert widened["low"] == 0.1  # the finals' verdict wins over the first seed's
    assert widen_band(band, best, ranking, seed=0, rtol=0.05)["low"] == 0.03  # without it, it would not


def test_compressed_scouts_send_their_best_and_the_lr_below_it_to_full_length():
    lrs = [0.01, 0.02, 0.04, 0.08, 0.16]
    assert compressed_keep(lrs, [0.08, 0.16, 0.04, 0.02], 2) == [0.08, 0.04]
    assert compressed_keep(lrs, [0.01, 0.02, 0.04], 2) == [0.01, 0.02]  # nothing below: the next by rank
    assert compressed_keep(lrs, [0.08, 0.16, 0.04], 3) == [0.08, 0.04, 0.16]
    assert compressed_keep(lrs, [0.08], 1) == [0.08] and compressed_keep(lrs, [], 2) == []


def test_packs_are_cheap_when_one_more_lr_adds_little_to_a_step():
    assert marginal_cost({"k": 8, "one": 1.0, "pack": 2.4}) == pytest.approx(0.2)
    assert marginal_cost({"k": 8, "one": 1.0, "pack": 8.0}) == pytest.approx(1.0)  # one after another
    assert marginal_cost(None) is None and marginal_cost({"k": 8, "one": 0.0, "pack": 0.0}) is None  # unmeasured
    assert most_scouts(8, {"k": 8, "one": 1.0, "pack": 1.0 + 7 * CHEAP_PACK}) == 8 * WIDEN
    assert most_scouts(8, {"k": 8, "one": 1.0, "pack": 1.1 + 7 * CHEAP_PACK}) == 8
    assert most_scouts(8, None) == 8


def test_refine_rounds_halve_the_spacing_on_log_lr_until_the_resolution():
    assert refine_rounds(1.4, 1.5) == 0
    assert refine_rounds(2.0, 1.5) == 1  # sqrt(2) = 1.41
    assert refine_rounds(4.0, 1.5) == 2  # 4 -> 2 -> 1.41
    assert refine_rounds(10.0, 1.5) == 3  # 10 -> 3.16 -> 1.78 -> 1.33
