"""How numbers look in every table."""

from __future__ import annotations

from rich.table import Table

from lrsweep.render.format import fmt, fmt_lr, keep_numbers, varies


def test_fmt_shows_missing_values_non_finite_floats_and_significant_digits():
    assert fmt(None) == "–" and fmt(float("nan")) == "nan" and fmt(float("inf")) == "inf"
    assert fmt(0.123456) == "0.1235" and fmt(0.123456, 2) == "0.12" and fmt(3) == "3" and fmt("done") == "done"
    assert fmt_lr(0.000123456) == "0.000123"


def test_number_columns_fold_instead_of_cropping():
    table = Table()
    table.add_column("lr", justify="right")
    table.add_column("status")
    keep_numbers(table)
    assert (table.columns[0].overflow, table.columns[0].no_wrap) == ("fold", False)
    assert table.columns[1].overflow == "ellipsis"


def test_varies_compares_what_the_cells_show():
    assert varies([{"k": 1}, {"k": 2}], "k") and not varies([{"k": 1}, {"k": 1}, {}], "j")
