"""train.early_stopping's rule: epochs without an improvement larger than min_delta, in the metric's direction."""

from lrsweep.engine.common import EpochRecord
from lrsweep.engine.stopping import StopRule, epochs_without_improvement, should_stop


def records(values, metric="val_loss"):
    out = []
    for epoch, value in enumerate(values, start=1):
        record = EpochRecord(epoch, 0.1, 1.0, None, None, None, 0.0)
        if metric == "val_loss":
            record.val_loss = value
        else:
            record.metrics = {metric: value}
        out.append(record)
    return out


def test_a_minimised_metric_stops_after_patience_epochs_without_a_new_best():
    rule = StopRule("val_loss", "min", patience=2)
    assert epochs_without_improvement(records([1.0, 0.8, 0.9, 0.85]), rule) == 2
    assert should_stop(records([1.0, 0.8, 0.9, 0.85]), rule)
    assert not should_stop(records([1.0, 0.8, 0.9, 0.7]), rule)  # a new best resets the count


def test_a_maximised_metric_and_min_delta():
    rule = StopRule("val_f1", "max", patience=2, min_delta=0.05)
    assert epochs_without_improvement(records([0.5, 0.54, 0.58], "val_f1"), rule) == 0  # 0.58 beats 0.5 by 0.08
    assert should_stop(records([0.5, 0.54, 0.53], "val_f1"), rule)  # +0.04 is not an improvement


def test_missing_or_non_finite_values_never_improve_and_no_rule_never_stops():
    rule = StopRule("val_loss", "min", patience=3)
    assert epochs_without_improvement(records([float("nan"), None, 1.0, float("inf")]), rule) == 1
    assert not should_stop(records([5.0] * 10), None)


# ---- in the engines: a stopped variant ends done; a pack keeps training its other members


def _early(spec_, patience=1):
    from dataclasses import replace

    return replace(spec_, epochs=6, early_stopping=StopRule("val_loss", "min", patience=patience))


def test_a_variant_stops_alone_and_in_a_pack_at_the_same_epoch_while_the_pack_trains_on(monkeypatch):
    from helpers import sibling_tests

    from lrsweep.engine.common import STATUS_DONE

    vec = sibling_tests("engine/test_vectorized.py")
    spec_ = _early(vec.spec())
    vs = vec.variants(lrs=(0.003, 0.3, 1.0))  # the large LRs overshoot: their val_loss stalls first
    alone, _ = vec.sequential(vs, spec_, monkeypatch=monkeypatch)
    together, _ = vec.packed(vs, spec_)
    vec.assert_same(alone, together)
    assert [r.status for r in together] == [STATUS_DONE] * 3
    stopped = [r.stopped_early for r in together]
    assert any(stopped) and not all(stopped), [len(r.epochs) for r in together]
    for result in together:
        assert len(result.epochs) == 6 or result.stopped_early
        if result.stopped_early:  # it stopped exactly when the rule said so, not an epoch later
            assert should_stop(result.epochs, spec_.early_stopping)
            assert not should_stop(result.epochs[:-1], spec_.early_stopping)


def test_without_a_validation_split_nothing_stops():
    from helpers import sibling_tests

    from lrsweep.engine.loop import train_variant

    vec = sibling_tests("engine/test_vectorized.py")
    result = train_variant(vec.variants(lrs=(1.0,))[0], _early(vec.spec()), vec.DATA, None)
    assert len(result.epochs) == 6 and not result.stopped_early  # the retrain trains to its given epoch
