"""``lrsweep tune``'s four stages, in order, each a sweep of derived configs in one run directory (see
:mod:`lrsweep.api.tuning`): the range test's bounds, scouting with successive halving, refinement, and
the finals with every seed. Every decision is a function of the metrics on disk, so a resume replays them.
"""

from __future__ import annotations

from dataclasses import asdict, replace

from lrsweep.api.tune_bounds import range_test_bounds
from lrsweep.api.tune_result import TuneResult, TuneSettings
from lrsweep.config import Config, PruneConfig
from lrsweep.errors import UsageError
from lrsweep.run.store import RunStore
from lrsweep.select.strategy import (
    Costs,
    band_of,
    grace_epochs,
    halving_epochs,
    log_space,
    refine_points,
    smoothed_ranking,
    survivors,
    widen_band,
)

MIN_SCOUTS = 3
# Scouts span at most this ratio below the ceiling: on the six benchmark tasks the good band sat within
# 1.5 decades of the range test's ceiling; a short range test's curve can start falling far lower.
SCOUT_SPAN = 1000.0


class Tuner:
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
        self.stage_of: dict[str, str] = {}
        self.planned = 0.0  # trainings committed by the stages so far (upper bounds): what decisions use
        self.tried: list[float] = []  # every LR tried on the first seed, in order (a resume replays the same)
        self.counted: set[str] = set()  # variants whose epochs a stage's cost already counts
        self.range_test: dict | None = (self._read_tune() or {}).get("range_test")

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
        self._write_tune(result.to_dict())
        if self.section is None:
            finish_meta(self.store, "finished")
        return result

    def _read_tune(self) -> dict | None:
        """tune.json, or this batch size's entry of it."""
        tuned = self.store.read_tune()
        return tuned if self.section is None or tuned is None else (tuned.get("batch_sizes") or {}).get(self.section)

    def _write_tune(self, data: dict) -> None:
        whole = data
        if self.section is not None:  # the other batch sizes' entries stay
            whole = self.store.read_tune() or {}
            whole.setdefault("batch_sizes", {})[self.section] = data
        self.store.write_tune(whole)

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
        grace = grace_epochs(c.epochs, s.grace_fraction)
        scouts = s.scouts
        while (
            scouts > MIN_SCOUTS
            and c.trainings(halving_epochs(scouts, c.epochs, grace, s.reduction))
            > self._left() - self._finals_reserve()
        ):
            scouts -= 1
        cost = c.trainings(halving_epochs(scouts, c.epochs, grace, s.reduction))
        if cost + self._finals_reserve(1) > self._left():
            raise UsageError(
                f"a budget of {s.budget:g} trainings is too small for this config: the range test, "
                f"{scouts} scouts and one finalist need "
                f"{self.planned + cost + self._finals_reserve(1):.2f}; raise --budget"
            )
        lrs = log_space(low, high, scouts)
        self.planned += cost
        self.tried += lrs
        prune = (
            PruneConfig(type="asha", grace_epochs=grace, reduction=s.reduction) if grace < c.epochs else PruneConfig()
        )
        self.events.on_notice(
            f"tune: scouting {scouts} LRs {lrs[0]:.3g}-{lrs[-1]:.3g} (grace {grace} of "
            f"{c.epochs} epochs, keep 1/{s.reduction} per rung)"
        )
        summary = self._sweep(lrs, seeds=self.config.seeds[:1], prune=prune)
        for row in summary["variants"]:
            self.stage_of[row["id"]] = "rung" if row["status"] == "done" else "scout"
        kept = survivors(scouts, c.epochs, grace, s.reduction)
        self._stage(
            "scout",
            lrs=lrs,
            epochs=self._epochs_of(summary),
            grace_epochs=grace,
            reason=f"successive halving from {scouts} to {kept} at full length",
        )

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
            if round_cost > self._left() - self._finals_reserve():
                reason = f"the budget left ({self._left():.2f} trainings) is the finals'"
                break
            rounds += 1
            self.planned += round_cost
            self.events.on_notice(f"tune: refining around {incumbent:.4g}: {', '.join(f'{p:.4g}' for p in points)}")
            summary = self._sweep(points, seeds=self.config.seeds[:1])
            for row in summary["variants"]:
                self.stage_of[row["id"]] = "refine"
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

    def _incumbent(self) -> float | None:
        ranked = self._first_seed_ranking()
        return ranked[0][1] if ranked else None

    def _first_seed_ranking(self) -> list[tuple[float, float]]:
        """(score, lr) of every LR tried so far and trained in full on the first seed, best first."""
        from lrsweep.select.summary import score

        seed, metric = self.config.seeds[0], self.config.select.metric
        sign = 1 if self.config.select.direction == "min" else -1
        tried, out = set(self.tried), []
        for row in self._rows():
            full = row["epochs_run"] == self.costs.epochs or row.get("stopped_early")
            if row["seed"] == seed and row["lr"] in tried and full:
                value = score(row, metric)
                if value is not None:
                    out.append((sign * value, row["lr"]))
        return sorted(out)

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
        self.events.on_notice(
            f"tune: finals of {', '.join(f'{lr:.4g}' for lr in lrs)} with {len(self.config.seeds)} seed(s)"
        )
        summary = self._sweep(lrs, seeds=self.config.seeds, retrain=self.config.retrain)
        for row in summary["variants"]:
            self.stage_of.setdefault(row["id"], "final")
        self._stage(
            "final",
            lrs=lrs,
            epochs=self._epochs_of(summary),
            reason=f"the {len(lrs)} nearest the bottom of a parabola fitted to the first seed's full-length "
            "scores on log-LR, every seed; pick by the seed mean",
        )
        return summary

    def _finalists(self) -> int:
        """As many finalists as the budget pays for (each needs the config's other seeds)."""
        others = len(self.config.seeds) - 1
        if others == 0:
            return self.settings.finalists
        affordable = int(self._left() / self.costs.trainings(others * self.costs.epochs) + 1e-9)
        return max(1, min(self.settings.finalists, affordable))

    def _finals_reserve(self, finalists: int | None = None) -> float:
        """What the finals cost: ``finalists`` (default: the setting's) x the config's other seeds."""
        others = len(self.config.seeds) - 1
        count = self.settings.finalists if finalists is None else finalists
        return self.costs.trainings(count * others * self.costs.epochs)

    # ---- sweeps and bookkeeping

    def _sweep(self, lrs: list[float], seeds, prune: PruneConfig | None = None, retrain: bool = False) -> dict:
        from lrsweep.sweep.runner import run_sweep

        config = replace(self.config, lrs=tuple(lrs), seeds=tuple(seeds), prune=prune or PruneConfig(), retrain=retrain)
        return run_sweep(config, self.splits, self.store, self.events, executor=self.executor, function=self.function)

    def _rows(self) -> list[dict]:
        from lrsweep.select.health import Scoring
        from lrsweep.select.summary import variant_row

        rows, scoring = [], Scoring.of(self.config.select)
        for vid in self._variant_ids():
            status = self.store.read_status(vid)
            if status and status.get("variant"):
                row = variant_row(status["variant"], status, self.store.read_metrics(vid), scoring)
                row["stage"] = status.get("stage") or self.stage_of.get(vid)
                rows.append(row)
        return rows

    def _variant_ids(self) -> list[str]:
        """The variants of this tune: all of the run directory's, or one batch size's (see api.tune_batches)."""
        size = f"-b{self.config.batch_sizes[0]}-" if self.config.batch_axis else None  # in every id of that size
        return [vid for vid in self.store.variant_ids() if size is None or size in vid]

    def _variant_epochs(self) -> int:
        return sum(len(self.store.read_metrics(vid)) for vid in self._variant_ids())

    def _range_steps(self) -> int:
        rt = self.range_test or {}
        return rt.get("steps_run", 0) * rt.get("settings", {}).get("accumulate", 1) + rt.get("edge_steps", 0)

    def _spent(self) -> float:
        return self.costs.trainings(self._variant_epochs(), self._range_steps())

    def _left(self) -> float:
        return self.settings.budget - self.planned

    def _epochs_of(self, summary: dict) -> int:
        """Variant-epochs a stage's sweep trained itself: its variants not tried by an earlier stage."""
        new = [r for r in summary["variants"] if r["id"] not in self.counted]
        self.counted.update(r["id"] for r in new)
        return sum(r["epochs_run"] for r in new)

    def _stage(self, name: str, lrs: list[float], reason: str, epochs: int = 0, steps: int = 0, **extra) -> None:
        self.stages.append(
            {
                "stage": name,
                "lrs": lrs,
                "trainings": round(self.costs.trainings(epochs, steps), 3),
                "reason": reason,
                **extra,
            }
        )
        self._mark_stages()
        self._save_progress()

    def _mark_stages(self) -> None:
        """Each variant's status.json says which stage tried it (written once)."""
        for vid, stage in self.stage_of.items():
            status = self.store.read_status(vid)
            if status is not None and "stage" not in status:
                self.store.write_status(vid, {**status, "stage": stage})

    def _save_progress(self) -> None:
        self._write_tune(self._result(None, status="running").to_dict())

    def _result(self, final: dict | None, status: str = "finished") -> TuneResult:
        from lrsweep.select.summary import TIE_RTOL, tied

        best = band = retrain = None
        if final is not None:
            best = final["best"]
            retrain = final.get("retrain")
            if best is not None:
                sign = 1 if final["direction"] == "min" else -1
                group = next(g for g in final["groups"] if g["ids"] == best["ids"])
                band = band_of(group, final["groups"], lambda a, b: tied(a, b, sign))
                band = widen_band(band, group, self._first_seed_ranking(), self.config.seeds[0], TIE_RTOL)
            self._write_summary(final)
        cost = {
            "trainings": round(self._spent(), 3),
            "variant_epochs": self._variant_epochs(),
            "range_test_steps": self._range_steps(),
            "budget": self.settings.budget,
        }
        return TuneResult(
            run_dir=str(self.store.path),
            best=best,
            band=band,
            cost=cost,
            stages=list(self.stages),
            retrain=retrain,
            status=status,
            settings=asdict(self.settings),
            range_test=self.range_test,
        )

    def _write_summary(self, final: dict) -> None:
        """summary.json/.csv like grid's: the finals ranked, then every other variant tried, each with its stage."""
        from lrsweep.select.summary import summary_columns

        ranked_ids = {r["id"] for r in final["variants"]}
        stage = {r["id"]: r["stage"] for r in self._rows()}
        others = [{**r, "rank": None, "best": False} for r in self._rows() if r["id"] not in ranked_ids]
        variants = [{**r, "stage": stage.get(r["id"])} for r in final["variants"]] + others
        counts: dict[str, int] = {}
        for row in variants:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = {**final, "variants": variants, "status_counts": counts, "tune": True}
        self.store.write_summary(summary, summary_columns(summary, extra=("stage",)))
