"""Edge behaviour: empty and all-missing inputs, constants, quoting, relations with parameters."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from mlreport.plugins.drift import categorical, sql
from tests.drift import one_column
from tests.drift.reference import js_ref, ks_ref, load, psi_ref, wasserstein_ref

NUMERIC = (one_column.psi, one_column.ks, one_column.wasserstein)


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


@pytest.mark.parametrize("empty", [[], [None, None], [float("nan"), float("inf"), None]])
def test_no_usable_values_on_either_side_gives_none(con, empty: list) -> None:
    load(con, "full", [1.0, 2.0, 3.0])
    load(con, "empty", empty)
    for fn in NUMERIC:
        assert fn(con, "full", "empty", "x") is None
        assert fn(con, "empty", "full", "x") is None
        assert fn(con, "empty", "empty", "x") is None


def test_empty_categorical_sides(con) -> None:
    load(con, "full", ["a", "b"])
    load(con, "empty", [None])
    assert categorical.jensen_shannon(con, "full", "empty", "x") is None
    assert categorical.jensen_shannon(con, "empty", "full", "x") is None
    assert categorical.unseen_categories(con, "empty", "full", "x") == ["a", "b"]
    assert categorical.unseen_categories(con, "full", "empty", "x") == []
    con.execute("CREATE TABLE nothing (x VARCHAR)")
    assert one_column.missing_share(con, "nothing", "x") is None
    assert one_column.missing_share(con, "empty", "x") == 1.0


def test_nan_and_inf_are_missing_not_values(con) -> None:
    load(con, "ref", [1.0, 2.0, 3.0, 4.0, float("nan"), None])
    load(con, "cur", [2.0, 3.0, 5.0, float("inf"), float("-inf")])
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 3.0, 5.0])
    assert one_column.psi(con, "ref", "cur", "x") == pytest.approx(psi_ref(a, b), rel=1e-12)
    assert tuple(one_column.ks(con, "ref", "cur", "x")) == pytest.approx(ks_ref(a, b), rel=1e-12)
    assert one_column.wasserstein(con, "ref", "cur", "x") == pytest.approx(
        wasserstein_ref(a, b), rel=1e-12
    )
    assert one_column.missing_share(con, "ref", "x", numeric=True) == 2 / 6
    assert one_column.missing_share(con, "cur", "x", numeric=True) == 2 / 5
    assert one_column.missing_share(con, "cur", "x") == 0.0  # as a plain column only NULL counts


def test_constant_reference(con) -> None:
    load(con, "ref", [0.1, 0.1, 0.1])  # np.std of this is 1.4e-17, not 0: min = max decides
    load(con, "cur", [0.1, 0.3, 0.6])
    want_w = (0.0 + 0.2 + 0.5) / 3  # unnormalised: mean distance to the constant
    assert one_column.wasserstein(con, "ref", "cur", "x") == pytest.approx(want_w, rel=1e-12)
    # one edge (0.1): bin 0 holds x <= 0.1, bin 1 holds x > 0.1
    p, q = np.array([1.0, 1e-4]), np.array([1 / 3, 2 / 3])
    want = float(np.sum((q - p) * np.log(q / p)))
    assert one_column.psi(con, "ref", "cur", "x") == pytest.approx(want, rel=1e-12)
    assert one_column.ks(con, "ref", "cur", "x").statistic == pytest.approx(2 / 3)


def test_integer_and_decimal_columns_are_read_as_double(con) -> None:
    con.execute(
        "CREATE TABLE ref AS SELECT range AS x, CAST(range / 4 AS DECIMAL(9, 2)) AS d"
        " FROM range(20)"
    )
    con.execute(
        "CREATE TABLE cur AS SELECT range + 3 AS x, CAST(range / 3 AS DECIMAL(9, 2)) AS d"
        " FROM range(15)"
    )
    a, b = np.arange(20.0), np.arange(15.0) + 3
    assert one_column.ks(con, "ref", "cur", "x").statistic == pytest.approx(ks_ref(a, b)[0])
    assert one_column.wasserstein(con, "ref", "cur", "d") is not None


def test_column_names_are_quoted_identifiers(con) -> None:
    name = 'we"ird; DROP TABLE ref; --'
    load(con, "ref", ["a", "b"], column=name)
    load(con, "cur", ["b", "c"], column=name)
    assert categorical.unseen_categories(con, "ref", "cur", name) == ["c"]
    assert categorical.jensen_shannon(con, "ref", "cur", name) == pytest.approx(
        js_ref(["a", "b"], ["b", "c"])
    )
    with pytest.raises(duckdb.BinderException):
        one_column.psi(con, "ref", "cur", "missing")


def test_relations_as_subqueries_with_parameters_and_qualified_names(con) -> None:
    con.execute("CREATE SCHEMA logs")
    con.execute("CREATE TABLE logs.preds AS SELECT range AS ts, range % 7 AS x FROM range(100)")
    ref = ("SELECT x FROM logs.preds WHERE ts < ?", [50])
    cur = ("SELECT x FROM logs.preds WHERE ts >= ? AND x <> ?", [50, 3])
    a = np.arange(50.0) % 7
    b = np.array([v for v in np.arange(50.0, 100.0) % 7 if v != 3])
    assert one_column.psi(con, ref, cur, "x") == pytest.approx(psi_ref(a, b), rel=1e-12)
    assert one_column.wasserstein(con, "logs.preds", cur, "x") == pytest.approx(
        wasserstein_ref(np.arange(100.0) % 7, b), rel=1e-12
    )
    assert sql.relation_sql("logs.preds") == ('"logs"."preds"', [])
    assert sql.relation_sql("(SELECT 1 AS x)") == ("((SELECT 1 AS x))", [])
    with pytest.raises(ValueError, match="parameters given for a table name"):
        sql.relation_sql(("logs.preds", [1]))


def test_negative_zero_ties_with_zero(con) -> None:
    load(con, "ref", [-0.0, 0.0, 1.0])
    load(con, "cur", [0.0, 2.0])
    a, b = np.array([-0.0, 0.0, 1.0]), np.array([0.0, 2.0])
    assert one_column.ks(con, "ref", "cur", "x").statistic == pytest.approx(ks_ref(a, b)[0])
    assert one_column.wasserstein(con, "ref", "cur", "x") == pytest.approx(wasserstein_ref(a, b))
