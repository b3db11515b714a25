"""Monitoring evidence: prediction-log coverage and label lag (the ``monitoring`` family's
values), the performance, drift and fairness results with their policies, and retention held
against the configured period."""

from __future__ import annotations

import json
from typing import Any

from mlreport.reports.governance.evidence import Evidence, Fact, Inputs, Key, bounds

MAX_FACTS = 12  # policy checks listed as facts; the rest are in the rows


def _metric(inputs: Inputs, metric: str, **dims: Any) -> dict[str, Any] | None:
    """The model's row of ``metric`` with ``dims`` (other dimensions, such as a log name,
    allowed when there is exactly one such row)."""
    exact = inputs.value(metric, **dims)
    if exact is not None:
        return exact
    found = [
        r
        for k, r in inputs.metrics.items()
        if k[0] == metric and all(json.loads(k[2]).get(d) == v for d, v in dims.items())
    ]
    return found[0] if len(found) == 1 else None


def _key(inputs: Inputs, row: dict[str, Any] | None) -> Key | None:
    if row is None:
        return None
    return next((k for k, r in inputs.metrics.items() if r is row), None)


def _v(row: dict[str, Any] | None) -> float | None:
    return None if row is None or row["value"] is None else float(row["value"])


def log_coverage(inputs: Inputs) -> Evidence:
    eid = "monitoring.log_coverage"
    coverage = _metric(inputs, "monitoring.coverage")
    if _v(coverage) is None:
        return Evidence(
            eid,
            "missing",
            "Prediction-log coverage is not recorded for this model in the window (no "
            "monitoring.coverage value: no prediction log, or no monitoring metrics).",
        )
    facts = []
    checks = []
    for metric, label, unit, dims, default in (
        ("monitoring.coverage", "Days with logs (share of the window)", "ratio", {}, "100%"),
        ("monitoring.log_days", "Days with logs", "days", {}, None),
        ("monitoring.window_days", "Days in the window", "days", {}, None),
        ("monitoring.longest_gap_days", "Longest gap without logs", "days", {}, "0 d"),
        ("monitoring.labelled_share", "Predictions with a label", "ratio", {}, None),
        ("monitoring.label_lag_hours", "Label lag (p95)", "hours", {"stat": "p95"}, None),
    ):
        row = _metric(inputs, metric, **dims)
        p = inputs.policy(_key(inputs, row)) if row is not None else None
        if p is not None:
            checks.append(p)
        facts.append(Fact(label, _v(row), unit, bounds(p, unit) or default))
    failing = [p for p in checks if not p.passed]
    full = _v(coverage) >= 1.0
    status = "met" if full and not failing else "partial"
    gap = _v(_metric(inputs, "monitoring.longest_gap_days"))
    parts = [f"Predictions were logged on {_v(coverage):.1%} of the window's days"]
    if gap:
        parts.append(f"the longest gap was {gap:g} days")
    if failing:
        parts.append(f"{len(failing)} monitoring policy check(s) failed")
    return Evidence(eid, status, "; ".join(parts) + ".", tuple(facts))


def _policy_evidence(inputs: Inputs, eid: str, prefix: str, what: str) -> Evidence:
    rows = [(k, r) for k, r in inputs.rows_of(prefix) if r["value"] is not None]
    if not rows:
        return Evidence(
            eid,
            "missing",
            f"No {what} values are recorded for this model in the window.",
        )
    checked = [(k, r, inputs.policy(k)) for k, r in rows if inputs.policy(k) is not None]
    detail = tuple(
        {
            "metric": k[0],
            "dimensions": k[2],
            "value": r["value"],
            "n": r["n"],
            "threshold": bounds(p, r.get("unit")),
            "passed": None if p is None else p.passed,
        }
        for k, r, p in ((k, r, inputs.policy(k)) for k, r in rows)
    )
    if not checked:
        return Evidence(
            eid,
            "partial",
            f"{len(rows)} {what} values were measured, but no policy holds them to a threshold.",
            (Fact(f"{what.capitalize()} values", len(rows)), Fact("Policy checks", 0)),
            detail,
        )
    failed = [c for c in checked if not c[2].passed]
    facts = [Fact(f"{what.capitalize()} values", len(rows)), Fact("Policy checks", len(checked))]
    for k, r, p in (failed + [c for c in checked if c[2].passed])[:MAX_FACTS]:
        dims = json.loads(k[2])
        label = k[0] + (" (" + ", ".join(f"{a}={b}" for a, b in dims.items()) + ")" if dims else "")
        facts.append(Fact(label, r["value"], r.get("unit") or "", bounds(p, r.get("unit"))))
    if failed:
        summary = f"{len(failed)} of {len(checked)} {what} policy checks failed in the window."
        return Evidence(eid, "partial", summary, tuple(facts), detail)
    summary = f"All {len(checked)} {what} policy checks held in the window."
    return Evidence(eid, "met", summary, tuple(facts), detail)


def performance_policy(inputs: Inputs) -> Evidence:
    return _policy_evidence(inputs, "monitoring.performance_policy", "performance.", "performance")


def drift_policy(inputs: Inputs) -> Evidence:
    return _policy_evidence(inputs, "monitoring.drift_policy", "drift.", "drift")


def fairness_policy(inputs: Inputs) -> Evidence:
    return _policy_evidence(inputs, "monitoring.fairness_policy", "fairness.", "fairness")


def retention_held(inputs: Inputs) -> Evidence:
    eid = "monitoring.retention_held"
    days = inputs.settings.retention_days if inputs.settings else None
    oldest = _v(_metric(inputs, "monitoring.oldest_row_age_days"))
    facts = (
        Fact("Age of the oldest logged prediction", oldest, "days"),
        Fact("Configured retention", days, "days", f"≥ {days}" if days else None),
    )
    if days is None:
        return Evidence(
            eid,
            "missing",
            "No retention period is set for this model's prediction logs "
            "(governance.retention_days), so whether it is held cannot be judged.",
            facts,
        )
    if oldest is None:
        return Evidence(
            eid,
            "missing",
            f"The age of the oldest logged prediction is not recorded, so the {days}-day "
            "retention cannot be checked.",
            facts,
        )
    reach = f"{round(oldest, 1):g}"  # 176.999 days reads as a typo
    if oldest >= days:
        return Evidence(
            eid,
            "met",
            f"Prediction logs reach back {reach} days, covering the {days}-day retention.",
            facts,
        )
    return Evidence(
        eid,
        "partial",
        f"Prediction logs reach back only {reach} days of the {days} days the retention "
        "requires (older logs were deleted, or logging started later).",
        facts,
    )


EVIDENCE = {
    "monitoring.log_coverage": log_coverage,
    "monitoring.performance_policy": performance_policy,
    "monitoring.drift_policy": drift_policy,
    "monitoring.fairness_policy": fairness_policy,
    "monitoring.retention_held": retention_held,
}
