"""``lrsweep tune``'s records: the variants it tried (read back from the run directory), what they cost in
trainings and in wall seconds, tune.json as it is written after every stage, and the result with its band.
The stages themselves are :class:`lrsweep.api.tune_stages.Tuner`'s, which inherits these."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from lrsweep.api.tune_result import TuneResult, TuneSettings
from lrsweep.config import Config
from lrsweep.run.store import RunStore
from lrsweep.select.strategy import Costs, band_of, not_tied, widen_band

SHORT_DIR = "scouts-compressed"  # compressed scouts' run directory, inside the tune's


class TuneRecords:
    """The bookkeeping half of a Tuner (which sets these attributes)."""

    config: Config
    store: RunStore
    settings: TuneSettings
    events: Any  # SweepEvents: on_notice(message), ...
    costs: Costs
    section: str | None
    stages: list[dict]
    planned: float
    tried: list[float]
    counted: set[str]
    range_test: dict | None
    pack_costs: dict | None
    fidelity: dict | None
    reads: dict  # what _rows and _variant_epochs read from the run directory, until the next sweep (_forget_reads)

    def _forget_reads(self) -> None:
        """A sweep trains (or trained) variants: what was read from the run directory before is stale."""
        self.reads.clear()

    def _start_clock(self) -> None:
        """Wall seconds: those of earlier runs of this tune (a resume) plus this one's, from now."""
        self.seconds_before = float(((self._read_tune() or {}).get("cost") or {}).get("seconds") or 0.0)
        self.started = time.perf_counter()

    def _seconds(self) -> float:
        return self.seconds_before + (time.perf_counter() - self.started)

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

    def _short_store(self, create: bool = False) -> RunStore | None:
        """The compressed scouts' own run directory inside this one (None until compressed scouting made it)."""
        name = SHORT_DIR + (f"-{self.section}" if self.section is not None else "")
        path = self.store.path / name
        if create and not path.exists():
            path.mkdir()
            store = RunStore(path)
            store.write_config(self.config.to_dict())
        return RunStore(path) if path.exists() else None

    def _rows(self) -> list[dict]:
        """Every variant's summary row, with the stage that tried it (its status.json's, written by the sweep as
        the variant ended; read once between sweeps)."""
        from lrsweep.select.health import Scoring
        from lrsweep.select.summary import variant_row

        if "rows" not in self.reads:
            read, scoring = [], Scoring.of(self.config.select)
            for vid in self._variant_ids():
                status = self.store.read_status(vid)
                if status and status.get("variant"):
                    row = variant_row(status["variant"], status, self.store.read_metrics(vid), scoring)
                    read.append({**row, "stage": status.get("stage")})
            self.reads["rows"] = read
        return [dict(row) for row in self.reads["rows"]]

    def _variant_ids(self) -> list[str]:
        """The variants of this tune: all of the run directory's, or one batch size's (see api.tune_batches)."""
        size = f"-b{self.config.batch_sizes[0]}-" if self.config.batch_axis else None  # in every id of that size
        return [vid for vid in self.store.variant_ids() if size is None or size in vid]

    def _variant_epochs(self) -> int:
        """Every variant-epoch trained: this tune's variants and the compressed scouts' (their own store)."""
        if "variant_epochs" not in self.reads:
            short = self._short_store()
            compressed = sum(len(short.read_metrics(vid)) for vid in short.variant_ids()) if short else 0
            mine = sum(len(self.store.read_metrics(vid)) for vid in self._variant_ids())
            self.reads["variant_epochs"] = compressed + mine
        return self.reads["variant_epochs"]

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
        self._save_progress()

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
                band = self._band(group, final["groups"], lambda a, b: tied(a, b, sign), TIE_RTOL)
            self._write_summary(final)
        cost = {
            "trainings": round(self._spent(), 3),
            "variant_epochs": self._variant_epochs(),
            "range_test_steps": self._range_steps(),
            "budget": self.settings.budget,
            "seconds": round(self._seconds(), 2),
            "time_budget": self.settings.time_budget,
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
            fidelity=self.fidelity,
            pack_costs=self.pack_costs,
        )

    def _band(self, group: dict, groups: list[dict], tied, rtol: float) -> dict:
        """The finals' band, widened over the first seed's full-length LRs but never past a finalist the
        finals call not tied; ``resolved``: at least two LRs were trained with every seed (else ``note`` says)."""
        apart = tuple(not_tied(group, groups, tied))
        band = band_of(group, groups, tied)
        band = widen_band(band, group, self._first_seed_ranking(), self.config.seeds[0], rtol, apart)
        complete = [g for g in groups if g["mean"] is not None]
        band["resolved"] = len(complete) >= 2
        if not band["resolved"]:
            band["note"] = (
                "unresolved: only the pick was trained with every seed; the band is the first seed's LRs "
                "within the pick's seed noise"
            )
        return band

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

    def _say_unspent(self, result: TuneResult) -> None:
        """A budget left unspent by a training or more says why (tune.json's cost.unspent, and a notice)."""
        spent, budget = result.cost.get("trainings", 0.0), self.settings.budget
        if budget - spent < 1:
            return
        finalist = self.costs.trainings((len(self.config.seeds) - 1) * self.costs.epochs)
        stop = next((st["reason"] for st in self.stages if st["stage"] == "refine-stop"), None)
        why = f"{spent:.2f} of {budget:g} trainings spent: the {budget - spent:.2f} left pays for no further finalist"
        why += f" ({finalist:.2f} trainings each, every seed)" if finalist else ""
        why += f"; refinement stopped: {stop}" if stop else ""
        result.cost["unspent"] = why
        self.events.on_notice(f"tune: {why}")
