"""``lrsweep tune``'s first stage, the bounds of the search: one LR range test on lrsweep's own loop (a config
of your own code, which has no loop lrsweep can run, is searched over the span of its ``lr`` instead; see
:class:`lrsweep.api.tune_stages.Tuner`)."""

from __future__ import annotations

from lrsweep.errors import UsageError
from lrsweep.select.strategy import round_lr

MIN_RANGE_STEPS = 20  # fewer points leave the range test's curve too coarse to bound anything


def range_test_bounds(config, splits, settings, costs, events) -> dict:
    """The range test tune.json keeps (its curve left out), with ``ceiling``: the divergence LR with a margin."""
    import torch

    from lrsweep.engine.common import loss_fn
    from lrsweep.engine.loop import initial_state
    from lrsweep.select.edge import POWER_ITERATIONS
    from lrsweep.select.finder import GRID_MARGIN, FinderSettings
    from lrsweep.select.range_test import range_test
    from lrsweep.sweep.runner import train_spec

    s, c = settings, costs
    steps = max(MIN_RANGE_STEPS, min(s.range_steps, int(s.range_share * c.epochs * c.steps_per_epoch)))
    finder = FinderSettings(steps=steps)
    most = c.trainings(steps=steps + 1 + 2 * POWER_ITERATIONS)
    if most > s.budget:
        raise UsageError(
            f"a budget of {s.budget:g} trainings is too small for this config: the range test "
            f"alone may cost {most:.2f}; raise --budget"
        )
    spec = train_spec(config, splits)
    seed, opt = config.seeds[0], config.optimizers[0]
    events.on_notice(f"tune: range test ({steps} steps) for the bounds")
    model, optimizer = initial_state(spec, opt, finder.start_lr, seed, splits.train_x.device)
    result = range_test(
        model,
        optimizer,
        loss_fn(spec.loss, spec.loss_options),
        splits.train_x,
        splits.train_y,
        spec.batch_size,
        finder,
        generator=torch.Generator().manual_seed(seed),
    )
    data = result.to_dict()
    data.pop("points")
    data["ceiling"] = round_lr(result.ceiling * GRID_MARGIN)
    return data
