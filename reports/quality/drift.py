"""The drift part of one model: each feature's values and the family's verdict on it, and
reference-vs-current histograms of the drifted ones (as the ``drift`` family published them)."""

from __future__ import annotations

from typing import Any

from mlreport.metrics import Window, canonical_dimensions
from mlreport.policies import chart_bound
from mlreport.prediction_logs import PredictionLog
from mlreport.reports.charts.numbers import week_points
from mlreport.reports.quality.facts import (
    Facts,
    _entity_rows,
    _no_values,
    _note,
    cell,
    sql_failed,
)
from mlreport.reports.quality.labels import DRIFT_METRICS, label_of, unit_of
from mlreport.times import iso


def drift(f: Facts, log: PredictionLog) -> dict[str, Any]:
    entity = log.entity
    rows = _entity_rows(f, "drift.", entity)
    if not rows:
        _no_values(f, log, "drift", "" if log.reference_view else " (no reference configured)")
    named = [dims.get("feature") for _, dims, _ in rows if dims.get("feature") is not None]
    features = list(log.features) + sorted(set(map(str, named)) - set(log.features))
    policies = f.details.drift_policies.get(log.log, [])
    table = [_drift_feature(f, log, feat) for feat in features]
    table = [t for t in table if t["metrics"] or t["feature"] in log.features]
    if rows and f.details.drift_defaulted.get(log.log):
        f.notes.append(
            _note(
                "no_drift_policy",
                log,
                f"{log.log}: no per-feature drift.* policy is configured, so features are "
                "judged by the drift family's defaults (PSI above 0.2, Jensen–Shannon above 0.1).",
            )
        )
    drifted = [t["feature"] for t in table if t["drifted"]]
    ref = log.reference()
    if drifted and ref is None:
        f.notes.append(
            _note(
                "no_reference",
                log,
                f"{log.log}: no reference is configured, so "
                "drifted features have no reference-vs-current histograms.",
            )
        )
    trends = [_trend(f, log, t) for t in table if t["drifted"] or t["drifted_weeks"]]
    latest = [t["feature"] for t in table if t["drifted_latest"]]
    _overlap_note(f, log)
    histograms = []
    for t in table:
        if t["drifted"] and ref is not None:
            failed = sql_failed(f, log, f"histogram of {t['feature']}")
            hist = None if failed else f.details.histograms.get((log.log, t["feature"]))
            histograms.append({"feature": t["feature"], "kind": t["kind"], "histogram": hist})
    return {
        "available": bool(rows),
        "metrics": [
            {"key": m, "label": label_of(f"drift.{m}"), "unit": unit_of(f"drift.{m}")}
            for m in DRIFT_METRICS
            if any(m in t["metrics"] for t in table)
        ],
        "features": table,
        "drifted": drifted,
        "drifted_latest": latest,
        "latest_week": _week(f.weeks[-1]) if f.weeks else None,
        "trends": trends,
        "share": cell(f, "drift.share", entity, {}),
        "policies": [{"metric": p, "label": label_of(p)} for p in policies],
        "histograms": histograms,
    }


def _drift_feature(f: Facts, log: PredictionLog, feature: str) -> dict[str, Any]:
    """One feature's drift values and the drift family's verdict on it (published with the
    run), so the table agrees with drift.share by construction."""
    metrics, n = {}, None
    for m in DRIFT_METRICS:
        c = cell(f, f"drift.{m}", log.entity, {"feature": feature})
        if c is None:
            continue
        metrics[m] = {"value": c["value"], "policy": c["policy"]}
        n = c["n"] if n is None else max(n, c["n"] or 0)
    verdict = f.details.drift_features.get((log.log, feature))
    failed = list(verdict["failed"]) if verdict else []
    kind = "numeric" if feature in log.numeric else "categorical"
    if feature not in log.numeric and feature not in log.categorical:
        kind = "numeric" if "ks" in metrics or "psi" in metrics else "categorical"
    weekly = f.details.drift_weekly.get((log.log, feature), {})
    drifted_weeks = [_week(w) for w in f.weeks if (weekly.get(w.start) or {}).get("drifted")]
    latest = weekly.get(f.weeks[-1].start) if f.weeks else None
    return {
        "feature": feature,
        "kind": kind,
        "metrics": metrics,
        "n": n,
        "drifted": bool(failed),
        "failed": failed,
        "drifted_weeks": drifted_weeks,
        "drifted_latest": bool(latest and latest["drifted"]),
    }


def _week(w: Window) -> dict[str, Any]:
    return {"since": iso(w.start), "until": iso(w.end)}


def _trend(f: Facts, log: PredictionLog, t: dict[str, Any]) -> dict[str, Any]:
    """The weekly series of the metric that judges the feature (the first judging policy's
    metric it has, else PSI or Jensen–Shannon), with that policy's line."""
    judged = [p.removeprefix("drift.") for p in f.details.drift_policies.get(log.log, [])]
    fallback = "psi" if t["kind"] == "numeric" else "jensen_shannon"
    short = next((m for m in judged if m in t["metrics"]), fallback)
    metric = f"drift.{short}"
    key = (metric, log.entity, canonical_dimensions({"feature": t["feature"]}))
    points = week_points(f.weeks, f.weekly.get(key, {}), f.ctx.config.metrics.small_sample)
    return {
        "feature": t["feature"],
        "metric": metric,
        "label": f"{label_of(metric)} · {t['feature']}",
        "unit": unit_of(metric),
        "policy": chart_bound(f.ctx.config, metric, log.entity),
        "points": points,
        "drifted_weeks": t["drifted_weeks"],
    }


def _overlap_note(f: Facts, log: PredictionLog) -> None:
    ref = log.reference_window()
    window = f.ctx.window
    if ref is not None and ref.start < window.end and window.start < ref.end:
        f.notes.append(
            _note(
                "reference_overlap",
                log,
                f"{log.log}: the report window overlaps the reference "
                f"({iso(ref.start)} – {iso(ref.end)}); there, drift compares data with itself "
                "and reads low.",
            )
        )
