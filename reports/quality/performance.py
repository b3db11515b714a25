"""The performance part of one model: headline values, versions, weekly trends, the
confusion matrix and the calibration curve (the last two as the ``performance`` family
published them)."""

from __future__ import annotations

from typing import Any

from mlreport.metrics import canonical_dimensions
from mlreport.policies import chart_bound, outcome
from mlreport.prediction_logs import PredictionLog
from mlreport.reports.charts.numbers import finite, week_points
from mlreport.reports.quality.facts import (
    Facts,
    _entity_rows,
    _no_values,
    _note,
    cell,
    sql_failed,
)
from mlreport.reports.quality.labels import HEADLINE, TRENDS, label_of, unit_of


def performance(f: Facts, log: PredictionLog, counts: dict[str, int] | None) -> dict[str, Any]:
    entity = log.entity
    names = HEADLINE.get(log.task, HEADLINE["classification"])
    headline = [
        c for c in (cell(f, f"performance.{n}", entity, {}) for n in names) if c is not None
    ]
    share = cell(f, "performance.labelled_share", entity, {})
    if share is None and counts and counts["rows"]:
        share = {
            "metric": "performance.labelled_share",
            "label": "Labelled share",
            "unit": "ratio",
            "value": counts["labelled"] / counts["rows"],
            "n": counts["rows"],
            "policy": None,
        }
    rows = _entity_rows(f, "performance.", entity)
    if not rows:
        _no_values(f, log, "performance", " (are labels present?)")
    if counts is not None and counts["rows"] and not counts["labelled"]:
        f.notes.append(
            _note(
                "no_labels",
                log,
                f"{log.log}: none of its {counts['rows']:,} rows "
                "in this window has a label yet; performance cannot be measured.",
            )
        )
    return {
        "available": bool(rows),
        "headline": headline,
        "labelled_share": share,
        "degradation": _degradation(f, rows),
        "versions": _versions(rows, names),
        "trends": [_trend(f, entity, f"performance.{n}") for n in _trend_metrics(f, log)],
    }


def _degradation(f: Facts, rows) -> list[dict[str, Any]]:
    out = []
    for metric, dims, row in rows:
        if metric == "performance.degradation" and set(dims) == {"metric"}:
            key = (metric, row["entity"], canonical_dimensions(dims))
            out.append(
                {
                    "of": dims["metric"],
                    "label": label_of("performance." + str(dims["metric"])),
                    "value": finite(row["value"]),
                    "n": row["n"],
                    "policy": outcome(f.policies.get(key)),
                }
            )
    return out


def _versions(rows, names: tuple[str, ...]) -> dict[str, Any]:
    """Headline metrics per model version (rows with a ``model_version`` dimension)."""
    by: dict[str, dict[str, Any]] = {}
    for metric, dims, row in rows:
        if set(dims) != {"model_version"}:
            continue
        v = by.setdefault(str(dims["model_version"]), {"values": {}, "n": None})
        short = metric.removeprefix("performance.")
        if short in names:
            v["values"][short] = finite(row["value"])
            v["n"] = row["n"] if v["n"] is None else max(v["n"], row["n"] or 0)
    columns = [n for n in names if any(n in v["values"] for v in by.values())]
    return {
        "columns": [
            {"key": n, "label": label_of(f"performance.{n}"), "unit": unit_of(f"performance.{n}")}
            for n in columns
        ],
        "rows": [{"model_version": k, **by[k]} for k in sorted(by)],
    }


def _trend_metrics(f: Facts, log: PredictionLog) -> list[str]:
    names = list(TRENDS.get(log.task, TRENDS["classification"]))
    for metric in sorted(f.ctx.config.policies):
        short = metric.removeprefix("performance.")
        if metric.startswith("performance.") and short not in names and short != "degradation":
            names.append(short)
    return names


def _trend(f: Facts, entity: str, metric: str) -> dict[str, Any]:
    by_week = f.weekly.get((metric, entity, "{}"), {})
    points = week_points(f.weeks, by_week, f.ctx.config.metrics.small_sample)
    return {
        "metric": metric,
        "label": label_of(metric),
        "unit": unit_of(metric),
        "policy": chart_bound(f.ctx.config, metric, entity),
        "points": points,
    }


def confusion(f: Facts, log: PredictionLog) -> dict[str, Any] | None:
    if log.task != "classification":
        return None
    counts = None if sql_failed(f, log, "confusion matrix") else f.details.confusion.get(log.log)
    if counts is None:
        return None
    total = counts["tn"] + counts["fp"] + counts["fn"] + counts["tp"]
    if counts["other"]:
        f.notes.append(
            _note(
                "confusion",
                log,
                f"{log.log}: {counts['other']:,} labelled rows "
                "have a label or prediction other than 0 or 1 and are left out of "
                "the confusion matrix.",
            )
        )
    shares = {k: counts[k] / total if total else None for k in ("tn", "fp", "fn", "tp")}
    return {**counts, "total": total, "shares": shares}


def calibration(f: Facts, log: PredictionLog) -> dict[str, Any] | None:
    if log.task != "classification":
        return None
    cal = None if sql_failed(f, log, "calibration") else f.details.calibration.get(log.log)
    if cal and cal["excluded"]:
        f.notes.append(
            _note(
                "scores",
                log,
                f"{log.log}: {cal['excluded']:,} labelled rows have "
                "no score, or one that is not a number in [0, 1]; the calibration "
                "curve leaves them out.",
            )
        )
    return cal
