"""``lrsweep tune``'s four stages, in order, each a sweep of derived configs in one run directory (see
:mod:`lrsweep.api.tuning`): the range test's bounds, scouting with successive halving, refinement, and
the finals with every seed. Every decision is a function of the metrics on disk, so a resume replays them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from lrsweep.api.tune_bounds import range_test_bounds
from lrsweep.api.tune_records import TuneRecords
from lrsweep.api.tune_result import TuneResult, TuneSettings
from lrsweep.config import Config, PruneConfig
from lrsweep.errors import UsageError
from lrsweep.run.store import RunStore
from lrsweep.select.strategy import (
    ROUND_POINTS,
    Costs,
    ceiling_is_a_blow_up,
    compressed_epochs,
    compressed_keep,
    finals_step_seconds,
    grace_epochs,
    halving_epochs,
    halving_segments,
    marginal_cost,
    most_scouts,
    refine_points,
    refine_rounds,
    schedule_shape,
    scout_fidelity,
    scout_grid,
    smoothed_ranking,
    stage_seconds,
    survivors,
)

MIN_SCOUTS = 3
# Scouts span at most this ratio below the ceiling: on the six benchmark tasks the good band sat within
# 1.5 decades of the range test's ceiling; a short range test's curve can start falling far lower.
SCOUT_SPAN = 1000.0


def scout_stage(status: str) -> str:
    """A scout that trained every epoch (survived the cut) is ``rung``; one cut, diverged or failed, ``scout``."""
    return "rung" if status == "done" else "scout"


class Tuner(TuneRecords):
    """One tune run: the stages in order, each recorded in tune.json as it ends."""

    def __init__(
        self,
        config: Config,
        store: RunStore,
        settings: TuneSettings,
        events,
        executor=None,
        function=None,
        section: str | None = None,
    ):
        self.config, self.store, self.settings, self.events = config, store, settings, events
        self.executor, self.function = executor, function  # where the sweeps train; your own function, if given
        self.section = section  # one batch size's tune in a run of several: tune.json's batch_sizes[section]
        self.stages: list[dict] = []
        self.planned = 0.0  # trainings committed by the stages so far (upper bounds): what decisions use
        self.tried: list[float] = []  # every LR tried on the first seed, in order (a resume replays the same)
        self.counted: set[str] = set()  # variants whose epochs a stage's cost already counts
        self.reads: dict = {}
        saved = self._read_tune() or {}
        self.range_test: dict | None = saved.get("range_test")
        self.pack_costs: dict | None = saved.get("pack_costs")  # measured once; a resume reads them back
        self.fidelity: dict | None = None
        self.short_epochs = 0  # variant-epochs of the compressed scouts (their own store), for the scout stage
        self._start_clock()

    # ---- the whole run

    def run(self) -> TuneResult:
        from lrsweep.api.common import finish_meta
        from lrsweep.api.trials import direction_notice
        from lrsweep.engine.device import resolve_device
        from lrsweep.engine.loop import steps_per_epoch
        from lrsweep.sweep.executors.base import load_data
        from lrsweep.sweep.runner import Interrupted

        if self.config.kind == "engine":
            self.device = resolve_device(self.config.device)
            self.splits = load_data(self.config).to(self.device)
            steps = steps_per_epoch(len(self.splits.train_x), self.config.batch_sizes[0])
        else:  # your own code loads its own data; no range test, so no optimizer steps to count
            self.splits, steps = None, 1
        self.costs = Costs(self.config.train.epochs, steps)
        if (notice := direction_notice(self.config)) is not None:
            self.events.on_notice(notice)
        try:
            low, high = self._range()
            self._scout(low, high)
            self._refine(high)
            final = self._finals()
        except (Interrupted, KeyboardInterrupt):  # Ctrl-C/SIGTERM inside a sweep, or during the range test
            result = self._result(None, status="interrupted")
            self._write_tune(result.to_dict())
            if self.section is None:
                finish_meta(self.store, "interrupted")
            raise Interrupted({**result.to_dict(), "run_dir": result.run_dir}) from None
        result = self._result(final)
        self._say_unspent(result)
        self._write_tune(result.to_dict())
        if self.section is None:
            finish_meta(self.store, "finished")
        return result

    # ---- stage 1: bounds

    def _range(self) -> tuple[float, float]:
        if self.config.kind != "engine":
            return self._span()
        if self.range_test is None:
            self.range_test = range_test_bounds(self.config, self.splits, self.settings, self.costs, self.events)
            self._save_progress()
        rt = self.range_test
        self.planned += self.costs.trainings(steps=self._range_steps())
        high = rt["ceiling"]
        low = rt.get("falling_lr") or rt["suggestions"]["valley"] / 10
        low = min(max(low, high / SCOUT_SPAN), high / 10)  # a decade to three below the ceiling
        steps = rt["steps_run"] * rt["settings"]["accumulate"] + rt.get("edge_steps", 0)
        why = (
            f"divergence LR {rt['divergence_lr']:.3g}"
            if rt["divergence_lr"] is not None
            else f"no blow-up up to {rt['stop_lr']:.3g}: bounded where the loss stopped falling"
        )
        self._stage(
            "range",
            lrs=[],
            steps=steps,
            bounds={"low": low, "high": high},
            reason=f"{rt['steps_run']} steps; the loss starts to fall at {low:.3g}; {why}",
        )
        return low, high

    def _span(self) -> tuple[float, float]:
        """Your own code: the range test needs lrsweep's own loop, so the search spans the config's lr."""
        low, high = min(self.config.lrs), max(self.config.lrs)
        if low == high:
            raise UsageError(
                f"tune searches the span of lr, and this config gives one LR ({low:g}): give a span, e.g. "
                "lr: {logspace: {start: 1.0e-5, stop: 0.1, num: 9}} (or lr=(1e-5, 0.1) from Python)"
            )
        self._stage(
            "range",
            lrs=[],
            bounds={"low": low, "high": high},
            bounds_from="lr",
            reason=f"the span of lr the config gives, {low:.3g} to {high:.3g} (the range test needs lrsweep's own "
            f"training loop; this config trains with its {self.config.kind})",
        )
        return low, high

    # ---- stage 2: scouting with successive halving

    def _scout(self, low: float, high: float) -> None:
        s, c = self.settings, self.costs
        mode, grace, why = self._fidelity()
        above = ceiling_is_a_blow_up(self.range_test)
        self._measure_packs(mode, grace)
        scouts, finalists, over = self._scout_plan(mode, grace, lambda n: scout_grid(low, high, n, above))
        cost = c.trainings(self._scout_epochs(mode, scouts, grace))
        if cost + self._finals_reserve(1) > self._left():
            raise UsageError(
                f"a budget of {s.budget:g} trainings is too small for this config: the range test, "
                f"{scouts} scouts and one finalist need "
                f"{self.planned + cost + self._finals_reserve(1):.2f}; raise --budget"
            )
        lrs = scout_grid(low, high, scouts, above)
        top = lrs[-1] if lrs[-1] > high else None  # the scout above the ceiling, if any
        self.planned += cost
        self.tried += lrs
        self.events.on_notice(
            f"tune: scouting {scouts} LRs {lrs[0]:.3g}-{lrs[-1]:.3g} ({mode}: grace {grace} of {c.epochs} epochs, "
            f"keep 1/{s.reduction}){over}"
        )
        if mode == "compressed":
            summary = self._compressed_scouts(lrs, grace)
        else:
            prune = PruneConfig(type="asha", grace_epochs=grace, reduction=s.reduction) if mode != "full" else None
            summary = self._sweep(lrs, seeds=self.config.seeds[:1], prune=prune, stage=scout_stage)
        kept = self._kept(mode, scouts, grace)
        self._stage(
            "scout",
            lrs=lrs,
            epochs=self._epochs_of(summary) + self.short_epochs,
            grace_epochs=grace,
            fidelity=mode,
            finalists_planned=finalists,
            widened=scouts > s.scouts,
            above_ceiling=top,
            reason=f"{why}; from {scouts} to {kept} at full length{over}"
            + (f"; the top scout {top:.4g} is above the range test's ceiling {high:.4g}" if top else ""),
        )

    def _fidelity(self) -> tuple[str, int, str]:
        """How scouts are compared under the config's schedule (tune.json's ``fidelity``)."""
        c = self.costs
        grace = grace_epochs(c.epochs, self.settings.grace_fraction)
        if grace * self.settings.reduction < c.epochs:  # one rung only: the cut leaves 1/reduction at full length
            grace = math.ceil(c.epochs / self.settings.reduction)
        engine = self.config.kind == "engine"
        shapes = [schedule_shape(spec, c.epochs) for spec in self.config.schedulers] if engine else []
        shape = next((x for x in shapes if x[0] == "cycle"), max(shapes, default=("plain", 0), key=lambda x: x[1]))
        if not self.settings.schedule_aware:  # for comparison: the plain cut whatever the schedule
            shape = ("plain", 0)
        mode, grace, why = scout_fidelity(shape, c.epochs, grace)
        names = [spec.type for spec in self.config.schedulers] if engine else []
        self.fidelity = {"mode": mode, "grace_epochs": grace, "schedule": shape[0], "schedulers": names, "reason": why}
        return mode, grace, why

    def _scout_epochs(self, mode: str, scouts: int, grace: int) -> int:
        c, r = self.costs, self.settings.reduction
        if mode == "compressed":
            return compressed_epochs(scouts, c.epochs, grace, r)
        if mode == "full":
            return scouts * c.epochs
        return halving_epochs(scouts, c.epochs, grace, r)

    def _kept(self, mode: str, scouts: int, grace: int) -> int:
        """Scouts that reach full length on the first seed."""
        if mode == "full":
            return scouts
        if mode == "compressed":
            return max(1, scouts // self.settings.reduction)
        return survivors(scouts, self.costs.epochs, grace, self.settings.reduction)

    def _scout_seconds(self, mode: str, scouts: int, grace: int) -> float:
        c, kept = self.costs, self._kept(mode, scouts, grace)
        if mode == "compressed":
            segments = [(scouts, grace), (kept, c.epochs)]
        elif mode == "full":
            segments = [(scouts, c.epochs)]
        else:
            segments = halving_segments(scouts, c.epochs, grace, self.settings.reduction)
        return stage_seconds(self.pack_costs, c.steps_per_epoch, segments)

    def _finals_seconds(self, finalists: int) -> float:
        """The finals' estimated seconds: one pack per further seed, or every seed in one pack where that was
        measured to be faster (see :meth:`_finals_share_seeds`)."""
        others = len(self.config.seeds) - 1
        if others == 0:
            return 0.0
        per_step = min(finals_step_seconds(self.pack_costs, finalists, others))
        return self.costs.epochs * self.costs.steps_per_epoch * per_step

    def _finals_share_seeds(self, finalists: int) -> tuple[bool | None, str]:
        """Whether the finals train every seed in one pack (None: the device's rule, nothing measured), and why: the
        pack costs measured here decide, as a pack of a few LRs on a CPU can end sooner with the seeds mixed (one
        pass instead of one per seed) or later (one wide matrix product per layer instead of one per LR)."""
        others = len(self.config.seeds) - 1
        apart, together = finals_step_seconds(self.pack_costs, finalists, others)
        if others == 0 or math.isinf(together) or not apart:
            return None, ""
        steps = self.costs.epochs * self.costs.steps_per_epoch
        way = "every seed in one pack" if together < apart else "one pack per seed"
        return together < apart, (
            f"{way}: about {together * steps:.2f} s in one pack against {apart * steps:.2f} s one pack per seed "
            "(the pack costs measured before scouting)"
        )

    def _scout_plan(self, mode: str, grace: int, grid: Callable[[int], list[float]]) -> tuple[int, int, str]:
        """(scouts, finalists, what the plan says): for the most finalists the budget pays for (as many as reach full
        length), the most scouts up to the setting that the budget (trainings; and seconds with a time budget) pays
        for with the finals; or more scouts, up to WIDEN times the setting, where the pack costs measured here say
        one wide scouting pack ends sooner than the setting's scouts and the refinement rounds they would need.
        ``grid(n)``: the LRs ``n`` scouts would try."""
        s = self.settings
        for finalists in range(s.finalists, 0, -1):
            fits = [
                n
                for n in range(most_scouts(s.scouts, self.pack_costs), MIN_SCOUTS - 1, -1)
                if self._plan_fits(mode, grace, n, finalists)
            ]
            plain = [n for n in fits if n <= s.scouts]
            if not plain:
                continue
            wide = [n for n in fits if n > s.scouts]
            if not wide:
                return plain[0], finalists, ""
            seconds = {n: self._plan_seconds(mode, grace, grid(n), finalists) for n in [plain[0], *wide]}
            best = min(seconds, key=lambda n: (seconds[n], n))
            if best == plain[0]:
                return best, finalists, ""
            return (
                best,
                finalists,
                (
                    f"; packs are cheap here (one more LR adds {marginal_cost(self.pack_costs):.0%} of a pack of one's "
                    f"step): {best} scouts in one pack (about {seconds[best]:.1f} s with refinement and finals), "
                    f"not {plain[0]} and refinement rounds one after another (about {seconds[plain[0]]:.1f} s)"
                ),
            )
        over = "" if s.time_budget is None else f"; the time budget ({s.time_budget:g} s) pays for no more"
        return MIN_SCOUTS, 1, over

    def _plan_fits(self, mode: str, grace: int, scouts: int, finalists: int) -> bool:
        enough = finalists == 1 or self._kept(mode, scouts, grace) >= finalists
        money = self.costs.trainings(self._scout_epochs(mode, scouts, grace)) + self._finals_reserve(finalists)
        seconds = self._scout_seconds(mode, scouts, grace) + self._finals_seconds(finalists)
        return enough and money <= self._left() + 1e-9 and self._time_fits(seconds)

    def _plan_seconds(self, mode: str, grace: int, lrs: list[float], finalists: int) -> float:
        """Estimated wall seconds of scouting ``lrs`` (a log-spaced grid), then the refinement rounds that narrow
        its spacing to the resolution (as many as the budget left pays for), then the finals."""
        c, scouts = self.costs, len(lrs)
        round_cost = c.trainings(ROUND_POINTS * c.epochs)
        left = self._left() - c.trainings(self._scout_epochs(mode, scouts, grace)) - self._finals_reserve(finalists)
        rounds = min(refine_rounds(lrs[1] / lrs[0], self.settings.resolution), int(max(0.0, left) / round_cost + 1e-9))
        one_round = stage_seconds(self.pack_costs, c.steps_per_epoch, [(ROUND_POINTS, c.epochs)])
        return self._scout_seconds(mode, scouts, grace) + rounds * one_round + self._finals_seconds(finalists)

    def _time_fits(self, seconds: float) -> bool:
        """Whether ``seconds`` more (estimated from the measured pack costs) stay within the time budget."""
        return self.settings.time_budget is None or self._seconds() + seconds <= self.settings.time_budget

    def _compressed_scouts(self, lrs: list[float], grace: int) -> dict:
        """Each scout trains the whole schedule compressed to ``grace`` epochs (its own store, so ids do not meet the
        full-length ones); the best 1/reduction then train in full on the first seed. Returns the full sweep."""
        from lrsweep.select.summary import score
        from lrsweep.sweep.runner import run_sweep

        short_config = replace(
            self.config,
            lrs=tuple(lrs),
            seeds=self.config.seeds[:1],
            prune=PruneConfig(),
            retrain=False,
            train=replace(self.config.train, epochs=grace),
        )
        short = self._short_store(create=True)
        assert short is not None
        try:
            summary = run_sweep(short_config, self.splits, short, self.events, executor=self.executor)
        finally:
            self._forget_reads()
        sign = 1 if self.config.select.direction == "min" else -1
        scored = [
            (sign * value, row["lr"])
            for row in summary["variants"]
            if row["status"] == "done" and (value := score(row, self.config.select.metric)) is not None
        ]
        keep = compressed_keep(lrs, [lr for _v, lr in sorted(scored)], max(1, len(lrs) // self.settings.reduction))
        self.counted.update(f"short:{r['id']}" for r in summary["variants"])
        self.short_epochs = sum(r["epochs_run"] for r in summary["variants"])
        return self._sweep(keep, seeds=self.config.seeds[:1], stage=scout_stage)

    # ---- stage 3: refinement at full length, first seed

    def _refine(self, ceiling: float) -> None:
        rounds, reason = 0, ""
        while True:
            incumbent = self._incumbent()
            if incumbent is None:
                reason = "no scout trained every epoch without diverging"
                break
            points, reason = refine_points(self.tried, incumbent, ceiling, self.settings.resolution)
            if not points:
                break
            round_cost = self.costs.trainings(len(points) * self.costs.epochs)
            if round_cost > self._left() - self._finals_reserve(self._planned_finalists()):
                reason = f"the budget left ({self._left():.2f} trainings) is the finals'"
                break
            seconds = stage_seconds(self.pack_costs, self.costs.steps_per_epoch, [(len(points), self.costs.epochs)])
            if not self._time_fits(seconds + self._finals_seconds(self._planned_finalists())):
                reason = (
                    f"a refinement round (about {seconds:.1f} s) and the finals would overrun the time budget "
                    f"({self.settings.time_budget:g} s)"
                )
                break
            rounds += 1
            self.planned += round_cost
            self.events.on_notice(f"tune: refining around {incumbent:.4g}: {', '.join(f'{p:.4g}' for p in points)}")
            summary = self._sweep(points, seeds=self.config.seeds[:1], stage=lambda _status: "refine")
            self.tried += points
            self._stage(
                "refine",
                lrs=points,
                epochs=self._epochs_of(summary),
                round=rounds,
                reason=f"midpoints between {incumbent:.4g} and its neighbours",
            )
        self.stages.append({"stage": "refine-stop", "reason": reason})
        self._save_progress()

    # ---- stage 4: finals with every seed, the pick, the retrain

    def _finals(self) -> dict:
        ranked = smoothed_ranking(self._first_seed_ranking())
        if not ranked:
            raise UsageError(
                "every scout diverged or failed: nothing to choose from (check the config's "
                "optimizer and data; the range test's bounds are in tune.json)"
            )
        lrs = [lr for _s, lr in ranked[: self._finalists()]]
        self.planned += self.costs.trainings(len(lrs) * (len(self.config.seeds) - 1) * self.costs.epochs)
        share, packing = self._finals_share_seeds(len(lrs))
        self.events.on_notice(
            f"tune: finals of {', '.join(f'{lr:.4g}' for lr in lrs)} with {len(self.config.seeds)} seed(s)"
        )
        summary = self._sweep(
            lrs, seeds=self.config.seeds, retrain=self.config.retrain, seeds_share=share, stage=lambda _s: "final"
        )
        self._stage(
            "final",
            lrs=lrs,
            epochs=self._epochs_of(summary),
            reason=f"the {len(lrs)} nearest the bottom of a parabola fitted to the first seed's full-length "
            "scores on log-LR, every seed; pick by the seed mean" + (f"; {packing}" if packing else ""),
            seeds_in_one_pack=share,
        )
        return summary

    def _finalists(self) -> int:
        """As many finalists as the budget pays for (each needs the config's other seeds) and, with a time
        budget, as the seconds left pay for (at least one: the pick needs every seed)."""
        others = len(self.config.seeds) - 1
        if others == 0:
            return self.settings.finalists
        affordable = int(self._left() / self.costs.trainings(others * self.costs.epochs) + 1e-9)
        count = max(1, min(self.settings.finalists, affordable))
        while count > 1 and not self._time_fits(self._finals_seconds(count)):
            count -= 1
        return count

    def _planned_finalists(self) -> int:
        scout = next((st for st in self.stages if st["stage"] == "scout"), {})
        return int(scout.get("finalists_planned") or self.settings.finalists)

    def _measure_packs(self, mode: str, grace: int) -> None:
        """What a pack of 1, a wider pack and the finals' mixed-seed pack cost per step here (once; tune.json keeps
        it). The wider pack is as wide as the scouts where a plan may use its cost (a time budget, or a budget with
        room for more scouts than the setting); else as wide as the finalists (the finals' choice needs no more)."""
        if self.pack_costs is not None or self.config.kind != "engine":
            return
        from lrsweep.api.tune_pack_cost import measure_pack_costs

        s = self.settings
        wide = s.time_budget is not None or self._plan_fits(mode, grace, s.scouts + 1, 1)
        width = s.scouts if wide else s.finalists
        self.pack_costs = measure_pack_costs(self.config, self.splits, width, s.finalists)

    def _finals_reserve(self, finalists: int | None = None) -> float:
        """What the finals cost: ``finalists`` (default: the setting's) x the config's other seeds."""
        others = len(self.config.seeds) - 1
        count = self.settings.finalists if finalists is None else finalists
        return self.costs.trainings(count * others * self.costs.epochs)

    # ---- sweeps and bookkeeping

    def _sweep(
        self,
        lrs: list[float],
        seeds,
        prune: PruneConfig | None = None,
        retrain: bool = False,
        seeds_share: bool | None = None,
        stage: Callable[[str], str] | None = None,
    ) -> dict:
        """``stage``: what each variant's status.json names as the stage that tried it, from how it ended (the
        variants an earlier stage trained keep theirs)."""
        from lrsweep.sweep.runner import run_sweep

        config = replace(self.config, lrs=tuple(lrs), seeds=tuple(seeds), prune=prune or PruneConfig(), retrain=retrain)
        try:
            return run_sweep(
                config,
                self.splits,
                self.store,
                self.events,
                executor=self.executor,
                function=self.function,
                seeds_share=seeds_share,
                stage=stage,
            )
        finally:
            self._forget_reads()
