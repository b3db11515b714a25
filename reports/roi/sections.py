"""The sections of the ``roi`` report and the report type."""

from __future__ import annotations

from typing import Any

from mlreport import report_facts as rf
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports.roi.facts import (
    ALL,
    ALLOCATION,
    IDLE,
    NOTE_KINDS,
    Facts,
    currencies,
    facts,
    value_of,
)

VERDICTS = ("pays_back", "does_not_pay_back", "net_positive", "net_negative", "not_computed")


def _totals(f: Facts) -> list[dict[str, Any]]:
    """Per currency: the models' cost, unattributed and idle cost as stored, and the bill
    (models + unattributed). Never added across currencies."""
    curs = set(currencies(f, "cost.unattributed", ALL)) | set(currencies(f, "cost.idle", IDLE))
    curs |= set(currencies(f, "cost.unattributed", ALL, ALLOCATION))
    for m in f.models:
        curs |= set(m["currencies"]) | set(m["allocated_currencies"])
    out = []
    for cur in sorted(curs):
        models = [c["total"] for m in f.models for c in m["cost"] if c["currency"] == cur]
        models = [v for v in models if v is not None]
        una = value_of(f, "cost.unattributed", ALL, currency=cur)
        share = value_of(f, "cost.unattributed_share", ALL, currency=cur)
        idle = value_of(f, "cost.idle", IDLE, currency=cur)
        idle_share = value_of(f, "cost.idle_share", IDLE, currency=cur)
        models_cost = sum(models) if models else None
        una_v = una["value"] if una else None
        out.append(
            {
                "currency": cur,
                "models": models_cost,
                "models_count": len(models),
                "unattributed": una_v,
                "unattributed_share": share["value"] if share else None,
                "idle": idle["value"] if idle else None,
                "idle_share": idle_share["value"] if idle_share else None,
                "bill": None
                if models_cost is None and una_v is None
                else (models_cost or 0.0) + (una_v or 0.0),
                "allocated": _allocated_totals(f, cur),
            }
        )
    return out


def _allocated_totals(f: Facts, cur: str) -> dict[str, Any] | None:
    """OpenCost's allocation of the same spend in ``cur``: the models' allocated cost, what no
    label claimed (idle, unallocated) and their sum; kept apart from the bill, never added."""
    models = [c["total"] for m in f.models for c in m["allocated"] if c["currency"] == cur]
    models = [v for v in models if v is not None]
    una = value_of(f, "cost.unattributed", ALL, currency=cur, basis=ALLOCATION)
    share = value_of(f, "cost.unattributed_share", ALL, currency=cur, basis=ALLOCATION)
    una_v = una["value"] if una else None
    if not models and una_v is None:
        return None
    return {
        "models": sum(models) if models else None,
        "models_count": len(models),
        "unattributed": una_v,
        "unattributed_share": share["value"] if share else None,
        "total": sum(models) + (una_v or 0.0),
    }


def _row(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": m["entity"],
        "owner": m["owner"],
        "cost": [{"currency": c["currency"], "total": c["total"]} for c in m["cost"]],
        "allocated": [{"currency": c["currency"], "total": c["total"]} for c in m["allocated"]],
        "per_1k": [{"currency": p["currency"], "value": p["value"]} for p in m["per_1k"]],
        "allocated_per_1k": [
            {"currency": p["currency"], "value": p["value"], "basis": p["basis"]}
            for p in m["allocated_per_1k"]
        ],
        "roi": m["roi"],
        "roi_currency": (m["roi"] or {}).get("currency") or "",
        "verdict": m["verdict"],
    }


class Summary(Section):
    name = "summary"
    title = "Portfolio"
    template = "roi/summary.html.j2"
    markdown = "roi/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        groups = {
            v: [m["entity"] for m in f.models if m["verdict"]["status"] == v] for v in VERDICTS
        }
        return dict(
            window=rf.window_json(ctx),
            families=dict(f.installed),
            failed_families=dict(f.failed),
            totals=_totals(f),
            models=[_row(m) for m in f.models],
            verdicts=groups,
            note_count=len(f.notes),
        )


class Models(Section):
    name = "models"
    title = "Per model"
    template = "roi/models.html.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(months=rf.periods_json(f.months), models=f.models)


class Notes(Section):
    name = "notes"
    title = "Data-quality notes"
    template = "roi/notes.html.j2"
    markdown = "roi/notes.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(notes=f.notes, counts=rf.count_kinds(f.notes), kinds=NOTE_KINDS)


class RoiReport(ReportType):
    name = "roi"
    title = "Model cost and ROI"
    sections = (Summary, Models, Notes)
    inputs = ("entities", "costs", "cost_exports", "usage", "prediction_logs")
    needs = (
        MetricNeed("cost.*", details=True),
        MetricNeed("usage.*"),
        MetricNeed("roi.*", details=True),
        MetricNeed("cost.*", by="month"),
        MetricNeed("roi.*", by="month"),
    )
