"""The ``models`` report: the model registry as a governance record.

Sections: the registry inventory (owner, description, risk tier, the version in production and
since when), one article per model (lineage of each production version — version → run →
params, metrics, git commit, dataset digests → deployments — the promotion and rollback
history, and lifecycle metrics with monthly trends), and hygiene findings. Numbers come from
the ``lifecycle`` family as stored with the metrics run (values and the registry history it
published) and from the registry tables (:mod:`mlreport.reports.models_data`). Everything is
computed once per report into ``ctx.cache`` and ordered on fixed keys, so the same warehouse,
config and ``as_of`` give byte-identical HTML, JSON and Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from markupsafe import Markup

from mlreport import hookimpl
from mlreport import report_facts as rf
from mlreport.metrics import Window, canonical_dimensions
from mlreport.policies import PolicyResult
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports import models_data as md
from mlreport.reports.charts.numbers import finite
from mlreport.reports.charts.svg import _no_data
from mlreport.reports.charts.trend import Point, Series, TrendSpec, trend_chart
from mlreport.reports.models_registry import Registry, registry
from mlreport.times import iso

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# key, metric, stat, label, unit
KPIS = (
    ("promotions", "lifecycle.promotions", None, "Promotions", "count"),
    ("rollbacks", "lifecycle.rollbacks", None, "Rollbacks", "count"),
    ("days_since_promotion", "lifecycle.days_since_promotion", None, "Since last move", "days"),
    ("model_lead_time", "lifecycle.model_lead_time", "p50", "Lead time (median)", "hours"),
    ("run_success_rate", "lifecycle.run_success_rate", None, "Run success", "ratio"),
    ("governed_share", "lifecycle.governed_share", None, "Governed", "ratio"),
    ("versions_created", "lifecycle.versions_created", None, "Versions created", "count"),
)
# chart key -> (label, unit, [(series name, metric, stat)])
TRENDS = (
    (
        "moves",
        "Production moves",
        "count",
        (("promotions", "lifecycle.promotions", None), ("rollbacks", "lifecycle.rollbacks", None)),
    ),
    ("versions", "Versions created", "count", (("versions", "lifecycle.versions_created", None),)),
    (
        "lead_time",
        "Model lead time (median)",
        "hours",
        (("median", "lifecycle.model_lead_time", "p50"),),
    ),
    ("runs", "Run success rate", "ratio", (("success", "lifecycle.run_success_rate", None),)),
)
FINDING_KINDS = {
    "no_metrics": "Lifecycle metrics unavailable",
    "ungoverned": "Production versions missing owner, description or approval",
    "no_commit": "Training runs without a git commit",
    "missing_run": "Training runs not in the warehouse",
    "no_production": "Models with nothing in production",
    "unknown_since": "Production versions with no recorded promotion",
    "dataset_tag": "Unreadable dataset tags",
}

Key = rf.Key
EMPTY_VERSIONS = {
    "source": pl.String,
    "name": pl.String,
    "version": pl.String,
    "approval_tag": pl.String,
}


# -- shared facts -----------------------------------------------------------------------------


@dataclass
class Facts:
    ctx: ReportContext
    months: list[Window]
    registry: Registry
    names: list[str]
    info: dict[str, dict[str, Any]]
    has_lifecycle: bool
    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    monthly: dict[Key, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    policies: dict[Key, PolicyResult] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)


def facts(ctx: ReportContext) -> Facts:
    """The facts for ``ctx``, cached on it so the sections share one computation."""
    if "models_facts" not in ctx.cache:
        ctx.cache["models_facts"] = _collect(ctx)
    return ctx.cache["models_facts"]


def _collect(ctx: ReportContext) -> Facts:
    has_lifecycle = rf.installed("lifecycle")
    found = registry(ctx) if has_lifecycle else None
    reg = found or Registry([], pl.DataFrame(schema=EMPTY_VERSIONS), {})
    names = [n for n in reg.names if ctx.entities is None or n in ctx.entities]
    table = rf.metric_table(ctx, ("lifecycle.",), by="month")
    f = Facts(
        ctx=ctx,
        months=table.periods,
        registry=reg,
        names=names,
        info=md.entity_info(ctx.warehouse),
        has_lifecycle=has_lifecycle,
    )
    if f.has_lifecycle and names:
        f.rows = table.rows
        f.monthly = table.series
        f.policies = rf.policy_outcomes(ctx, table.frame)
    for family, error in rf.failed_families(ctx, ("lifecycle",)).items():
        f.findings.append(
            _finding(
                "no_metrics", None, f"The {family} metrics failed, so this report is empty: {error}"
            )
        )
    if not f.has_lifecycle:
        f.findings.append(
            _finding(
                "no_metrics",
                None,
                "No plugin provides lifecycle.* metrics or the registry history they publish; "
                "the model parts of this report are empty.",
            )
        )
    for name in names:
        f.models.append(model(f, name))
    rf.sort_notes(f.findings, FINDING_KINDS, "model")
    return f


def _finding(kind: str, model: str | None, message: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "model": model, "message": message, **extra}


# -- one model --------------------------------------------------------------------------------


def kpis(f: Facts, name: str) -> list[dict[str, Any]]:
    out = []
    for key, metric, stat, label, unit in KPIS:
        k = (metric, name, canonical_dimensions({"stat": stat} if stat else {}))
        row = f.rows.get(k)
        p = f.policies.get(k)
        out.append(
            {
                "key": key,
                "metric": metric,
                "stat": stat,
                "label": label,
                "unit": unit,
                "value": finite(row["value"]) if row else None,
                "n": row["n"] if row else None,
                "policy": (
                    {"min": p.min, "max": p.max, "severity": p.severity, "passed": p.passed}
                    if p
                    else None
                ),
            }
        )
    return out


def trends(f: Facts, name: str) -> list[dict[str, Any]]:
    out = []
    for key, label, unit, series in TRENDS:
        lines = []
        for sname, metric, stat in series:
            by = f.monthly.get((metric, name, canonical_dimensions({"stat": stat} if stat else {})))
            points = []
            for w in f.months:
                r = (by or {}).get(w.start)
                points.append(
                    {
                        "start": iso(w.start),
                        "end": iso(w.end),
                        "value": finite(r["value"]) if r else None,
                        "n": r["n"] if r else None,
                    }
                )
            lines.append({"name": sname, "metric": metric, "stat": stat, "points": points})
        out.append({"key": key, "label": label, "unit": unit, "series": lines})
    return out


def model(f: Facts, name: str) -> dict[str, Any]:
    ctx = f.ctx
    end = ctx.window.end
    row = md.inventory_row(f.registry, f.info, name, end)
    row["kpis"] = kpis(f, name)
    row["trends"] = trends(f, name)
    row["lineage"] = [
        md.lineage(ctx.warehouse, f.registry, held, name, end) for held in row["production"]
    ]
    row["history"] = md.history(f.registry, name, ctx.window.start, end)
    _model_findings(f, row)
    return row


def _model_findings(f: Facts, m: dict[str, Any]) -> None:
    name = m["name"]
    if not m["production"]:
        f.findings.append(_finding("no_production", name, f"{name} has no production version."))
    for lin in m["lineage"]:
        v = f"{name} version {lin['version']} ({lin['alias']})"
        missing = [k for k, ok in lin["governance"].items() if not ok]
        if missing:
            words = {"owner": "an owner", "description": "a description", "approval": "approval"}
            tag = f.registry.approval_tag(lin["source"])
            f.findings.append(
                _finding(
                    "ungoverned",
                    name,
                    f"{v} is in production without "
                    + _join([words[k] for k in missing])
                    + (f" (tag {tag!r})" if "approval" in missing else "")
                    + ".",
                    version=lin["version"],
                    missing=missing,
                )
            )
        if lin["since"] is None:
            f.findings.append(
                _finding(
                    "unknown_since",
                    name,
                    f"{v}: no promotion is recorded in the alias history; the registry snapshot "
                    "says it is in production.",
                    version=lin["version"],
                )
            )
        run = lin["run"]
        for problem in run["dataset_problems"] if run else []:
            f.findings.append(
                _finding("dataset_tag", name, f"{v}, run {run['run_id']}: {problem}.")
            )
    for r in md.runs_without_commit(f.ctx.warehouse, [name]):
        kind = "missing_run" if r["missing"] else "no_commit"
        text = (
            f"{name} version {r['version']}: training run {r['run_id']} is not in the warehouse "
            "(deleted, or its experiment is not synced)."
            if r["missing"]
            else f"{name} version {r['version']}: training run {r['run_name'] or r['run_id']} "
            "has no mlflow.source.git.commit tag, so its code cannot be traced."
        )
        f.findings.append(_finding(kind, name, text, version=r["version"], run_id=r["run_id"]))


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# -- charts -----------------------------------------------------------------------------------


def month_label(iso_start: str) -> str:
    """``2026-04-01T00:00:00Z`` -> ``Apr 2026``; a partial first month shows its day."""
    day = int(iso_start[8:10])
    text = f"{MONTHS[int(iso_start[5:7]) - 1]} {iso_start[:4]}"
    return text if day == 1 else f"{day} {text}"


def trend_svg(trend: dict[str, Any], subject: str) -> Markup:
    """One monthly lifecycle trend (several series share an axis)."""
    label = f"{trend['label']} per month, {subject}"
    spec = TrendSpec(
        label=label,
        unit=trend["unit"],
        series=[
            Series(s["name"], [Point(month_label(p["start"]), p["value"]) for p in s["points"]])
            for s in trend["series"]
        ],
    )
    if not spec.series or not spec.series[0].points:
        return _no_data(400, 70, label, "No data in this window")
    return trend_chart(spec)


# -- sections ---------------------------------------------------------------------------------


class Inventory(Section):
    name = "inventory"
    title = "Registry inventory"
    template = "models/inventory.html.j2"
    markdown = "models/inventory.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        keep = ("name", "owner", "team", "risk_tier", "description", "sources", "versions")
        rows = []
        for m in f.models:
            kp = {k["key"]: k for k in m["kpis"]}
            rows.append(
                {
                    **{k: m[k] for k in keep},
                    "latest_version": m["latest_version"],
                    "production": m["production"],
                    "promotions": kp["promotions"]["value"],
                    "rollbacks": kp["rollbacks"]["value"],
                    "governed_share": kp["governed_share"]["value"],
                    "findings": sum(1 for x in f.findings if x["model"] == m["name"]),
                }
            )
        prod = [p for m in f.models for p in m["production"]]
        return dict(
            window=rf.window_json(ctx),
            models=rows,
            totals={
                "models": len(rows),
                "in_production": sum(1 for m in f.models if m["production"]),
                "production_versions": len(prod),
                "promotions": sum(m["history"]["promotions"] for m in f.models),
                "rollbacks": sum(m["history"]["rollbacks"] for m in f.models),
                "findings": len(f.findings),
            },
            has_lifecycle=f.has_lifecycle,
        )


class Models(Section):
    name = "models"
    title = "Per model"
    template = "models/models.html.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(
            months=rf.periods_json(f.months),
            limits={
                "params": md.MAX_PARAMS,
                "metrics": md.MAX_METRICS,
                "deployments": md.MAX_DEPLOYMENTS,
                "history": md.MAX_HISTORY,
            },
            models=f.models,
        )


class Hygiene(Section):
    name = "hygiene"
    title = "Hygiene findings"
    template = "models/hygiene.html.j2"
    markdown = "models/hygiene.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(findings=f.findings, counts=rf.count_kinds(f.findings), kinds=FINDING_KINDS)


class ModelsReport(ReportType):
    name = "models"
    title = "Model registry and lifecycle"
    sections = (Inventory, Models, Hygiene)
    inputs = (
        "registered_models",
        "model_versions",
        "model_events",
        "runs",
        "deployments",
        "entities",
    )
    needs = (MetricNeed("lifecycle.*", details=True), MetricNeed("lifecycle.*", by="month"))


@hookimpl
def register_reports(register):
    register("models", ModelsReport)


@hookimpl
def register_template_helpers(register):
    register("models_trend_chart", trend_svg)
