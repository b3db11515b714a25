"""The ``delivery`` report: the DORA four per entity, trends, lead times, and data quality.

Every section's ``data()`` holds every number it shows, read from the stored metrics run
(``dora.*`` and ``ops.*`` values, the ``details.dora_changes`` the lead-time family published)
and from the ``deployments`` and ``incidents`` tables. Ordering is fixed (entity, environment,
time, id) so the output is byte-identical for the same warehouse, config and ``as_of``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport import report_facts as rf
from mlreport.config import BandLevel
from mlreport.metrics import BandTables, Window, band_tables, installed_families, iso
from mlreport.policies import PolicyResult, chart_bound
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports.charts import (
    LEAD_TIME_BINS,
    bin_counts,
    finite,
    format_value,
    lead_time_svg,
    table_label,
    trend_svg,
    week_points,
)

MAX_ROWS = 20  # rows of a deployment or incident table; the rest are counted, not shown


@dataclass(frozen=True)
class MetricSpec:
    key: str
    metric: str
    stat: str | None
    label: str
    unit: str
    noun: str  # what ``n`` counts


DORA_FOUR = (
    MetricSpec(
        "deployment_frequency",
        "dora.deployment_frequency",
        None,
        "Deployment frequency",
        "deploys/week",
        "deployments",
    ),
    MetricSpec("lead_time", "dora.lead_time", "p50", "Lead time", "hours", "changes"),
    MetricSpec(
        "change_failure_rate",
        "dora.change_failure_rate",
        None,
        "Change failure rate",
        "ratio",
        "deployments",
    ),
    MetricSpec("recovery_time", "dora.recovery_time", "p50", "Recovery time", "hours", "failures"),
)

OPERATIONS = (
    ("ops.time_to_restore", "Time to restore (incidents)"),
    ("ops.time_to_detect", "Time to detect (incidents)"),
    ("ops.automation_rate", "Automated deployments"),
    ("dora.rework_rate", "Rework rate (unplanned deployments)"),
)

NOTE_KINDS = {
    "no_metrics": "Delivery metrics unavailable",
    "unmapped_repository": "Deployments without a repository",
    "unlinked_deployments": "Deployments not linked to a commit",
    "open_failures": "Unresolved failures",
    "small_sample": "Small samples",
    "no_activity": "Entities without activity",
}

Key = tuple[str, str, str | None, str | None]  # metric, entity, environment, stat


# -- shared facts -----------------------------------------------------------------------------


@dataclass
class Facts:
    """Everything the sections draw on, computed once per report context."""

    ctx: ReportContext
    weeks: list[Window]
    rows: dict[Key, dict[str, Any]]
    weekly: dict[Key, dict[datetime, dict[str, Any]]]
    entities: list[str]
    info: dict[str, dict[str, Any]]
    environments: dict[str, list[str]]
    deployments: pl.DataFrame
    incidents: pl.DataFrame
    changes: pl.DataFrame | None
    policies: dict[rf.Key, PolicyResult]
    tables: BandTables
    has_dora: bool
    idle: list[str] = field(default_factory=list)
    unmapped: dict[str, int] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.ctx.config.metrics.bands

    @property
    def small(self) -> int:
        return self.ctx.config.metrics.small_sample


def facts(ctx: ReportContext) -> Facts:
    """The facts for ``ctx``, cached on it so the sections share one computation."""
    if "delivery_facts" not in ctx.cache:
        ctx.cache["delivery_facts"] = _collect(ctx)
    return ctx.cache["delivery_facts"]


def _collect(ctx: ReportContext) -> Facts:
    cfg = ctx.config
    table = rf.metric_table(ctx, ("dora.", "ops."))
    weekly_table = rf.metric_table(ctx, ("dora.",), by="week")
    deployments = _deployments(ctx)
    incidents = _incidents(ctx)
    rows = {_key(r): r for r in table.frame.iter_rows(named=True)}
    weekly: dict[Key, dict[datetime, dict[str, Any]]] = {}
    for by_week in weekly_table.series.values():
        for start, r in by_week.items():
            weekly.setdefault(_key(r), {})[start] = r
    active = (
        {k[1] for k, r in rows.items() if r["value"] is not None or (r["n"] or 0) > 0}
        | set(deployments["entity"].to_list())
        | set(incidents["entity"].to_list())
    )
    if ctx.entities:
        shown = sorted(set(ctx.entities))
        declared = set(ctx.entities)
    else:
        shown = sorted(active)
        declared = {e.name for e in cfg.entities}
    environments: dict[str, set[str]] = {e: set() for e in shown}
    for metric, entity, env, _ in rows:
        if metric.startswith("dora.") and env is not None and entity in environments:
            environments[entity].add(env)
    f = Facts(
        ctx=ctx,
        weeks=weekly_table.periods,
        rows=rows,
        weekly=weekly,
        entities=shown,
        info=rf.entity_info(ctx),
        environments={e: sorted(v) for e, v in environments.items()},
        deployments=deployments.filter(pl.col("entity").is_in(shown)),
        incidents=incidents.filter(pl.col("entity").is_in(shown)),
        changes=_changes(ctx, shown),
        policies=rf.policy_outcomes(ctx, table.frame),
        tables=band_tables(cfg, installed_families()),
        has_dora=rf.installed("dora"),
    )
    f.idle = sorted(declared - active)
    f.unmapped = _unmapped(ctx, f)
    return f


def _key(row: dict[str, Any]) -> Key:
    dims = json.loads(row["dimensions"] or "{}")
    return (row["metric"], row["entity"], dims.get("environment"), dims.get("stat"))


def _deployments(ctx: ReportContext) -> pl.DataFrame:
    return ctx.warehouse.query(
        "SELECT entity, environment, finished_at, source, deployment_id, version, commit_sha, "
        'model_version, status, kind, "trigger" FROM deployments '
        "WHERE finished_at >= ? AND finished_at < ? "
        "ORDER BY entity, finished_at DESC, source, deployment_id",
        [ctx.window.start, ctx.window.end],
    )


def _incidents(ctx: ReportContext) -> pl.DataFrame:
    return ctx.warehouse.query(
        "SELECT entity, environment, detected_at, resolved_at, source, incident_id, severity, "
        "cause_deployment_id, title FROM incidents "
        "WHERE detected_at >= ? AND detected_at < ? "
        "ORDER BY entity, detected_at DESC, source, incident_id",
        [ctx.window.start, ctx.window.end],
    )


def _changes(ctx: ReportContext, entities: list[str]) -> pl.DataFrame | None:
    """Per-change lead times of the deployments in the window, as the family that computed
    ``dora.lead_time`` published them (``details.dora_changes``); None when none did."""
    changes = ctx.detail("dora_changes")
    if changes is None or not entities:
        return None
    return changes.filter(
        pl.col("entity").is_in(entities)
        & (pl.col("finished_at") >= ctx.window.start)
        & (pl.col("finished_at") < ctx.window.end)
    ).sort(["entity", "finished_at", "deployment_id", "sha"])


def _unmapped(ctx: ReportContext, f: Facts) -> dict[str, int]:
    """Entities with production deployments in the window but no repository deploying them."""
    mapped = set(
        ctx.warehouse.query("SELECT DISTINCT entity FROM repo_entities")["entity"].to_list()
    )
    prod = ctx.config.metrics.production_environments
    counts = (
        f.deployments.filter(pl.col("environment").is_in(prod))
        .group_by("entity")
        .len()
        .sort("entity")
    )
    return {e: n for e, n in counts.iter_rows() if e not in mapped}


# -- grading helpers --------------------------------------------------------------------------


def levels_for(tables: BandTables, table: str, metric: str, stat: str | None) -> list[BandLevel]:
    levels = tables.tables.get(table, {})
    key = f"{metric}:{stat}" if stat and f"{metric}:{stat}" in levels else metric
    return list(levels.get(key, []))


def tone(levels: list[BandLevel], band: str | None) -> tuple[str, int | None]:
    """A colour tone (best/good/fair/poor) from the band's rank in its table, best first."""
    names = [lv.band for lv in levels]
    if band is None or band not in names:
        return "none", None
    rank = names.index(band)
    if len(names) == 1:
        return "best", rank
    return ("best", "good", "fair", "poor")[round(rank / (len(names) - 1) * 3)], rank


