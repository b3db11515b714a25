"""The count-weighted fairness core equals fairlearn on the raw rows."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.plugins.fairness_counts import (
    GROUP_METRICS,
    MISSING,
    SUMMARY_METRICS,
    FairnessError,
    FairnessSpec,
    fairness_rows,
)

from .reference import reference, table

TYPES = {"a": "VARCHAR", "b": "INTEGER", "label": "BOOLEAN", "prediction": "BOOLEAN"}
COMPAS = Path(__file__).resolve().parents[3] / "shared/data/compas/compas_two_years.csv"


def same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12, abs_tol=0)


def assert_matches(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    groupings: list[tuple[str, ...]],
    label: str = "label",
    prediction: str = "prediction",
    min_group_size: int = 30,
) -> list[dict[str, Any]]:
    """Every group metric and summary equals the raw-row reference, for every grouping."""
    features = {n: n for g in groupings for n in g}
    spec = FairnessSpec(
        "t",
        features,
        label=label,
        prediction=prediction,
        groupings=groupings,
        min_group_size=min_group_size,
    )
    out = fairness_rows(con, spec)
    for names in groupings:
        feature = " & ".join(names)
        mine = [r for r in out if r["feature"] == feature]
        values, summaries = reference(rows, names, label, prediction)
        got = {(r["group"], r["metric"]): r["value"] for r in mine if r["group"] is not None}
        assert got.keys() == values.keys()
        for key, value in values.items():
            assert same(got[key], value), (feature, key, got[key], value)
        got_summaries = {r["metric"]: r["value"] for r in mine if r["group"] is None}
        for metric in SUMMARY_METRICS:
            assert same(got_summaries[metric], summaries[metric]), (feature, metric)
        assert set(got_summaries) == set(SUMMARY_METRICS) | {"excluded_rows"}
    return out


def generated(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a = rng.choice(["x", "y", "z", "w", None])
        b = rng.choice([1, 2, 3])
        label = rng.random() < (0.3 if a == "x" else 0.5)
        prediction = rng.random() < (0.7 if label else 0.2 + 0.1 * b)
        rows.append({"a": a, "b": b, "label": label, "prediction": prediction})
    return rows


def test_generated_groups_and_intersections_equal_fairlearn():
    rows = generated(3000, seed=7)
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",), ("b",), ("a", "b")])
    groups = {r["group"] for r in out if r["feature"] == "a & b"}
    assert "x & 1" in groups and f"{MISSING} & 3" in groups


def test_rows_shape_and_denominators():
    rows = generated(500, seed=3)
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",)], min_group_size=110)
    for r in out:
        assert set(r) == {"feature", "group", "metric", "value", "n", "small"}
    x = {r["metric"]: r for r in out if r["group"] == "x"}
    xs = [r for r in rows if r["a"] == "x"]
    assert x["count"]["n"] == len(xs) == x["count"]["value"]
    assert x["tpr"]["n"] == x["fnr"]["n"] == sum(r["label"] for r in xs)
    assert x["fpr"]["n"] == sum(not r["label"] for r in xs)
    assert x["precision"]["n"] == sum(r["prediction"] for r in xs)
    assert all(r["small"] == (r["n"] < 110) for r in out if r["metric"] == "count")
    assert [m for m in GROUP_METRICS] == [r["metric"] for r in out[:7]]


@st.composite
def datasets(draw) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 40))
    return [
        {
            "a": draw(st.sampled_from(["p", "q", "r", None])),
            "b": draw(st.sampled_from([0, 1])),
            "label": draw(st.booleans()),
            "prediction": draw(st.booleans()),
        }
        for _ in range(n)
    ]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_hypothesis_equals_fairlearn(rows):
    con = table(rows, TYPES)
    assert_matches(con, rows, [("a", "b")], min_group_size=3)


def test_single_class_everywhere():
    rows = [{"a": g, "b": 1, "label": False, "prediction": False} for g in "xxyyy"]
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",)])
    tpr = [r for r in out if r["metric"] == "tpr"]
    assert all(r["value"] == 0.0 and r["n"] == 0 for r in tpr)


def test_group_without_positives_reports_zero_tpr_like_fairlearn():
    rows = [
        {"a": "x", "b": 1, "label": True, "prediction": True},
        {"a": "x", "b": 1, "label": False, "prediction": True},
        {"a": "y", "b": 1, "label": False, "prediction": False},
        {"a": "y", "b": 1, "label": False, "prediction": True},
    ]
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",)])
    y = {r["metric"]: r for r in out if r["group"] == "y"}
    assert (y["tpr"]["value"], y["tpr"]["n"]) == (0.0, 0)
    eod = next(r for r in out if r["metric"] == "equal_opportunity_difference")
    assert eod["value"] == 1.0  # x has tpr 1, y "0": fairlearn's worst case


def test_group_with_one_row_is_kept_and_flagged():
    rows = generated(200, seed=11) + [{"a": "solo", "b": 9, "label": True, "prediction": False}]
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",), ("a", "b")], min_group_size=5)
    solo = [r for r in out if r["group"] == "solo"]
    assert len(solo) == len(GROUP_METRICS) and all(r["small"] for r in solo)
    assert next(r for r in solo if r["metric"] == "count")["value"] == 1.0
    summary = [r for r in out if r["feature"] == "a" and r["group"] is None]
    assert all(r["small"] for r in summary if r["metric"] != "excluded_rows")


def test_booleans_and_integers_give_the_same_rows():
    rows = generated(400, seed=5)
    ints = [{**r, "label": int(r["label"]), "prediction": int(r["prediction"])} for r in rows]
    as_bool = fairness_rows(table(rows, TYPES), FairnessSpec("t", {"a": "a"}))
    con = table(ints, {**TYPES, "label": "INTEGER", "prediction": "TINYINT"})
    as_int = assert_matches(con, ints, [("a",)])
    assert as_bool == as_int


def test_null_groups_are_their_own_group_and_null_labels_are_counted_out():
    rows = [
        {"a": None, "b": 1, "label": True, "prediction": True},
        {"a": None, "b": 1, "label": False, "prediction": True},
        {"a": "x", "b": 1, "label": None, "prediction": True},
        {"a": "x", "b": 1, "label": True, "prediction": None},
        {"a": "x", "b": 1, "label": True, "prediction": False},
    ]
    con = table(rows, TYPES)
    out = assert_matches(con, rows, [("a",)])
    assert {r["group"] for r in out} == {MISSING, "x", None}
    excluded = next(r for r in out if r["metric"] == "excluded_rows")
    assert (excluded["value"], excluded["n"]) == (2.0, 2)


def test_expressions_and_where():
    rows = generated(300, seed=2)
    con = table(rows, TYPES)
    spec = FairnessSpec(
        "(SELECT *, b * 10 AS score FROM t)",
        {"big_b": "b >= 2"},
        prediction="score >= 20",
        where="a IS NOT NULL",
    )
    out = fairness_rows(con, spec)
    kept = [{**r, "big_b": r["b"] >= 2, "p": r["b"] >= 2} for r in rows if r["a"] is not None]
    values, _ = reference(
        [{**r, "big_b": str(r["big_b"]).lower()} for r in kept], ("big_b",), "label", "p"
    )
    got = {(r["group"], r["metric"]): r["value"] for r in out if r["group"] is not None}
    assert got.keys() == values.keys()
    assert all(same(got[k], v) for k, v in values.items())


def test_empty_relation_gives_only_the_excluded_row():
    con = table([], TYPES)
    out = fairness_rows(con, FairnessSpec("t", {"a": "a"}))
    assert [r["metric"] for r in out] == ["excluded_rows"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (FairnessSpec("t", {"a": "a"}, label="b + 1"), "label 'b + 1' must be boolean or 0/1"),
        (FairnessSpec("t", {"a": "a"}, prediction="a"), "prediction='a'"),
        (FairnessSpec("t", {"a": "a"}, groupings=[["a", "nope"]]), "unknown feature"),
        (FairnessSpec("t", {}), "no sensitive features"),
        (FairnessSpec("missing_table", {"a": "a"}), "cannot count missing_table"),
    ],
)
def test_bad_input_names_the_field(spec, message):
    con = table(generated(20, seed=1), TYPES)
    with pytest.raises(FairnessError, match=message.replace("+", r"\+")):
        fairness_rows(con, spec)


@pytest.mark.skipif(not COMPAS.exists(), reason=f"shared COMPAS data absent: {COMPAS}")
def test_compas_race_and_sex_equal_fairlearn():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(COMPAS)])
    raw = con.sql(
        "SELECT race, sex, two_year_recid AS label, decile_score >= 5 AS prediction FROM t"
    ).fetchall()
    rows = [dict(zip(("race", "sex", "label", "prediction"), r, strict=True)) for r in raw]
    spec = FairnessSpec(
        "t",
        {"race": "race", "sex": "sex"},
        label="two_year_recid",
        prediction="decile_score >= 5",
        groupings=[("race",), ("sex",), ("race", "sex")],
    )
    out = fairness_rows(con, spec)
    for names in spec.resolved_groupings():
        values, summaries = reference(rows, names, "label", "prediction")
        feature = " & ".join(names)
        mine = [r for r in out if r["feature"] == feature]
        got = {(r["group"], r["metric"]): r["value"] for r in mine if r["group"] is not None}
        assert got.keys() == values.keys()
        assert all(same(got[k], v) for k, v in values.items())
        for r in mine:
            if r["metric"] in summaries:
                assert same(r["value"], summaries[r["metric"]])
    assert len(rows) == next(r["n"] for r in out if r["metric"] == "demographic_parity_ratio")
