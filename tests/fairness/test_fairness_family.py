"""The ``fairness`` family over a real warehouse view, against fairlearn on the raw rows."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window, split_window
from mlreport.plugins.fairness import FairnessMetrics
from mlreport.warehouse import Warehouse
from tests.fairness.reference import reference

START = datetime(2026, 3, 2, tzinfo=UTC)


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        sex = rng.choice(["F", "M", None])
        band = rng.choice(["18-25", "26-60", "61+"])
        label = None if rng.random() < 0.05 else int(rng.random() < 0.4)
        prediction = int(rng.random() < (0.25 if band == "61+" else 0.5))
        ts = START + timedelta(minutes=37 * i)
        rows.append(
            {"ts": ts, "sex": sex, "age_band": band, "label": label, "prediction": prediction}
        )
    return rows


def log_warehouse(tmp_path, rows: list[dict], intersections=(("sex", "age_band"),)) -> Warehouse:
    """A warehouse with one prediction log ``credit`` whose view follows the source contract."""
    w = Warehouse(tmp_path / "w.duckdb")
    w.con.execute(
        "CREATE TABLE raw (ts TIMESTAMPTZ, sex VARCHAR, age_band VARCHAR, label INTEGER, "
        "prediction INTEGER)"
    )
    w.con.executemany(
        "INSERT INTO raw VALUES (?, ?, ?, ?, ?)",
        [[r["ts"], r["sex"], r["age_band"], r["label"], r["prediction"]] for r in rows],
    )
    w.con.execute(
        "CREATE VIEW predictions__credit AS SELECT 'credit' AS log, 'credit-risk' AS entity, "
        "'1' AS model_version, ts, CAST(prediction AS DOUBLE) AS prediction, "
        "NULL::DOUBLE AS score, CAST(label AS DOUBLE) AS label, sex, age_band FROM raw"
    )
    w.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, numeric_features, "
        "categorical_features, sensitive_features, intersections) VALUES "
        "('credit', 'credit-risk', 'classification', 'predictions__credit', [], [], "
        "['sex', 'age_band'], ?)",
        [json.dumps([list(i) for i in intersections])],
    )
    return w


def compute(w: Warehouse, windows: list[Window], text: str = "") -> list[dict]:
    config = parse_config(text, "mlreport.toml", w.path.parent)
    return list(FairnessMetrics().compute(MetricContext(w, config, windows)))


def same(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0)


@pytest.mark.parametrize("by", [None, "week"])
def test_family_equals_fairlearn_per_window(tmp_path, by):
    rows = make_rows(1500, seed=11)  # 1500 rows × 37 min: about 38 days
    w = log_warehouse(tmp_path, rows)
    whole = Window(START, START + timedelta(days=28))
    windows = split_window(whole, by)
    out = compute(w, windows)
    assert {r["entity"] for r in out} == {"credit-risk"}
    for window in windows:
        inside = [r for r in rows if window.start <= r["ts"] < window.end]
        mine = [r for r in out if r["window_start"] == window.start]
        for names in (("sex",), ("age_band",), ("sex", "age_band")):
            feature = " & ".join(names)
            groups, summaries = reference(inside, names, "label", "prediction")
            got = {
                (r["dimensions"]["group"], r["metric"].removeprefix("fairness.")): r["value"]
                for r in mine
                if r["dimensions"]["feature"] == feature and "group" in r["dimensions"]
            }
            assert got.keys() == groups.keys()
            for key, value in groups.items():
                assert same(got[key], value), (window, feature, key)
            for metric, value in summaries.items():
                (row,) = [
                    r
                    for r in mine
                    if r["metric"] == f"fairness.{metric}"
                    and r["dimensions"]
                    == {"feature": feature}
                    | ({"small": True} if r["dimensions"].get("small") else {})
                ]
                assert same(row["value"], value), (window, feature, metric)
            (excluded,) = [
                r
                for r in mine
                if r["metric"] == "fairness.excluded_rows" and r["dimensions"]["feature"] == feature
            ]
            assert excluded["value"] == sum(r["label"] is None for r in inside)


def test_small_groups_are_flagged_not_hidden(tmp_path):
    rows = make_rows(300, seed=2)
    w = log_warehouse(tmp_path, rows, intersections=())
    out = compute(
        w, [Window(START, START + timedelta(days=30))], "[metrics]\nmin_group_size = 90\n"
    )
    counts = {
        r["dimensions"]["group"]: r
        for r in out
        if r["metric"] == "fairness.count" and r["dimensions"]["feature"] == "sex"
    }
    assert set(counts) == {"F", "M", "(missing)"}
    for row in counts.values():
        assert row["dimensions"].get("small", False) == (row["value"] < 90)
    assert any(r["dimensions"].get("small") for r in counts.values())


def test_empty_window_gives_no_groups(tmp_path):
    w = log_warehouse(tmp_path, make_rows(50, seed=1))
    out = compute(w, [Window(START - timedelta(days=30), START)])
    assert {r["metric"] for r in out} == {"fairness.excluded_rows"}
    assert all(r["value"] == 0 for r in out)


def test_regression_logs_and_logs_without_sensitive_features_are_skipped(tmp_path):
    w = log_warehouse(tmp_path, make_rows(50, seed=1))
    w.con.execute("UPDATE prediction_logs SET task = 'regression'")
    assert compute(w, [Window(START, START + timedelta(days=30))]) == []
    w.con.execute("UPDATE prediction_logs SET task = 'classification', sensitive_features = []")
    assert compute(w, [Window(START, START + timedelta(days=30))]) == []