def band_segments(levels: list[BandLevel]) -> list[dict[str, Any]]:
    """The table as contiguous ``[lo, hi)`` segments over values >= 0 (for chart shading)."""
    if not levels:
        return []
    cuts = sorted({b for lv in levels for b in (lv.min, lv.max) if b is not None and b > 0})
    points: list[float | None] = [0.0, *cuts, None]
    grader = BandTables({"t": {"m": levels}})
    out: list[dict[str, Any]] = []
    for lo, hi in zip(points, points[1:], strict=False):
        mid = (lo + hi) / 2 if hi is not None else (lo * 2 if lo else 1.0)
        band = grader.grade("t", "m", None, mid)
        if band is None:
            continue
        if out and out[-1]["band"] == band and out[-1]["hi"] == lo:
            out[-1]["hi"] = hi
        else:
            out.append({"lo": lo, "hi": hi, "band": band, "tone": tone(levels, band)[0]})
    return out


def _policy(f: Facts, metric: str, entity: str, dims: dict[str, Any]) -> dict[str, Any] | None:
    return rf.policy(f.policies, metric, entity, dims)


# -- summary ----------------------------------------------------------------------------------


def metric_cell(f: Facts, spec: MetricSpec, entity: str, env: str | None) -> dict[str, Any]:
    row = f.rows.get((spec.metric, entity, env, spec.stat))
    levels = levels_for(f.tables, f.table, spec.metric, spec.stat)
    band = row["band"] if row else None
    band_tone, rank = tone(levels, band)
    n = row["n"] if row else None
    dims = {"environment": env, **({"stat": spec.stat} if spec.stat else {})}
    return {
        "metric": spec.metric,
        "stat": spec.stat,
        "value": finite(row["value"]) if row else None,
        "unit": (row["unit"] if row else None) or spec.unit,
        "n": n,
        "band": band,
        "band_table": row["band_table"] if row else None,
        "band_rank": rank,
        "tone": band_tone,
        "small_sample": n is not None and 0 < n < f.small,
        "policy": _policy(f, spec.metric, entity, dims) if env is not None else None,
    }


