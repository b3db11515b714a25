"""What every part of the ``quality`` report reads: the stored run's values of the quality
families, the detail rows they published, the logs, entity facts and notes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from mlreport.metrics import Window, canonical_dimensions, split_window
from mlreport.policies import PolicyResult, outcome
from mlreport.prediction_logs import PredictionLog
from mlreport.reporting import ReportContext
from mlreport.reports.charts.numbers import finite
from mlreport.reports.quality.labels import label_of, unit_of

FAMILIES = ("performance", "drift", "fairness", "explain")

NOTE_KINDS = {
    "no_logs": "No prediction logs",
    "family_missing": "Metric families not installed",
    "family_failed": "Metric families that failed",
    "no_values": "No values from a metric family",
    "sql_failed": "Prediction-log queries that failed",
    "no_reference": "No reference data",
    "reference_overlap": "Windows overlapping the reference",
    "no_labels": "No labels yet",
    "scores": "Scores left out of the calibration curve",
    "confusion": "Labels or predictions that are not 0/1",
    "shared_entity": "Logs sharing an entity",
    "no_drift_policy": "Drift without a policy",
}

Key = tuple[str, str, str]  # metric, entity, canonical dimensions


@dataclass
class Facts:
    ctx: ReportContext
    weeks: list[Window]
    logs: list[PredictionLog]
    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    weekly: dict[Key, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    policies: dict[Key, PolicyResult] = field(default_factory=dict)
    installed: dict[str, bool] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    details: Details = field(default_factory=lambda: Details())


@dataclass
class Details:
    """The detail rows of the report window that the families published with the run, by
    log (and feature); empty when a family is missing, failed or published none."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift_policies: dict[str, list[str]] = field(default_factory=dict)
    drift_defaulted: dict[str, bool] = field(default_factory=dict)
    drift_features: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (log, feature) -> {week start: verdict}, for the weeks of the report window
    drift_weekly: dict[tuple[str, str], dict[Any, dict[str, Any]]] = field(default_factory=dict)
    histograms: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)  # (log, query) -> error


def read_details(ctx: ReportContext) -> Details:
    d = Details()
    for r in _rows(ctx, "performance_log_counts"):
        d.counts[r["log"]] = {"rows": r["rows"], "labelled": r["labelled"]}
    for r in _rows(ctx, "performance_confusion"):
        d.confusion[r["log"]] = {k: r[k] for k in ("tn", "fp", "fn", "tp", "labelled", "other")}
    for r in sorted(_rows(ctx, "performance_calibration"), key=lambda r: (r["log"], r["bin"])):
        cal = d.calibration.setdefault(r["log"], {"bins": [], "n": 0, "excluded": r["excluded"]})
        cal["bins"].append({k: r[k] for k in CALIBRATION_BIN})
        cal["n"] += r["count"]
    for r in _rows(ctx, "drift_policies", windowed=False):
        d.drift_policies.setdefault(r["log"], []).append(r["metric"])
        d.drift_defaulted[r["log"]] = r["defaulted"]
    for r in _rows(ctx, "drift_features"):
        d.drift_features[(r["log"], r["feature"])] = r
    weeks = {(w.start, w.end) for w in split_window(ctx.window, "week")}
    for r in _rows(ctx, "drift_features", windowed=False):
        if (r["window_start"], r["window_end"]) in weeks:
            d.drift_weekly.setdefault((r["log"], r["feature"]), {})[r["window_start"]] = r
    for r in _rows(ctx, "drift_histograms"):
        d.histograms[(r["log"], r["feature"])] = json.loads(r["histogram"])
    for name in ("performance_query_errors", "drift_query_errors"):
        for r in _rows(ctx, name):
            d.errors[(r["log"], r["query"])] = r["error"]
    return d


CALIBRATION_BIN = ("lo", "hi", "count", "mean_score", "fraction_positive")


def _rows(ctx: ReportContext, name: str, windowed: bool = True) -> list[dict[str, Any]]:
    """A published table's rows (for the report window, when it has windows)."""
    frame = ctx.detail(name)
    if frame is None:
        return []
    if windowed:
        start, end = pl.col("window_start"), pl.col("window_end")
        frame = frame.filter((start == ctx.window.start) & (end == ctx.window.end))
    return frame.to_dicts()


def sql_failed(f: Facts, log: PredictionLog, what: str) -> bool:
    """Note a published query failure of ``log`` (files moved, a bad mapping); say if any."""
    error = f.details.errors.get((log.log, what))
    if error is not None:
        f.notes.append(_note("sql_failed", log, f"{log.log}: the {what} query failed: {error}"))
    return error is not None


def _shared_entities(logs: list[PredictionLog]) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for log in logs:
        by.setdefault(log.entity, []).append(log.log)
    return {e: names for e, names in by.items() if len(names) > 1}


def _note(kind: str, log: PredictionLog | None, message: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "log": log.log if log else None,
        "entity": log.entity if log else None,
        "message": message,
    }


def _family_notes(f: Facts) -> None:
    for fam in FAMILIES:
        if not f.installed[fam]:
            f.notes.append(
                _note(
                    "family_missing",
                    None,
                    f"No plugin provides {fam}.* metrics; "
                    f"the {fam} parts of this report are empty.",
                )
            )
    for fam, error in sorted(f.failed.items()):
        f.notes.append(
            _note(
                "family_failed",
                None,
                f"The {fam} metrics failed, so their parts of this report are empty: {error}",
            )
        )


def cell(f: Facts, metric: str, entity: str, dims: dict[str, Any]) -> dict[str, Any] | None:
    """One metric value with its sample size and policy outcome, or None when not emitted."""
    key = (metric, entity, canonical_dimensions(dims))
    row = f.rows.get(key)
    if row is None:
        return None
    return {
        "metric": metric,
        "label": label_of(metric),
        "unit": unit_of(metric),
        "value": finite(row["value"]),
        "n": row["n"],
        "policy": outcome(f.policies.get(key)),
    }


def _entity_rows(f: Facts, prefix: str, entity: str) -> list[tuple[str, dict[str, Any], dict]]:
    """(metric, dimensions, row) of one family for one entity, in key order."""
    out = []
    for (metric, ent, dims), row in sorted(f.rows.items(), key=lambda kv: kv[0]):
        if ent == entity and metric.startswith(prefix):
            out.append((metric, json.loads(dims), row))
    return out


def _no_values(f: Facts, log: PredictionLog, fam: str, why: str) -> None:
    if f.installed.get(fam) and fam not in f.failed:
        f.notes.append(
            _note(
                "no_values",
                log,
                f"{log.log}: the {fam} metrics gave no values "
                f"for {log.entity} in this window{why}.",
            )
        )
