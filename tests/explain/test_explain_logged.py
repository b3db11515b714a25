"""SHAP values logged with the predictions: mean |SHAP| in DuckDB, no model loaded."""

from __future__ import annotations

import numpy as np
import pytest

from mlreport.plugins.explain import ExplainError, ExplainMetrics
from tests.explain.builder import REF_UNTIL, START, build_log, log_frame

RTOL = 1e-12
LOGGED = {"x1": "shap__x1", "x2": "shap__x2", "color": "shap__color"}


def logged_frame():
    frame = log_frame(rows=400)
    rng = np.random.default_rng(3)
    for column in LOGGED.values():
        frame[column] = rng.normal(size=len(frame))
    in_reference = frame.index[frame.ts < REF_UNTIL]
    frame.loc[in_reference[:7], "shap__x1"] = np.nan  # NULL in the view: not logged
    frame.loc[in_reference[7], "shap__x2"] = np.inf
    return frame


def values(log, toml) -> dict[str, tuple[float, int]]:
    rows = list(ExplainMetrics().compute(log.context(toml)))
    assert {(r["window_start"], r["window_end"]) for r in rows} == {(START, REF_UNTIL)}
    return {r["dimensions"]["feature"]: (r["value"], r["n"]) for r in rows}


def expected(frame, feature):
    window = frame[(frame.ts >= START) & (frame.ts < REF_UNTIL)]
    column = window[LOGGED[feature]].to_numpy()
    column = column[np.isfinite(column)]
    return np.abs(column).mean(), len(column)


@pytest.fixture
def log(tmp_path):
    return build_log(tmp_path, logged_frame(), shap_columns=LOGGED)


def test_logged_values_over_the_whole_reference_window(log):
    # No model key: nothing is loaded, nothing needs trusting; the sample size does not apply.
    got = values(log, 'shap_prefix = "shap_"\nsample = 5\n')
    assert list(got) == ["x1", "x2", "color"]  # the log's feature order
    for feature in LOGGED:
        value, n = got[feature]
        want, count = expected(log.frame, feature)
        assert n == count
        np.testing.assert_allclose(value, want, rtol=RTOL)
    assert got["x1"][1] < got["color"][1] and got["x2"][1] < got["color"][1]


def test_logged_values_for_chosen_features(log):
    assert list(values(log, 'shap_prefix = "shap_"\nfeatures = ["color"]\n')) == ["color"]


def test_a_feature_without_a_logged_column(log):
    with pytest.raises(ExplainError, match="no SHAP column for x3"):
        values(log, 'shap_prefix = "shap_"\nfeatures = ["x1", "x3"]\n')


def test_shap_prefix_but_nothing_logged(tmp_path):
    log = build_log(tmp_path, log_frame(rows=50))
    with pytest.raises(ExplainError, match="shap_prefix is set but") as info:
        values(log, 'shap_prefix = "shap_"\n')
    assert "[sources.explain] of source 'credit'" in str(info.value)


def test_an_empty_window_gives_no_value(tmp_path):
    frame = logged_frame()
    frame = frame[frame.ts >= REF_UNTIL]
    log = build_log(tmp_path, frame, shap_columns=LOGGED)
    got = values(log, 'shap_prefix = "shap_"\n')
    assert got == {f: (None, 0) for f in LOGGED}