def headline(cells: dict[str, dict[str, Any]]) -> str:
    """One line a reader can act on: a policy breach, else the strongest and weakest metric."""
    labels = {s.key: s.label.lower() for s in DORA_FOUR}
    if all(c["value"] is None for c in cells.values()):
        return "No production deployments in this window."
    breaches = [(k, c) for k, c in cells.items() if c["policy"] and not c["policy"]["passed"]]
    if len(breaches) > 1:
        names = ", ".join(labels[k] for k, _ in breaches)
        return f"Breaches {len(breaches)} policies: {names}."
    if breaches:
        key, c = breaches[0]
        p = c["policy"]
        bound = (
            f"≤ {format_value(p['max'], c['unit'])}"
            if p["max"] is not None
            else f"≥ {format_value(p['min'], c['unit'])}"
        )
        return (
            f"Policy breach: {labels[key]} is {format_value(c['value'], c['unit'])} "
            f"(policy {bound})."
        )
    graded = [(k, c) for k, c in cells.items() if c["band_rank"] is not None]
    caveat = (
        " Small sample — read with care." if any(c["small_sample"] for c in cells.values()) else ""
    )
    if not graded:
        return "Not graded: no benchmark band applies to these values." + caveat
    best = min(graded, key=lambda kc: kc[1]["band_rank"])
    worst = max(graded, key=lambda kc: kc[1]["band_rank"])
    if best[1]["band_rank"] == worst[1]["band_rank"]:
        scope = "all four metrics" if len(graded) == 4 else "every graded metric"
        return f"{_cap(best[1]['band'])} on {scope}." + caveat
    k, c = worst
    return (
        f"Strongest: {labels[best[0]]} ({_cap(best[1]['band'])}). Weakest: {labels[k]} "
        f"({_cap(c['band'])}, {format_value(c['value'], c['unit'])})." + caveat
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def summary_rows(f: Facts) -> list[dict[str, Any]]:
    rows = []
    for entity in f.entities:
        info = f.info.get(entity, {})
        for env in f.environments.get(entity) or [None]:
            cells = {s.key: metric_cell(f, s, entity, env) for s in DORA_FOUR}
            rows.append(
                {
                    "entity": entity,
                    "environment": env,
                    "kind": info.get("kind"),
                    "owner": info.get("owner"),
                    "team": info.get("team"),
                    "metrics": cells,
                    "headline": headline(cells),
                }
            )
    return rows


def totals(f: Facts) -> dict[str, int]:
    """Portfolio counts for the summary strip: production deployments, changes, incidents."""
    prod = f.deployments.filter(
        pl.col("environment").is_in(f.ctx.config.metrics.production_environments)
    )
    return {
        "entities": len(f.entities),
        "deployments": prod.height,
        "failed_deployments": prod.filter(pl.col("status") != "success").height,
        "changes": f.changes.height if f.changes is not None else 0,
        "incidents": f.incidents.height,
        "open_incidents": f.incidents.filter(pl.col("resolved_at").is_null()).height,
    }


def columns() -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "metric": s.metric,
            "stat": s.stat,
            "label": s.label,
            "unit": s.unit,
            "noun": s.noun,
        }
        for s in DORA_FOUR
    ]


def legend_bands(f: Facts) -> list[dict[str, str]]:
    """The band names of the active table, best first, with their colour tones."""
    out: dict[str, str] = {}
    for s in DORA_FOUR:
        levels = levels_for(f.tables, f.table, s.metric, s.stat)
        for lv in levels:
            out.setdefault(lv.band, tone(levels, lv.band)[0])
    return [{"band": b, "tone": t} for b, t in out.items()]


