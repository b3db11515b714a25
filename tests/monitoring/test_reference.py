"""The ``monitoring`` family against pandas and numpy on the same raw rows: hand-made cases
and hypothesis (empty windows, one day, gaps at either end, no labels, missing times,
duplicated rows, windows that cut days)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window, split_window
from mlreport.plugins.monitoring import MonitoringMetrics
from mlreport.warehouse import Warehouse

from .builder import add_log, assert_equal, compute, day, expected, values

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        yield w


def row(d: float, label: float | None = 1.0, lag_hours: float | None = 2.0) -> dict:
    label_ts = None if lag_hours is None else day(d + lag_hours / 24)
    return {"ts": day(d), "prediction": 1.0, "label": label, "label_ts": label_ts}


def test_a_week_with_gaps_at_both_ends_and_inside(wh):
    # days 0..6 of the window; logs on days 2, 3 and 5 only
    rows = [row(2.5, lag_hours=1), row(2.7, lag_hours=3), row(3.1, None, None), row(5.9)]
    add_log(wh, "a", rows)
    w = Window(day(0), day(7))
    found = values(compute(wh, [w]))
    assert found[("log_days", None, w.start, w.end)] == (3.0, 4)
    assert found[("window_days", None, w.start, w.end)] == (7.0, 4)
    assert found[("coverage", None, w.start, w.end)] == (3 / 7, 4)
    assert found[("longest_gap_days", None, w.start, w.end)] == (2.0, 4)  # days 0-1
    assert found[("labelled_share", None, w.start, w.end)] == (0.75, 4)
    assert found[("label_lag_hours", "max", w.start, w.end)][1] == 3
    assert found[("oldest_row_age_days", None, w.start, w.end)] == (7 - 2.5, 4)
    assert_equal(found, expected(rows, [w]))


def test_an_empty_window_is_all_gap_and_has_no_shares(wh):
    rows = [row(1.5), row(20.25)]
    add_log(wh, "a", rows)
    w = Window(day(5), day(9))
    found = values(compute(wh, [w]))
    assert found[("coverage", None, w.start, w.end)] == (0.0, 0)
    assert found[("longest_gap_days", None, w.start, w.end)] == (4.0, 0)
    assert ("labelled_share", None, w.start, w.end) not in found
    assert not [k for k in found if k[0] == "label_lag_hours"]
    # the retention side sees the whole log before the window's end, not just the window
    assert found[("oldest_row_age_days", None, w.start, w.end)] == (9 - 1.5, 1)
    assert_equal(found, expected(rows, [w]))


def test_partial_days_count_as_days_and_rows_outside_the_window_do_not(wh):
    # the window starts at 18:00 on day 0 and ends at 06:00 on day 3: it touches 4 days;
    # the rows at 12:00 on day 0 and 12:00 on day 3 are outside it
    rows = [row(0.5), row(0.8), row(3.5), row(2.1)]
    add_log(wh, "a", rows)
    w = Window(day(0.75), day(3.25))
    found = values(compute(wh, [w]))
    assert found[("window_days", None, w.start, w.end)] == (4.0, 2)
    assert found[("log_days", None, w.start, w.end)] == (2.0, 2)
    assert found[("longest_gap_days", None, w.start, w.end)] == (1.0, 2)
    assert_equal(found, expected(rows, [w]))


def test_without_a_label_time_no_lag_is_written(wh):
    rows = [row(1.5), row(2.5)]
    add_log(wh, "a", rows, label_time=False)
    w = Window(day(0), day(4))
    found = values(compute(wh, [w]))
    assert not [k for k in found if k[0] == "label_lag_hours"]
    assert_equal(found, expected(rows, [w], label_time=False))


def test_two_logs_of_one_entity_are_merged_and_other_entities_kept_apart(wh):
    a = [row(0.5, lag_hours=1), row(2.5, lag_hours=5)]
    b = [row(1.5, lag_hours=2), row(1.6, None), row(2.2, lag_hours=7)]
    other = [row(3.5)]
    add_log(wh, "a", a)
    add_log(wh, "b", b)
    add_log(wh, "c", other, entity="model-b")
    w = Window(day(0), day(4))
    rows = compute(wh, [w])
    assert_equal(values(rows), expected(a + b, [w]))
    assert_equal(values(rows, "model-b"), expected(other, [w]))


def test_weekly_windows_in_one_scan_each_match(wh):
    rows = [row(d / 3, lag_hours=(d * 7) % 50) for d in range(0, 60, 2)]
    add_log(wh, "a", rows)
    windows = split_window(Window(day(0.3), day(19.6)), "week")
    windows.append(Window(day(2), day(9)))  # overlapping the others
    assert_equal(values(compute(wh, windows)), expected(rows, windows))


# -- hypothesis -----------------------------------------------------------------------------

times = st.one_of(st.none(), st.floats(0, 13.99).map(lambda d: round(d * 96) / 96))
labels = st.sampled_from([0.0, 1.0, None, math.nan])
lags = st.one_of(st.none(), st.floats(-2, 400).map(lambda h: round(h, 3)))
raw = st.fixed_dictionaries({"d": times, "label": labels, "lag": lags})


def _rows(drawn: list[dict]) -> list[dict]:
    out = []
    for r in drawn:
        ts = None if r["d"] is None else day(r["d"])
        label_ts = None if ts is None or r["lag"] is None else day(r["d"] + r["lag"] / 24)
        out.append({"ts": ts, "prediction": 0.0, "label": r["label"], "label_ts": label_ts})
    return out


window_bounds = st.tuples(st.floats(0, 14), st.floats(0.01, 9)).map(
    lambda t: Window(day(round(t[0] * 24) / 24), day(round(t[0] * 24) / 24 + t[1]))
)


@SETTINGS
@given(
    drawn=st.lists(raw, max_size=40),
    duplicates=st.integers(0, 3),
    window=window_bounds,
    by_week=st.booleans(),
)
def test_any_log_and_window_equal_pandas(drawn, duplicates, window, by_week):
    rows = _rows(drawn)
    rows += rows[:duplicates]  # duplicated rows are rows: counted, as pandas counts them
    windows = split_window(window, "week") if by_week else [window]
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "wh.duckdb") as wh:
        add_log(wh, "a", rows)
        assert_equal(values(compute(wh, windows)), expected(rows, windows))


@SETTINGS
@given(d=st.floats(0, 5), n=st.integers(1, 5), lag=lags)
@example(d=1.9999999999999991, n=1, lag=None)  # stored on day 2, not day 1
def test_a_single_day_of_logs(d, n, lag):
    rows = _rows([{"d": d, "label": 1.0, "lag": lag}] * n)
    k = (day(d) - day(0)).days  # the stored day: d = 1.9999999999999991 is stored as day 2
    window = Window(day(k), day(k + 1))
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "wh.duckdb") as wh:
        add_log(wh, "a", rows)
        found = values(compute(wh, [window]))
        assert found[("coverage", None, window.start, window.end)] == (1.0, n)
        assert_equal(found, expected(rows, [window]))


def test_a_log_whose_labels_never_arrived(wh):
    rows = [row(0.5, None, None), row(1.5, math.nan, 3), row(1.7, None, 2)]
    add_log(wh, "a", rows)
    w = Window(day(0), day(3))
    found = values(compute(wh, [w]))
    assert found[("labelled_share", None, w.start, w.end)] == (0.0, 3)
    assert not [k for k in found if k[0] == "label_lag_hours"]  # a label time without a label
    assert_equal(found, expected(rows, [w]))


def test_each_log_is_published_for_reports_with_whether_it_maps_a_label_time(wh):
    add_log(wh, "a", [row(0.5), row(2.5)])
    add_log(wh, "b", [row(1.5, None, None)], label_time=False)
    w = Window(day(0), day(3))
    ctx = MetricContext(wh, parse_config("", None, Path(".")), [w], detail_windows=[w])
    MonitoringMetrics().compute(ctx)
    frame = ctx.published["monitoring_logs"].sort("log")
    assert frame.select("log", "rows", "log_days", "window_days", "label_time").rows() == [
        ("a", 2, 2, 3, True),
        ("b", 1, 1, 3, False),
    ]
    assert frame["oldest"].to_list() == [day(0.5), day(1.5)]
