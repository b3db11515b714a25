"""What every part of the ``roi`` report reads: the stored run's ``cost``, ``usage`` and ``roi``
values (for the report window and each month of it) and the detail rows those families
published with it (``cost_credits``, ``roi_settings``, ``roi_months``, ``roi_notes``).

Nothing here computes a metric: amounts are shown as stored, per currency. The only
arithmetic is presentation: a portfolio's total per currency (the stored ``cost.total`` of the
models shown plus the stored ``cost.unattributed``), never across currencies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.metrics import Window
from mlreport.reporting import ReportContext
from mlreport.reports.charts.numbers import finite
from mlreport.times import iso

FAMILIES = ("cost", "usage", "roi")
ALL = "(all)"  # the cost family's entity of figures about the whole bill
IDLE = "__idle__"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AMOUNTS = ("total", "billed", "list", "savings", "shared")
ROI = ("value", "tco", "net", "roi", "payback_months", "npv")
EFFICIENCY = ("cpu_efficiency", "ram_efficiency", "efficiency")
ALLOCATION = "allocation"  # dimensions.basis of OpenCost/Kubecost figures; the bill has none
BASIS_LABELS = {None: "bill", ALLOCATION: "allocated (OpenCost)"}

NOTE_KINDS = {
    "family_missing": "Metric families not installed",
    "family_failed": "Metric families that failed",
    "mixed_currencies": "More than one currency",
    "credits": "Credits, refunds and corrections",
    "unattributed": "Unattributed cost",
    "no_cost": "No cloud cost",
    "two_bases": "Bill and allocation",
    "no_predictions": "No predictions for cost per 1,000",
    "no_value_settings": "ROI not computed",
    "roi": "ROI figures left out or qualified",
    "no_usage": "No utilisation data",
    "scoped": "Portfolio figures left out",
}


@dataclass
class Facts:
    months: list[Window]
    rows: dict[rf.Key, dict[str, Any]]
    series: dict[rf.Key, dict[Any, dict[str, Any]]]
    installed: dict[str, bool]
    failed: dict[str, str]
    settings: dict[str, dict[str, Any]]
    flows: dict[str, list[dict[str, Any]]]
    roi_notes: list[dict[str, Any]]
    credits: list[dict[str, Any]]
    models: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def month_label(start: Any) -> str:
    return f"{MONTHS[start.month - 1]} {start.year}"


def facts(ctx: ReportContext) -> Facts:
    """Everything the sections show, read once per report."""
    if "roi" not in ctx.cache:
        ctx.cache["roi"] = _build(ctx)
    return ctx.cache["roi"]


def _build(ctx: ReportContext) -> Facts:
    table = rf.metric_table(ctx, ("cost.", "usage.", "roi."), by="month")
    f = Facts(
        months=table.periods,
        rows=table.rows,
        series=table.series,
        installed={fam: rf.installed(fam) for fam in FAMILIES},
        failed=rf.failed_families(ctx, FAMILIES),
        settings={r["entity"]: r for r in _detail(ctx, "roi_settings", windowed=False)},
        flows={},
        roi_notes=_roi_notes(ctx),
        credits=_detail(ctx, "cost_credits"),
    )
    for r in _detail(ctx, "roi_months"):
        f.flows.setdefault(r["entity"], []).append(r)
    from mlreport.reports.roi.model import model_facts
    from mlreport.reports.roi.notes import portfolio_notes

    info = rf.entity_info(ctx)
    f.models = [model_facts(f, name, info.get(name, {})) for name in _entities(ctx, f)]
    f.notes = portfolio_notes(ctx, f)
    return f


def _detail(ctx: ReportContext, name: str, windowed: bool = True) -> list[dict[str, Any]]:
    """A published table's rows (for the report window when it has windows), in order."""
    frame = ctx.detail(name)
    if frame is None:
        return []
    if windowed:
        frame = frame.filter(
            (pl.col("window_start") == ctx.window.start) & (pl.col("window_end") == ctx.window.end)
        )
    if ctx.entities and "entity" in frame.columns:
        frame = frame.filter(pl.col("entity").is_in(ctx.entities) | pl.col("entity").is_null())
    return frame.to_dicts()


def _roi_notes(ctx: ReportContext) -> list[dict[str, Any]]:
    frame = ctx.detail("roi_notes")
    if frame is None:
        return []
    here = (pl.col("window_start") == ctx.window.start) & (pl.col("window_end") == ctx.window.end)
    frame = frame.filter(pl.col("window_start").is_null() | here)
    if ctx.entities:
        frame = frame.filter(pl.col("entity").is_in(ctx.entities))
    rows = frame.unique(["entity", "note"], keep="first", maintain_order=True).to_dicts()
    return sorted(rows, key=lambda r: (r["entity"], r["note"]))


def _entities(ctx: ReportContext, f: Facts) -> list[str]:
    """Those asked for, else every entity with a cost, usage or roi value in the window or
    a month of it, or with ROI settings; never the bill-wide pseudo-entities."""
    if ctx.entities:
        return sorted(ctx.entities)
    names = {e for (_, e, _) in [*f.rows, *f.series]} | set(f.settings)
    return sorted(n for n in names if n != ALL and not n.startswith("__"))


def value_of(f: Facts, metric: str, entity: str, **dims: Any) -> dict[str, Any] | None:
    """One stored value of the report window with its ``n`` and unit, or None."""
    row = f.rows.get(rf.key_of(metric, entity, dims))
    if row is None:
        return None
    return {"value": finite(row["value"]), "n": row["n"], "unit": row["unit"]}


def currencies(f: Facts, metric: str, entity: str, basis: str | None = None) -> list[str]:
    """The currencies ``metric`` has values in for ``entity`` (window or months), on one cost
    basis: the bill (no ``basis`` dimension) unless ``basis`` names another."""
    found = set()
    for m, e, dims in [*f.rows, *f.series]:
        d = json.loads(dims)
        if m == metric and e == entity and d.get("basis") == basis:
            cur = d.get("currency")
            if cur is not None:
                found.add(cur)
    return sorted(found)


def categories(f: Facts, entity: str, currency: str, basis: str | None = None) -> list[str]:
    """Service categories of ``entity``'s cost in ``currency`` on one basis, by name."""
    found = set()
    for m, e, dims in [*f.rows, *f.series]:
        d = json.loads(dims)
        mine = m == "cost.total" and e == entity and d.get("currency") == currency
        if mine and d.get("basis") == basis and "service_category" in d:
            found.add(d["service_category"])
    return sorted(found, key=lambda c: (c is None, c or ""))


def monthly(f: Facts, metric: str, entity: str, **dims: Any) -> list[dict[str, Any]]:
    """One point per month of the window: its value and ``n`` (None: no value that month)."""
    by_month = f.series.get(rf.key_of(metric, entity, dims), {})
    points = []
    for w in f.months:
        r = by_month.get(w.start)
        points.append(
            {
                "start": iso(w.start),
                "end": iso(w.end),
                "label": month_label(w.start),
                "value": finite(r["value"]) if r else None,
                "n": r["n"] if r else None,
            }
        )
    return points
