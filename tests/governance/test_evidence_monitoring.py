"""Monitoring evidence from stored metric values and their policies: present, partial,
missing. The values are stored by fixed families (the report reads what a run stored)."""

from __future__ import annotations

import pytest

from mlreport.warehouse import Warehouse

from .world import World, config, evidence

COVERAGE = [
    ("monitoring.coverage", "credit", {}, 1.0),
    ("monitoring.log_days", "credit", {}, 90.0),
    ("monitoring.window_days", "credit", {}, 90.0),
    ("monitoring.longest_gap_days", "credit", {}, 0.0),
    ("monitoring.labelled_share", "credit", {}, 0.8),
    ("monitoring.label_lag_hours", "credit", {"stat": "p50"}, 20.0),
    ("monitoring.label_lag_hours", "credit", {"stat": "p95"}, 40.0),
    ("monitoring.oldest_row_age_days", "credit", {}, 400.0),
]
LAG_POLICY = '[policies."monitoring.label_lag_hours"]\nmax = 48\nstat = "p95"\n'
RETENTION = '[[entities]]\nkind = "model"\nname = "credit"\n[entities.governance]\n'


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        World(w).entity()
        yield w


def replace(values, metric, value, dims=None):
    return [
        (m, e, d, value if m == metric and (dims is None or d == dims) else v)
        for m, e, d, v in values
    ]


def test_full_coverage_within_policy_is_met(wh, tmp_path):
    e = evidence(wh, config(tmp_path, LAG_POLICY), "credit", "monitoring.log_coverage", COVERAGE)
    assert e.status == "met"
    facts = {f.label: f for f in e.facts}
    assert facts["Days with logs (share of the window)"].value == 1.0
    assert facts["Label lag (p95)"].value == 40.0
    assert facts["Label lag (p95)"].threshold == "≤ 48"
    assert facts["Days with logs"].value == 90.0


def test_a_gap_is_partial(wh, tmp_path):
    values = replace(
        replace(COVERAGE, "monitoring.coverage", 0.9), "monitoring.longest_gap_days", 4.0
    )
    e = evidence(wh, config(tmp_path), "credit", "monitoring.log_coverage", values)
    assert e.status == "partial"
    assert e.summary == (
        "Predictions were logged on 90.0% of the window's days; the longest gap was 4 days."
    )


def test_label_lag_over_its_policy_is_partial(wh, tmp_path):
    values = replace(COVERAGE, "monitoring.label_lag_hours", 72.0, {"stat": "p95"})
    e = evidence(wh, config(tmp_path, LAG_POLICY), "credit", "monitoring.log_coverage", values)
    assert e.status == "partial" and "1 monitoring policy check(s) failed" in e.summary


def test_no_coverage_value_is_missing(wh, tmp_path):
    e = evidence(wh, config(tmp_path), "credit", "monitoring.log_coverage")
    assert e.status == "missing" and "not recorded" in e.summary


PERF = [
    ("performance.accuracy", "credit", {}, 0.91),
    ("drift.psi", "credit", {"feature": "income"}, 0.05),
    ("fairness.demographic_parity_ratio", "credit", {"feature": "sex"}, 0.85),
]
POLICIES = (
    '[policies."performance.accuracy"]\nmin = 0.9\n'
    '[policies."drift.psi"]\nmax = 0.2\n'
    '[policies."fairness.demographic_parity_ratio"]\nmin = 0.8\n'
)


@pytest.mark.parametrize(
    ("eid", "metric", "bad"),
    [
        ("monitoring.performance_policy", "performance.accuracy", 0.85),
        ("monitoring.drift_policy", "drift.psi", 0.31),
        ("monitoring.fairness_policy", "fairness.demographic_parity_ratio", 0.7),
    ],
)
def test_policy_evidence(wh, tmp_path, eid, metric, bad):
    good = evidence(wh, config(tmp_path, POLICIES), "credit", eid, PERF)
    assert good.status == "met" and good.summary.startswith("All 1 ")
    (row,) = [r for r in good.rows if r["metric"] == metric]
    stored = next(v for m, _, _, v in PERF if m == metric)
    assert row["value"] == stored and row["passed"] is True

    failing = evidence(wh, config(tmp_path, POLICIES), "credit", eid, replace(PERF, metric, bad))
    assert failing.status == "partial" and failing.summary.startswith("1 of 1 ")
    fact = next(f for f in failing.facts if f.label.startswith(metric))
    assert fact.value == bad and fact.threshold in ("≥ 0.9", "≤ 0.2", "≥ 0.8")

    unpoliced = evidence(wh, config(tmp_path), "credit", eid, PERF)
    assert unpoliced.status == "partial" and "no policy holds them" in unpoliced.summary

    nothing = evidence(wh, config(tmp_path), "credit", eid)
    assert nothing.status == "missing"


def test_retention_held_is_met(wh, tmp_path):
    cfg = config(tmp_path, RETENTION + "retention_days = 365\n")
    e = evidence(wh, cfg, "credit", "monitoring.retention_held", COVERAGE)
    assert e.status == "met"
    assert [(f.value, f.threshold) for f in e.facts] == [(400.0, None), (365, "≥ 365")]


def test_retention_shortfall_is_partial(wh, tmp_path):
    cfg = config(tmp_path, RETENTION + "retention_days = 730\n")
    e = evidence(wh, cfg, "credit", "monitoring.retention_held", COVERAGE)
    assert e.status == "partial"
    assert "reach back only 400 days of the 730 days" in e.summary


def test_retention_not_configured_is_missing(wh, tmp_path):
    e = evidence(wh, config(tmp_path), "credit", "monitoring.retention_held", COVERAGE)
    assert e.status == "missing" and "governance.retention_days" in e.summary


def test_retention_without_oldest_row_is_missing(wh, tmp_path):
    cfg = config(tmp_path, RETENTION + "retention_days = 30\n")
    e = evidence(wh, cfg, "credit", "monitoring.retention_held")
    assert e.status == "missing" and "not recorded" in e.summary


def test_thresholds_are_shown_in_the_values_unit():
    from mlreport.policies import PolicyResult
    from mlreport.reports.governance.evidence import bounds

    def policy(lo, hi):
        return PolicyResult("m", "e", {}, 0.5, lo, hi, "error", True)

    assert bounds(policy(0.8, None), "ratio") == "≥ 80%"
    assert bounds(policy(None, 0.2), "index") == "≤ 0.2"
    assert bounds(policy(0.1, 0.9), "") == "between 0.1 and 0.9"
    assert bounds(None, "ratio") is None