class Summary(Section):
    name = "summary"
    title = "Summary"
    template = "delivery/summary.html.j2"
    markdown = "delivery/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return {
            "window": {"since": iso(ctx.window.start), "until": iso(ctx.window.end)},
            "window_days": ctx.window.days,
            "as_of": iso(ctx.as_of),
            "band_table": f.table,
            "band_table_label": table_label(f.table),
            "small_sample": f.small,
            "bands": legend_bands(f),
            "columns": columns(),
            "rows": summary_rows(f),
            "note_count": len(quality_notes(f)),
            "totals": totals(f),
        }


# -- per entity -------------------------------------------------------------------------------


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
            "weeks": [{"start": iso(w.start), "end": iso(w.end)} for w in f.weeks],
            "small_sample": f.small,
            "band_table": f.table,
            "band_table_label": table_label(f.table),
            "max_rows": MAX_ROWS,
            "columns": columns(),
            "entities": entities,
        }


# -- data quality -----------------------------------------------------------------------------


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _note(kind: str, entity: str | None, count: int | None, message: str, env=None) -> dict:
    return {"kind": kind, "entity": entity, "environment": env, "count": count, "message": message}


def quality_notes(f: Facts) -> list[dict[str, Any]]:
    """Why a number may mislead: missing links, open failures, thin samples, idle entities."""
    notes = []
    if not f.has_dora:
        notes.append(
            _note(
                "no_metrics",
                None,
                None,
                "No plugin provides dora.* metrics; only deployments and incidents are shown.",
            )
        )
    for entity, n in f.unmapped.items():
        notes.append(
            _note(
                "unmapped_repository",
                entity,
                n,
                f"{entity} has {plural(n, 'production deployment')} but no repository is "
                "mapped to it, so lead time cannot be computed. Name it as the entity of the "
                "git source that builds it.",
            )
        )
    for (metric, entity, env, _), r in f.rows.items():
        count = int(r["value"] or 0)
        if entity not in f.entities or not count:
            continue
        if metric == "dora.unlinked_deployments":
            notes.append(
                _note(
                    "unlinked_deployments",
                    entity,
                    count,
                    f"{plural(count, 'production deployment')} of {entity} ({env}) "
                    + (
                        "names a commit that is not in any synced repository; its changes are "
                        if count == 1
                        else "name commits that are not in any synced repository; their changes "
                        "are "
                    )
                    + "missing from lead time.",
                    env,
                )
            )
        elif metric == "dora.open_failures":
            notes.append(
                _note(
                    "open_failures",
                    entity,
                    count,
                    f"{plural(count, 'failed deployment')} of {entity} ({env}) "
                    f"{'is' if count == 1 else 'are'} not resolved yet; recovery time leaves "
                    f"{'it' if count == 1 else 'them'} out until resolved.",
                    env,
                )
            )
    for entity in f.entities:
        for env in f.environments.get(entity, []):
            thin = [
                (s, f.rows[(s.metric, entity, env, s.stat)]["n"])
                for s in DORA_FOUR
                if (s.metric, entity, env, s.stat) in f.rows
                and 0 < (f.rows[(s.metric, entity, env, s.stat)]["n"] or 0) < f.small
            ]
            if thin:
                parts = ", ".join(
                    f"{s.label.lower()} ({plural(n, s.noun.rstrip('s'))})" for s, n in thin
                )
                notes.append(
                    _note(
                        "small_sample",
                        entity,
                        len(thin),
                        f"{entity} ({env}): {parts} — fewer than {f.small}; bands are indicative.",
                        env,
                    )
                )
    for entity in f.idle:
        notes.append(
            _note(
                "no_activity",
                entity,
                0,
                f"{entity} had no deployments or incidents in this window.",
            )
        )
    order = list(NOTE_KINDS)
    return sorted(
        notes, key=lambda n: (order.index(n["kind"]), n["entity"] or "", n["environment"] or "")
    )


class Quality(Section):
    name = "quality"
    title = "Data-quality notes"
    template = "delivery/quality.html.j2"
    markdown = "delivery/quality.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        notes = quality_notes(f)
        counts: dict[str, int] = {}
        for n in notes:
            counts[n["kind"]] = counts.get(n["kind"], 0) + 1
        return {
            "notes": notes,
            "counts": counts,
            "kinds": NOTE_KINDS,
            "small_sample": f.small,
        }


class DeliveryReport(ReportType):
    name = "delivery"
    title = "Software delivery performance"
    sections = (Summary, Entities, Quality)
    inputs = ("commits", "deployments", "incidents", "entities")
    needs = (
        MetricNeed("dora.*", details=True),
        MetricNeed("ops.*"),
        MetricNeed("dora.*", by="week"),
    )


@hookimpl
def register_reports(register):
    register("delivery", DeliveryReport)


@hookimpl
def register_template_helpers(register):
    register("trend_chart", trend_svg)
    register("lead_time_chart", lead_time_svg)
