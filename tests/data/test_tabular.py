"""CSV and npz datasets, and turning user arrays into a Dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrsweep.data import load_dataset
from lrsweep.data.tabular import csv_dataset, dataset_from_arrays, npz_dataset
from lrsweep.errors import DataError


def _csv(tmp_path, rows, name="data.csv"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_csv_integer_target_is_classification_remapped_to_0_k(tmp_path):
    rows = ["x1,x2,grade"] + [f"{i},{i * 2 % 7},{5 + i % 3 * 5}" for i in range(30)]  # grades 5, 10, 15
    ds = csv_dataset(path=_csv(tmp_path, rows), target="grade", seed=0)
    assert ds.task == "classification" and ds.num_classes == 3
    assert sorted(torch.cat([ds.train_y, ds.test_y]).unique().tolist()) == [0, 1, 2]
    assert ds.train_x.shape == (24, 2) and ds.test_x.shape == (6, 2)


def test_csv_string_labels_are_mapped_in_sorted_order(tmp_path):
    rows = ["petal,species"] + [f"{i},{['setosa', 'virginica'][i % 2]}" for i in range(10)]
    ds = csv_dataset(path=_csv(tmp_path, rows), target="species", test_fraction=0.5, standardize=False)
    x = torch.cat([ds.train_x[:, 0], ds.test_x[:, 0]])
    y = torch.cat([ds.train_y, ds.test_y])
    assert ds.num_classes == 2 and torch.equal(y, (x % 2).long())  # setosa -> 0, virginica -> 1


def test_csv_float_target_is_regression(tmp_path):
    rows = ["a,price,b"] + [f"{i},{i * 1.5 + 0.25},{-i}" for i in range(20)]
    ds = load_dataset("csv", {"path": _csv(tmp_path, rows), "target": "price"})
    assert ds.task == "regression" and ds.train_y.shape == (16, 1) and ds.train_x.shape == (16, 2)


def test_csv_task_can_be_forced(tmp_path):
    rows = ["a,y"] + [f"{i},{i % 4}" for i in range(20)]
    ds = csv_dataset(path=_csv(tmp_path, rows), target="y", task="regression")
    assert ds.task == "regression" and ds.train_y.dtype == torch.float32


def test_csv_features_standardised_with_train_statistics(tmp_path):
    rows = ["a,const,y"] + [f"{i * 10},3,{i % 2}" for i in range(50)]
    ds = csv_dataset(path=_csv(tmp_path, rows), target="y", test_fraction=0.2)
    assert torch.allclose(ds.train_x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(ds.train_x[:, 0].std(unbiased=False), torch.tensor(1.0), atol=1e-5)
    assert torch.equal(ds.train_x[:, 1], torch.zeros(40))  # a constant column stays finite
    raw = csv_dataset(path=_csv(tmp_path, rows), target="y", test_fraction=0.2, standardize=False)
    mean, std = raw.train_x[:, 0].mean(), raw.train_x[:, 0].std(unbiased=False)
    assert torch.allclose(ds.test_x[:, 0], (raw.test_x[:, 0] - mean) / std, atol=1e-5)


def test_csv_split_is_seeded(tmp_path):
    path = _csv(tmp_path, ["a,y"] + [f"{i},{i % 2}" for i in range(30)])
    one, two, other = (csv_dataset(path=path, target="y", seed=s, standardize=False) for s in (1, 1, 2))
    assert torch.equal(one.test_x, two.test_x) and not torch.equal(one.test_x, other.test_x)


def test_csv_non_numeric_feature_names_column_and_line(tmp_path):
    rows = ["a,b,y", "1,2,0", "3,oops,1", "4,5,0"]
    with pytest.raises(DataError, match=r"column 'b', line 3: 'oops' is not a finite number"):
        csv_dataset(path=_csv(tmp_path, rows), target="y")
    rows = ["a,b,y", "1,2,0", "3,,1"]
    with pytest.raises(DataError, match=r"column 'b', line 3: '' is not"):
        csv_dataset(path=_csv(tmp_path, rows), target="y")


def test_csv_missing_target_suggests_nearest_and_lists_columns(tmp_path):
    path = _csv(tmp_path, ["age,income,label", "1,2,0", "2,3,1"])
    with pytest.raises(DataError, match=r"no column 'lable'; did you mean 'label'\? \(columns: age, income, label\)"):
        csv_dataset(path=path, target="lable")


def test_csv_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match=f"csv file not found: {tmp_path / 'nope.csv'}"):
        load_dataset("csv", {"path": str(tmp_path / "nope.csv"), "target": "y"})


def test_csv_ragged_row_and_regression_text_target(tmp_path):
    with pytest.raises(DataError, match="line 3 has 2 fields, the header has 3"):
        csv_dataset(path=_csv(tmp_path, ["a,b,y", "1,2,0", "3,1"]), target="y")
    with pytest.raises(DataError, match="column 'y', line 3: 'cat'"):
        csv_dataset(path=_csv(tmp_path, ["a,y", "1,2.5", "3,cat"]), target="y", task="regression")


def test_npz_without_test_arrays_is_split(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(50, 2, 3)), y=np.arange(50) % 5)
    ds = npz_dataset(path=str(path), test_fraction=0.1)
    assert ds.task == "classification" and ds.num_classes == 5
    assert ds.train_x.shape == (45, 2, 3) and ds.test_x.shape == (5, 2, 3)


def test_npz_with_explicit_test_split_and_regression(tmp_path):
    path = tmp_path / "d.npz"
    x, x_test = np.ones((8, 3)), np.zeros((4, 3))
    np.savez(path, x=x, y=np.linspace(0, 1, 8), x_test=x_test, y_test=np.linspace(0, 1, 4))
    ds = load_dataset("npz", {"path": str(path)})
    assert ds.task == "regression" and ds.train_y.shape == (8, 1)
    assert torch.equal(ds.test_x, torch.zeros(4, 3))


def test_npz_missing_arrays_are_named(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.ones((4, 2)), y=np.ones(4))
    with pytest.raises(DataError, match="needs arrays x and y.*found features, y"):
        npz_dataset(path=str(path))


def test_arrays_integer_labels_keep_their_indices():
    ds = dataset_from_arrays("a", np.ones(6), np.array([0, 4, 4, 0, 4, 0]), np.ones(2), np.array([2, 0]))
    assert ds.num_classes == 5 and ds.train_x.shape == (6, 1)
    with pytest.raises(DataError, match="must be >= 0"):
        dataset_from_arrays("a", np.ones(3), np.array([0, -1, 1]), np.ones(1), np.array([0]))
    with pytest.raises(DataError, match="must be integers"):
        dataset_from_arrays("a", np.ones(2), np.array([0.5, 1.0]), np.ones(1), np.array([0.0]), task="classification")


# --- task inference (issue 13, item 3)


def _diabetes_like(path, rows=442, distinct=214):
    """A regression target stored as whole numbers, like sklearn's diabetes (214 distinct values in 442 rows)."""
    values = [25 + (i * 7919) % distinct for i in range(rows)]
    path.write_text(
        "age,bmi,target\n" + "".join(f"{i % 50},{(i * 3) % 17 * 0.1:.1f},{v}\n" for i, v in enumerate(values))
    )
    return path


