"""The per-entity section: scorecards, weekly trends with bands and policy lines, the lead-time
distribution, and the deployment, incident and operations tables."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.policies import chart_bound
from mlreport.reporting import ReportContext, Section
from mlreport.reports.charts.histogram import LEAD_TIME_BINS, bin_counts
from mlreport.reports.charts.numbers import finite, table_label, week_points
from mlreport.reports.delivery.facts import (
    DORA_FOUR,
    MAX_ROWS,
    OPERATIONS,
    Facts,
    MetricSpec,
    facts,
)
from mlreport.reports.delivery.grading import band_segments, levels_for
from mlreport.reports.delivery.summary import columns, summary_rows
from mlreport.times import iso


def trend(f: Facts, spec: MetricSpec, entity: str) -> dict[str, Any]:
    series = []
    for env in f.environments.get(entity, []):
        by_week = f.weekly.get((spec.metric, entity, env, spec.stat), {})
        points = week_points(f.weeks, by_week, f.small)
        series.append({"environment": env, "points": points})
    return {
        "key": spec.key,
        "metric": spec.metric,
        "stat": spec.stat,
        "label": spec.label,
        "unit": spec.unit,
        "policy": chart_bound(f.ctx.config, spec.metric, entity),
        "bands": band_segments(levels_for(f.tables, f.table, spec.metric, spec.stat)),
        "series": series,
    }


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between order statistics (numpy's and DuckDB quantile_cont)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def lead_time_distribution(f: Facts, entity: str) -> dict[str, Any]:
    levels = levels_for(f.tables, f.table, "dora.lead_time", "p50")
    if f.changes is None:
        return {"available": False, "n": 0, "bins": [], "p50": None, "p90": None, "bands": []}
    values = [
        v
        for v in f.changes.filter(pl.col("entity") == entity)["lead_time_hours"].to_list()
        if v is not None and math.isfinite(v)
    ]
    counts = bin_counts(values)
    return {
        "available": True,
        "n": len(values),
        "bins": [
            {"lo": lo, "hi": hi, "label": label, "count": c}
            for (lo, hi, label), c in zip(LEAD_TIME_BINS, counts, strict=True)
        ],
        "p50": quantile(values, 0.5),
        "p90": quantile(values, 0.9),
        "bands": band_segments(levels),
    }


def _changes_per_deployment(f: Facts, entity: str) -> dict[tuple[str, str], int]:
    if f.changes is None:
        return {}
    counts = (
        f.changes.filter(pl.col("entity") == entity).group_by(["source", "deployment_id"]).len()
    )
    return {(s, d): n for s, d, n in counts.iter_rows()}


def deployment_table(f: Facts, entity: str) -> dict[str, Any]:
    """Production deployments, newest first (other environments are only counted)."""
    mine = f.deployments.filter(pl.col("entity") == entity)
    prod = f.ctx.config.metrics.production_environments
    frame = mine.filter(pl.col("environment").is_in(prod))
    changes = _changes_per_deployment(f, entity)
    rows = [
        {
            "finished_at": iso(r["finished_at"]),
            "environment": r["environment"],
            "source": r["source"],
            "deployment_id": r["deployment_id"],
            "version": r["version"],
            "commit_sha": r["commit_sha"],
            "model_version": r["model_version"],
            "status": r["status"],
            "kind": r["kind"],
            "trigger": r["trigger"],
            "changes": changes.get((r["source"], r["deployment_id"])) if changes else None,
        }
        for r in frame.head(MAX_ROWS).iter_rows(named=True)
    ]
    statuses = frame.group_by("status").len().sort("status")
    return {
        "total": frame.height,
        "hidden": max(frame.height - MAX_ROWS, 0),
        "other_environments": mine.height - frame.height,
        "by_status": {s: n for s, n in statuses.iter_rows()},
        "rows": rows,
    }


def incident_table(f: Facts, entity: str) -> dict[str, Any]:
    frame = f.incidents.filter(pl.col("entity") == entity)
    rows = []
    for r in frame.head(MAX_ROWS).iter_rows(named=True):
        restore = None
        if r["resolved_at"] is not None:
            restore = (r["resolved_at"] - r["detected_at"]).total_seconds() / 3600
        rows.append(
            {
                "detected_at": iso(r["detected_at"]),
                "resolved_at": iso(r["resolved_at"]),
                "hours_to_restore": restore,
                "environment": r["environment"],
                "severity": r["severity"],
                "title": r["title"],
                "source": r["source"],
                "incident_id": r["incident_id"],
                "cause_deployment_id": r["cause_deployment_id"],
            }
        )
    return {
        "total": frame.height,
        "hidden": max(frame.height - MAX_ROWS, 0),
        "open": frame.filter(pl.col("resolved_at").is_null()).height,
        "rows": rows,
    }


def operations(f: Facts, entity: str) -> list[dict[str, Any]]:
    """Ops and rework metrics: one row per metric and environment, stats side by side."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    order = {m: i for i, (m, _) in enumerate(OPERATIONS)}
    labels = dict(OPERATIONS)
    for (metric, ent, env, stat), r in f.rows.items():
        if ent != entity or metric not in labels:
            continue
        item = out.setdefault(
            (metric, env),
            {
                "metric": metric,
                "label": labels[metric],
                "environment": env,
                "unit": r["unit"],
                "n": r["n"],
                "stats": {},
                "value": None,
                "band": None,
            },
        )
        if stat:
            item["stats"][stat] = finite(r["value"])
        else:
            item["value"] = finite(r["value"])
            item["band"] = r["band"]
        item["n"] = r["n"] if item["n"] is None else max(item["n"], r["n"] or 0)
    return [out[k] for k in sorted(out, key=lambda k: (order[k[0]], k[1] or ""))]


class Entities(Section):
    name = "entities"
    title = "Per entity"
    template = "delivery/entities.html.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        cards = summary_rows(f)
        entities = []
        for entity in f.entities:
            info = f.info.get(entity, {})
            entities.append(
                {
                    "name": entity,
                    "kind": info.get("kind"),
                    "owner": info.get("owner"),
                    "team": info.get("team"),
                    "environments": f.environments.get(entity, []),
                    "scorecards": [c for c in cards if c["entity"] == entity],
                    "trends": [trend(f, s, entity) for s in DORA_FOUR],
                    "lead_time": lead_time_distribution(f, entity),
                    "deployments": deployment_table(f, entity),
                    "incidents": incident_table(f, entity),
                    "operations": operations(f, entity),
                }
            )
        return {
            "weeks": rf.periods_json(f.weeks),
            "small_sample": f.small,
            "band_table": f.table,
            "band_table_label": table_label(f.table),
            "max_rows": MAX_ROWS,
            "columns": columns(),
            "entities": entities,
        }
