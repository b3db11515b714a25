"""The family equals scikit-learn on the raw rows: generated logs, weekly windows, versions."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlreport.plugins.performance as performance
from mlreport.config import parse_config
from mlreport.metrics import Window, compute_metrics, split_window
from mlreport.plugin_manager import get_plugins
from mlreport.warehouse import Warehouse

from .builder import (
    add_log,
    assert_window,
    classification_reference,
    close,
    compute,
    day,
    generated,
    generated_regression,
    pick,
)

WEEKS = split_window(Window(day(-3), day(30)), "week")  # partial first and last weeks


@pytest.fixture
def wh(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def test_classification_weekly_per_version_equals_sklearn(wh):
    rows = generated(6000, seed=1, versions=("v1", "v2", "v3"))
    add_log(wh, "credit", rows)
    out = compute(wh, WEEKS)
    for window in WEEKS:
        for dims in ({}, {"model_version": "v1"}, {"model_version": "v2"}, {"model_version": "v3"}):
            assert_window(out, rows, window, **dims)
    assert {r["entity"] for r in out} == {"model-a"}
    # The first window (3 days before the log starts) is empty: no rows at all.
    assert not [r for r in out if r["window_start"] == WEEKS[0].start]


def test_regression_weekly_per_version_equals_sklearn(wh):
    rows = generated_regression(4000, seed=2)
    add_log(wh, "demand", rows, task="regression")
    out = compute(wh, WEEKS)
    for window in WEEKS:
        for dims in ({}, {"model_version": "v1"}, {"model_version": "v2"}):
            assert_window(out, rows, window, task="regression", **dims)
    assert pick(out, "mae", WEEKS[1])["unit"] == "label"


def test_single_version_windows_copy_the_all_versions_values(wh):
    rows = generated(2000, seed=3, versions=("v1",), days=14)
    add_log(wh, "one", rows)
    out = compute(wh, WEEKS[:3])
    for window in WEEKS[1:3]:
        assert_window(out, rows, window)
        assert_window(out, rows, window, model_version="v1")


def test_unmapped_versions_give_only_all_versions_rows(wh):
    rows = [{**r, "model_version": None} for r in generated(1000, seed=4)]
    add_log(wh, "nover", rows)
    out = compute(wh, [Window(day(0), day(28))])
    assert all(r["dimensions"] == {} for r in out)
    assert_window(out, rows, Window(day(0), day(28)))


def test_some_rows_without_version_are_a_missing_version(wh):
    rows = generated(1500, seed=5, versions=("v1", None))
    add_log(wh, "partial", rows)
    window = Window(day(0), day(28))
    out = compute(wh, [window])
    for dims in ({}, {"model_version": "v1"}, {"model_version": "(missing)"}):
        assert_window(out, rows, window, **dims)


def test_overlapping_and_separated_windows(wh):
    rows = generated(3000, seed=6)
    add_log(wh, "x", rows)
    windows = [
        Window(day(0), day(28)),
        Window(day(0), day(7)),
        Window(day(7), day(14)),
        Window(day(20), day(22)),
        Window(day(0), day(7)),
    ]
    out = compute(wh, windows)
    for window in windows:
        assert_window(out, rows, window)
        assert_window(out, rows, window, model_version="v2")
    whole = pick(out, "accuracy", windows[0])
    assert whole["n"] == sum(1 for r in rows if r["label"] is not None)


def test_degradation_against_the_reference(wh):
    reference = generated(3000, seed=7, versions=("v1",))
    current = [
        {**r, "prediction": 1 - r["prediction"] if i % 5 == 0 else r["prediction"]}
        for i, r in enumerate(generated(3000, seed=8))
    ]
    add_log(wh, "x", current, reference=reference)
    window = Window(day(0), day(28))
    out = compute(wh, [window])
    base = classification_reference(reference)
    for dims in ({}, {"model_version": "v2"}):
        inside = [
            r
            for r in current
            if dims.get("model_version", r["model_version"]) == r["model_version"]
        ]
        now = classification_reference(inside)
        for metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"):
            row = pick(out, "degradation", window, **dims, metric=metric)
            expected = (now[metric][0] - base[metric][0]) / base[metric][0]
            assert close(row["value"], expected), (metric, row["value"], expected)
            assert row["n"] == now[metric][1]
            assert row["unit"] == "ratio"
    assert pick(out, "degradation", window, metric="accuracy")["value"] < 0


def test_regression_degradation_zero_reference_is_none(wh):
    reference = [
        {"model_version": "v1", "ts": day(0), "prediction": x, "score": None, "label": x}
        for x in (1.0, 2.0, 3.0)
    ]
    current = generated_regression(200, seed=9)
    add_log(wh, "reg", current, task="regression", reference=reference)
    out = compute(wh, [Window(day(0), day(28))])
    # A perfect reference: mae, rmse, mape 0 (no relative change defined), r2 = 1.
    for metric in ("mae", "rmse", "mape"):
        assert pick(out, "degradation", metric=metric)["value"] is None
    r2 = pick(out, "r2")["value"]
    assert close(pick(out, "degradation", metric="r2")["value"], r2 - 1.0)


def test_no_reference_no_degradation(wh):
    add_log(wh, "x", generated(300, seed=10))
    out = compute(wh, [Window(day(0), day(28))])
    assert not [r for r in out if r["metric"] == "performance.degradation"]


def test_entities_filter_and_several_logs(wh, tmp_path):
    a, b = generated(500, seed=11), generated_regression(500, seed=12)
    add_log(wh, "a", a, entity="alpha")
    add_log(wh, "b", b, task="regression", entity="beta")
    window = Window(day(0), day(28))
    from mlreport.metrics import MetricContext

    ctx = MetricContext(wh, parse_config("", None, Path(".")), [window], ["beta"])
    out = list(performance.PerformanceMetrics().compute(ctx))
    assert {r["entity"] for r in out} == {"beta"}
    assert_window(out, b, window, task="regression")


def test_through_the_kernel_registry(wh):
    plugins = get_plugins()
    if "performance" not in plugins.metrics().names():
        plugins.register_module(performance, "mlreport.plugins.performance")
    rows = generated(800, seed=13)
    add_log(wh, "x", rows)
    window = Window(day(0), day(28))
    frame = compute_metrics(wh, parse_config("", None, Path(".")), [window], "performance.*")
    got = frame.filter(frame["dimensions"] == "{}")
    ref = classification_reference(rows)
    values = dict(zip(got["metric"], got["value"], strict=True))
    for metric, (value, _) in ref.items():
        assert close(values[f"performance.{metric}"], value)
    stored = wh.con.execute(
        "SELECT count(*) FROM metric_values WHERE metric LIKE 'performance.%'"
    ).fetchone()[0]
    assert stored == frame.height