def test_whole_number_targets_with_many_values_are_regression(tmp_path):
    from lrsweep.data import load_dataset

    ds = load_dataset("csv", {"path": str(_diabetes_like(tmp_path / "d.csv")), "target": "target"})
    assert ds.task == "regression" and ds.num_classes is None
    assert "214 distinct whole numbers in 442 rows" in ds.task_note and "data.task: classification" in ds.task_note


def test_whole_number_targets_with_few_values_are_classes(tmp_path):
    from lrsweep.data import load_dataset

    ds = load_dataset(
        "csv", {"path": str(_diabetes_like(tmp_path / "d.csv", rows=300, distinct=5)), "target": "target"}
    )
    assert ds.task == "classification" and ds.num_classes == 5 and "read as class labels" in ds.task_note
    forced = load_dataset("csv", {"path": str(tmp_path / "d.csv"), "target": "target", "task": "regression"})
    assert forced.task == "regression" and forced.task_note is None


def test_validate_says_which_task_it_inferred_and_refuses_a_loss_that_does_not_fit(runner, tmp_path):
    import yaml

    from lrsweep.cli import app

    _diabetes_like(tmp_path / "diabetes.csv")
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "csv", "path": "diabetes.csv", "target": "target"},
                "train": {"loss": "mse"},
                "lr": 0.01,
                "device": "cpu",
            }
        )
    )
    result = runner.invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "task: regression (inferred: column 'target' holds 214 distinct" in result.output
    result = runner.invoke(app, ["validate", str(config), "--set", "data.task=classification"])
    assert result.exit_code == 2 and "mse needs a regression dataset" in result.output
    result = runner.invoke(app, ["validate", str(config), "--set", "train.loss=cross_entropy"])
    assert result.exit_code == 2 and "cross_entropy needs a classification dataset" in result.output


def _pandas_csv(path, n=40, index_name=""):
    """What pandas' DataFrame.to_csv writes by default: the row index first, its header cell empty."""
    rows = [f"{index_name},a,b,c,y"] + [f"{i},{i * 0.5},{i % 7},{(i * 3) % 11},{i % 2}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize("index_name", ["", "Unnamed: 0"])
def test_csv_drops_pandas_unnamed_index_column_with_a_notice(tmp_path, index_name):
    ds = csv_dataset(path=_pandas_csv(tmp_path / "d.csv", index_name=index_name), target="y")
    assert ds.train_x.shape[1] == 3 and ds.features == ("a", "b", "c")  # not 4: the row numbers are no feature
    (note,) = ds.notes
    assert "column 1 has no name and holds the row numbers 0..39" in note and "index=False" in note


def test_csv_an_unnamed_leading_column_that_is_not_an_index_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(",a,y\n" + "".join(f"{i * 0.3},{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(DataError, match="column 1 has no name in the header"):
        csv_dataset(path=str(path), target="y")


def test_validate_lists_the_feature_columns_and_the_dropped_index(runner, tmp_path):
    import json

    import yaml

    from lrsweep.cli import app

    _pandas_csv(tmp_path / "d.csv")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"name": "csv", "path": "d.csv", "target": "y"}, "lr": 0.01}))
    result = runner.invoke(app, ["validate", str(config), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "features: 3 columns: a, b, c" in result.output and "holds the row numbers 0..39" in result.output
    plan = json.loads(runner.invoke(app, ["validate", str(config), "--device", "cpu", "--json"]).stdout)
    assert plan["features"] == ["a", "b", "c"] and any("row numbers" in note for note in plan["notes"])
    out = tmp_path / "runs"
    result = runner.invoke(app, ["grid", str(config), "--device", "cpu", "--out", str(out), "--set", "retrain=false"])
    assert result.exit_code == 0 and "holds the row numbers 0..39" in result.stderr, result.output
