"""Writes segments.csv, the tabular sample of configs/tabular-f1.yaml (seeded: the same file every time).

    python configs/data/make_segments.py

800 rows of 8 numeric features and an integer target ``segment`` with three imbalanced classes (about 70% /
20% / 10%), each class a non-linear function of a few features plus noise: accuracy alone flatters a model that
ignores the small classes, macro F1 does not.
"""

from pathlib import Path

import numpy as np

ROWS, FEATURES, SEED = 800, 8, 2024


def main() -> None:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, FEATURES))
    rare = x[:, 3] - x[:, 4] + 0.5 * x[:, 5] ** 2 + 0.4 * rng.normal(size=ROWS)
    middle = x[:, 0] + 0.7 * x[:, 1] * x[:, 2] + 0.4 * rng.normal(size=ROWS)
    segment = np.zeros(ROWS, dtype=int)
    segment[middle > np.quantile(middle, 0.78)] = 1
    segment[rare > np.quantile(rare, 0.9)] = 2
    header = ",".join([*(f"f{i}" for i in range(FEATURES)), "segment"])
    lines = [",".join([*(f"{v:.4g}" for v in row), str(label)]) for row, label in zip(x, segment)]
    (Path(__file__).parent / "segments.csv").write_text(header + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
