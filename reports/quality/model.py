"""Everything the report shows about one prediction log, and the facts of the whole report
(collected once per context)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.prediction_logs import PredictionLog, prediction_logs
from mlreport.reporting import ReportContext
from mlreport.reports.charts.numbers import finite
from mlreport.reports.quality.drift import drift
from mlreport.reports.quality.facts import (
    FAMILIES,
    NOTE_KINDS,
    Facts,
    _family_notes,
    _note,
    _shared_entities,
    read_details,
    sql_failed,
)
from mlreport.reports.quality.fairness import explain, fairness
from mlreport.reports.quality.labels import label_of, unit_of
from mlreport.reports.quality.performance import calibration, confusion, performance
from mlreport.times import iso


def facts(ctx: ReportContext) -> Facts:
    """The facts for ``ctx``, cached on it so the sections share one computation."""
    if "quality_facts" not in ctx.cache:
        ctx.cache["quality_facts"] = _collect(ctx)
    return ctx.cache["quality_facts"]


def _collect(ctx: ReportContext) -> Facts:
    table = rf.metric_table(ctx, ("performance.", "drift.", "fairness."))
    weekly = rf.metric_table(ctx, ("performance.", "drift."), by="week")
    # explain rows carry the window they explain (the reference), not the report window
    explained = ctx.run.select(None, "explain.", ctx.entities) if ctx.run else table.frame
    current = pl.concat([table.frame, explained], how="vertical_relaxed")
    f = Facts(ctx, weekly.periods, prediction_logs(ctx.warehouse, ctx.entities))
    f.installed = {fam: rf.installed(fam) for fam in FAMILIES}
    f.failed = rf.failed_families(ctx, FAMILIES)
    f.rows = {rf.key(r): r for r in current.iter_rows(named=True)}
    f.weekly = weekly.series
    f.policies = rf.policy_outcomes(ctx, current)
    f.info = rf.entity_info(ctx)
    f.details = read_details(ctx)
    _family_notes(f)
    if not f.logs:
        f.notes.append(
            _note(
                "no_logs",
                None,
                "No prediction log is synced for these entities; "
                "add a `predictions` source and run `mlreport sync`.",
            )
        )
    shared = _shared_entities(f.logs)
    for log in f.logs:
        f.models.append(model(f, log))
        if log.entity in shared:
            f.notes.append(
                _note(
                    "shared_entity",
                    log,
                    f"{log.entity} is the entity of several "
                    f"logs ({', '.join(shared[log.entity])}); metric rows carry the "
                    "entity only, so each log shows the same metric values.",
                )
            )
    rf.sort_notes(f.notes, NOTE_KINDS, "log", "message")
    return f


def model(f: Facts, log: PredictionLog) -> dict[str, Any]:
    """Everything the report shows about one prediction log."""
    info = f.info.get(log.entity, {})
    m: dict[str, Any] = {
        "log": log.log,
        "entity": log.entity,
        "task": log.task,
        "owner": info.get("owner"),
        "team": info.get("team"),
        "risk_tier": info.get("risk_tier"),
        "reference": _reference(log),
    }
    m["counts"] = None if sql_failed(f, log, "row counts") else f.details.counts.get(log.log)
    m["performance"] = performance(f, log, m["counts"])
    m["confusion"] = confusion(f, log)
    m["calibration"] = calibration(f, log)
    m["drift"] = drift(f, log)
    m["fairness"] = fairness(f, log)
    m["explain"] = explain(f, log)
    m["findings"] = findings(f, log, m)
    return m


def _reference(log: PredictionLog) -> dict[str, Any]:
    window = log.reference_window()
    return {
        "kind": log.reference_kind,
        "since": iso(window.start) if window else None,
        "until": iso(window.end) if window else None,
        "files": len(log.reference_files),
    }


def findings(f: Facts, log: PredictionLog, m: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for (metric, entity, dims), p in sorted(f.policies.items()):
        if entity != log.entity or p.passed or metric.split(".")[0] not in FAMILIES:
            continue
        failures.append(
            {
                "metric": metric,
                "label": label_of(metric),
                "unit": unit_of(metric),
                "dimensions": json.loads(dims),
                "value": finite(p.value),
                "min": p.min,
                "max": p.max,
                "severity": p.severity,
            }
        )
    worst = _worst_disparity(m["fairness"])
    result = {
        "policy_failures": failures,
        "errors": sum(1 for x in failures if x["severity"] == "error"),
        "warnings": sum(1 for x in failures if x["severity"] == "warn"),
        "drifted": m["drift"]["drifted"],
        "drifted_latest": m["drift"]["drifted_latest"],
        "worst_disparity": worst,
        "small_groups": sum(len(x["small_groups"]) for x in m["fairness"]["features"]),
        "top_feature": m["explain"]["features"][0]["feature"] if m["explain"]["features"] else None,
        # families that raised: their policies were not evaluated, so nothing "passes"
        "failed_families": sorted(f.failed),
    }
    result["headline"] = headline(result, m)
    return result


def _worst_disparity(fair: dict[str, Any]) -> dict[str, Any] | None:
    """The lowest demographic parity ratio over features, else the largest equalized odds
    difference: the single number a reader should look at first."""
    for metric, pick in (
        ("fairness.demographic_parity_ratio", min),
        ("fairness.equalized_odds_difference", max),
    ):
        found = [
            (s["value"], feat["feature"], s)
            for feat in fair["features"]
            for s in feat["summaries"]
            if s["metric"] == metric and s["value"] is not None
        ]
        if found:
            value, feature, s = pick(found, key=lambda t: (t[0], t[1]))
            return {
                "metric": metric,
                "label": s["label"],
                "unit": s["unit"],
                "feature": feature,
                "value": value,
                "policy": s["policy"],
            }
    return None


def headline(r: dict[str, Any], m: dict[str, Any]) -> str:
    """One line a reader can act on."""
    parts = []
    if r["failed_families"]:
        names = ", ".join(r["failed_families"])
        parts.append(f"Not assessed: the {names} metrics failed (see the notes).")
    if r["policy_failures"]:
        names = ", ".join(
            dict.fromkeys(
                x["label"]
                + (f" ({x['dimensions']['feature']})" if "feature" in x["dimensions"] else "")
                for x in r["policy_failures"]
            )
        )
        n = len(r["policy_failures"])
        parts.append(f"{n} policy {'failure' if n == 1 else 'failures'}: {names}.")
    elif not r["failed_families"]:
        parts.append("Every policy passes.")
    latest = [x for x in r["drifted_latest"] if x not in r["drifted"]]
    if r["drifted"]:
        parts.append(f"Drifted: {', '.join(r['drifted'])}.")
    elif m["drift"]["available"] and not latest:
        parts.append("No feature drifted.")
    if latest:  # the whole window can hide a shift that started lately
        parts.append(f"Drifted in the latest week: {', '.join(latest)}.")
    w = r["worst_disparity"]
    if w:
        from mlreport.reports.charts.numbers import format_value

        parts.append(
            f"Worst disparity: {w['label'].lower()} {format_value(w['value'], w['unit'])} "
            f"by {w['feature']}."
        )
    return " ".join(parts)
