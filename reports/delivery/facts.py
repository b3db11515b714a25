"""What every section of the ``delivery`` report reads, once per report: the stored run's
``dora.*`` and ``ops.*`` values (and weekly series), the deployments, incidents and changes in
the window, entity facts and policy outcomes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.metrics import BandTables, Window, band_tables, installed_families
from mlreport.policies import PolicyResult
from mlreport.reporting import ReportContext

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

Key = tuple[str, str, str | None, str | None]  # metric, entity, environment, stat


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
    prefixes: pl.DataFrame | None  # deployments that named an abbreviated sha (dora's detail)
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
        prefixes=_in_window(ctx, "dora_sha_prefixes", shown),
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
    changes = _in_window(ctx, "dora_changes", entities)
    return (
        None if changes is None else changes.sort(["entity", "finished_at", "deployment_id", "sha"])
    )


def _in_window(ctx: ReportContext, name: str, entities: list[str]) -> pl.DataFrame | None:
    """A dora detail table's rows of deployments in the window of the shown entities."""
    rows = ctx.detail(name)
    if rows is None or not entities:
        return None
    return rows.filter(
        pl.col("entity").is_in(entities)
        & (pl.col("finished_at") >= ctx.window.start)
        & (pl.col("finished_at") < ctx.window.end)
    )


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


def _policy(f: Facts, metric: str, entity: str, dims: dict[str, Any]) -> dict[str, Any] | None:
    return rf.policy(f.policies, metric, entity, dims)
