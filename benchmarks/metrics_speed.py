"""Validation metrics by hand (lrsweep.engine.metrics) against torchmetrics' functional API, per epoch of a pack.

    python benchmarks/metrics_speed.py                   # 1,000 and 10,000 rows, 10 classes, K=8 variants
    python benchmarks/metrics_speed.py --rows 50000 --k 16

What one epoch's evaluation adds for ``train.metrics: [f1, auroc, top5]`` (classification, C classes) and
``[r2, mae, rmse]`` (regression, one target column): the K variants' stacked outputs of the whole validation
split in, one value per metric and variant out. By hand: one pass over the stacked outputs (see the module).
torchmetrics: its functional metrics called once per variant (a pack's outputs are per variant; its functions
take no variant dimension), ``validate_args=False`` (its fastest path). Both on the CPU, float32 outputs; each
figure is the median of ``--repeat`` runs. The values agree (the largest difference is printed).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def by_hand(out, target, names, loss, classes):
    from lrsweep.engine.metrics import Scores

    scores = Scores(names, out.shape[0], loss, classes)
    scores.add(out, target)
    return scores.result()


def with_torchmetrics(out, target, names, loss, classes):
    from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_auroc, multiclass_f1_score

    results = []
    for variant in out:
        row = {}
        if loss == "cross_entropy":
            if "f1" in names:
                row["f1"] = multiclass_f1_score(
                    variant.argmax(-1), target, num_classes=classes, average="macro", validate_args=False
                )
            if "auroc" in names:
                row["auroc"] = multiclass_auroc(
                    variant.softmax(-1), target, num_classes=classes, average="macro", validate_args=False
                )
            if "top5" in names:
                row["top5"] = multiclass_accuracy(
                    variant, target, num_classes=classes, top_k=5, average="micro", validate_args=False
                )
        else:
            row["r2"] = r2_score(variant, target)
            row["mae"] = mean_absolute_error(variant, target)
            row["rmse"] = mean_squared_error(variant, target, squared=False)
        results.append({k: float(v) for k, v in row.items()})
    return results


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="*", default=[1000, 10000])
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--repeat", type=int, default=21)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"K={args.k} variants, {args.classes} classes, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'task':15s} {'rows':>7s} {'by hand ms':>11s} {'torchmetrics ms':>16s} {'ratio':>6s} {'max |diff|':>11s}")
    generator = torch.Generator().manual_seed(0)
    for rows in args.rows:
        logits = torch.randn(args.k, rows, args.classes, generator=generator)
        labels = torch.randint(0, args.classes, (rows,), generator=generator)
        predictions = torch.randn(args.k, rows, 1, generator=generator)
        values = torch.randn(rows, 1, generator=generator)
        for task, out, target, names, loss, classes in (
            ("classification", logits, labels, ("f1", "auroc", "top5"), "cross_entropy", args.classes),
            ("regression", predictions, values, ("r2", "mae", "rmse"), "mse", None),
        ):
            case = (out, target, names, loss, classes)
            mine, a = timed(lambda case=case: by_hand(*case), args.repeat)
            theirs, b = timed(lambda case=case: with_torchmetrics(*case), args.repeat)
            diff = max(abs(x[n] - y[n]) for x, y in zip(a, b) for n in names)
            print(
                f"{task:15s} {rows:7,d} {mine * 1e3:11.2f} {theirs * 1e3:16.2f} {theirs / mine:5.1f}x {diff:11.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
