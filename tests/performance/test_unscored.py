"""A log without a score column skips the score scan; the values (and which rows exist) are
those the scan gives over all-NULL scores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlreport.metrics import Window, split_window
from mlreport.plugins import performance_sql as ps
from mlreport.plugins.performance import measure
from mlreport.prediction_logs import prediction_logs
from tests.fairness.test_fairness_family import START, log_warehouse, make_rows


@pytest.mark.parametrize("versions", [1, 3])
def test_skipping_the_score_scan_changes_no_value(tmp_path, versions):
    rows = make_rows(900, seed=4)
    w = log_warehouse(tmp_path, rows)
    if versions > 1:  # several versions per window: scores are grouped per version
        w.con.execute(
            "CREATE OR REPLACE VIEW predictions__credit AS SELECT 'credit' AS log, "
            "'credit-risk' AS entity, CASE WHEN label IS NULL THEN NULL ELSE "
            "CAST(hash(ts) % 3 AS VARCHAR) END AS model_version, ts, "
            "CAST(prediction AS DOUBLE) AS prediction, NULL::DOUBLE AS score, "
            "CAST(label AS DOUBLE) AS label, sex, age_band FROM raw"
        )
    (log,) = prediction_logs(w)
    windows = split_window(Window(START, START + timedelta(days=42)), "week")
    relation = log.window(Window(windows[0].start, windows[-1].end))
    counts = ps.threshold_counts(w.con, relation, windows)
    scanned = measure(w.con, log, relation, windows, counts, scored=True)
    skipped = measure(w.con, log, relation, windows, counts, scored=False)
    assert skipped == scanned
    assert any("excluded_scores" in v for v in scanned.values())
    w.close()
