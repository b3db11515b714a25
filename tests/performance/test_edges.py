"""Edge cases: one class, nothing predicted positive, constant or broken scores, no labels,
empty windows, bad labels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlreport.metrics import Window
from mlreport.plugins.performance_sql import PerformanceError
from mlreport.warehouse import Warehouse

from .builder import add_log, assert_window, compute, day, generated, pick

WINDOW = Window(day(0), day(7))


@pytest.fixture
def wh(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def row(label, prediction, score=None, version="v1", d=1.0):
    return {
        "model_version": version,
        "ts": day(d),
        "prediction": prediction,
        "score": score,
        "label": label,
    }


def test_single_class_roc_auc_is_none_others_defined(wh):
    rows = [row(1.0, float(i % 2), 0.1 * i) for i in range(10)]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "roc_auc")["value"] is None
    assert pick(out, "roc_auc")["n"] == 10
    assert pick(out, "log_loss")["value"] > 0


def test_no_positive_predicted_precision_is_sklearns_zero(wh):
    rows = [row(float(i % 3 == 0), 0.0, 0.2) for i in range(12)]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "precision")["value"] == 0.0
    assert pick(out, "roc_auc")["value"] == 0.5  # constant score


def test_no_positive_label_recall_zero_roc_none(wh):
    rows = [row(0.0, float(i % 2), 0.3) for i in range(6)]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "recall")["value"] == 0.0


def test_extreme_scores_are_clipped_like_sklearn(wh):
    rows = [
        row(1.0, 1.0, 1.0),
        row(0.0, 0.0, 0.0),
        row(1.0, 0.0, 0.0),
        row(0.0, 1.0, 1.0),
        row(1.0, 1.0, 1e-300),
        row(0.0, 0.0, 1 - 1e-17),
        row(1.0, 1.0, 5e-324),
    ]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)


def test_nan_inf_and_out_of_range_scores_are_excluded_and_counted(wh):
    scores = [math.nan, math.inf, -math.inf, 1.5, -0.1, None, 0.2, 0.9, 0.4, 0.7]
    rows = [row(float(i % 2), float(i % 2), s) for i, s in enumerate(scores)]
    rows.append(row(None, 1.0, math.nan))  # not labelled: neither used nor counted
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "excluded_scores")["value"] == 5.0
    assert pick(out, "roc_auc")["n"] == 4
    assert pick(out, "accuracy")["n"] == 10


def test_no_usable_score_gives_no_score_metrics(wh):
    rows = [row(float(i % 2), 1.0, None) for i in range(6)]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "roc_auc") is None
    assert pick(out, "excluded_scores")["value"] == 0.0


def test_all_labels_missing(wh):
    rows = [row(None, 1.0, 0.4), row(math.nan, 0.0, 0.3), row(None, 1.0, 0.9, version="v2")]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert_window(out, rows, WINDOW, model_version="v2")
    metrics = {r["metric"] for r in out}
    assert metrics == {"performance.labelled_share", "performance.excluded_rows"}
    assert pick(out, "labelled_share")["value"] == 0.0
    assert pick(out, "labelled_share")["n"] == 3


def test_missing_predictions_are_excluded_and_counted(wh):
    rows = [row(1.0, None, 0.8), row(0.0, math.nan, 0.1), row(1.0, 1.0, 0.7), row(0.0, 1.0, 0.6)]
    add_log(wh, "x", rows)
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW)
    assert pick(out, "excluded_rows")["value"] == 2.0
    assert pick(out, "roc_auc")["n"] == 4  # the score metrics still use those rows


def test_empty_log_and_empty_window_give_no_rows(wh):
    add_log(wh, "empty", [])
    add_log(wh, "later", generated(50, seed=1))
    assert compute(wh, [Window(day(-30), day(-1))]) == []


def test_regression_edges(wh):
    rows = [
        row(0.0, 0.5),
        row(2.0, 2.0),
        row(-4.0, -3.0),
        row(math.inf, 1.0),
        row(1.0, math.nan),
        row(None, 1.0),
        row(3.0, None),
        row(1e-20, 1.0),
    ]
    add_log(wh, "reg", rows, task="regression")
    out = compute(wh, [WINDOW])
    assert_window(out, rows, WINDOW, task="regression")
    assert pick(out, "excluded_rows")["value"] == 3.0
    assert pick(out, "mape")["value"] > 1e14  # scikit-learn's eps floor on |y|


def test_regression_constant_labels_and_single_row(wh):
    perfect = [row(3.0, 3.0, d=1), row(3.0, 3.0, d=1)]
    off = [row(3.0, 2.0, d=3), row(3.0, 4.0, d=3)]
    single = [row(3.0, 2.5, d=5)]
    add_log(wh, "reg", perfect + off + single, task="regression")
    windows = [Window(day(0), day(2)), Window(day(2), day(4)), Window(day(4), day(6))]
    out = compute(wh, windows)
    for window in windows:
        assert_window(out, perfect + off + single, window, task="regression")
    assert [pick(out, "r2", w)["value"] for w in windows] == [1.0, 0.0, None]


def test_labels_other_than_zero_one_are_refused(wh):
    add_log(wh, "bad", [row(2.0, 1.0), row(0.0, 1.0)])
    with pytest.raises(PerformanceError, match=r"bad.*label must be 0 or 1.*\[2\.0\]"):
        compute(wh, [WINDOW])


def test_predictions_other_than_zero_one_are_refused(wh):
    add_log(wh, "bad", [row(1.0, 0.7)])
    with pytest.raises(PerformanceError, match=r"prediction must be 0 or 1.*\[0\.7\]"):
        compute(wh, [WINDOW])
