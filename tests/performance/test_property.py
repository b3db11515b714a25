"""Hypothesis: any mix of labels, predictions, scores (ties, NaN, inf, out of range), versions
and weekly windows gives scikit-learn's values on the raw rows (rtol 1e-9)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.metrics import Window, split_window
from mlreport.warehouse import Warehouse

from .builder import add_log, assert_window, compute, day

WINDOWS = split_window(Window(day(3), day(12)), "week")  # rows fall outside too
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scores = st.one_of(
    st.sampled_from([0.0, 1.0, 0.5, 0.25, math.nan, math.inf, -math.inf, 1.5, -0.5, None, 1e-300]),
    st.floats(0, 1),
)
labels = st.sampled_from([0.0, 1.0, 1.0, 0.0, None, math.nan])
versions = st.sampled_from(["v1", "v2", None])
times = st.floats(0, 14.99).map(day)

classification_rows = st.lists(
    st.fixed_dictionaries(
        {
            "model_version": versions,
            "ts": times,
            "prediction": st.sampled_from([0.0, 1.0, 1.0, None]),
            "score": scores,
            "label": labels,
        }
    ),
    max_size=60,
)

# Labels on a grid of exactly representable values (optionally far from zero): on nearly
# constant labels scikit-learn's own two-pass variance is not accurate to 1e-9 (see the docs).
offsets = st.sampled_from([0.0, 1e3, -250.0])
grid = st.integers(-40, 40).map(lambda k: k / 4)
regression_rows = offsets.flatmap(
    lambda off: st.lists(
        st.fixed_dictionaries(
            {
                "model_version": versions,
                "ts": times,
                "prediction": st.one_of(
                    st.floats(-100, 100).map(lambda x: x + off), st.sampled_from([None, math.nan])
                ),
                "score": st.none(),
                "label": st.one_of(grid.map(lambda x: x + off), st.sampled_from([None, math.inf])),
            }
        ),
        max_size=60,
    )
)


def check(rows, task: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "w.duckdb") as wh:
        add_log(wh, "x", rows, task=task)
        out = compute(wh, WINDOWS)
    present = {(r["window_start"], str(r["dimensions"])) for r in out}
    for window in WINDOWS:
        for dims in (
            {},
            {"model_version": "v1"},
            {"model_version": "v2"},
            {"model_version": "(missing)"},
        ):
            if (window.start, str(dims)) in present:
                assert_window(out, rows, window, task=task, **dims)
    inside_all = {w.start for w in WINDOWS if any(w.start <= r["ts"] < w.end for r in rows)}
    assert {s for s, d in present if d == "{}"} == inside_all


@SETTINGS
@given(classification_rows)
def test_classification_equals_sklearn(rows):
    check(rows, "classification")


@SETTINGS
@given(regression_rows)
def test_regression_equals_sklearn(rows):
    check(rows, "regression")
