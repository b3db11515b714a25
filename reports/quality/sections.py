"""The sections of the ``quality`` report and the report type."""

from __future__ import annotations

from typing import Any

from mlreport import report_facts as rf
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports.quality.facts import NOTE_KINDS
from mlreport.reports.quality.model import facts


def scorecard_row(m: dict[str, Any]) -> dict[str, Any]:
    perf = m["performance"]
    first = perf["headline"][0] if perf["headline"] else None
    return {
        "log": m["log"],
        "entity": m["entity"],
        "task": m["task"],
        "owner": m["owner"],
        "team": m["team"],
        "risk_tier": m["risk_tier"],
        "rows": m["counts"]["rows"] if m["counts"] else None,
        "labelled_share": perf["labelled_share"],
        "primary": first,
        "findings": m["findings"],
    }


class Summary(Section):
    name = "summary"
    title = "Scorecard"
    template = "quality/summary.html.j2"
    markdown = "quality/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        rows = [scorecard_row(m) for m in f.models]
        return dict(
            window=rf.window_json(ctx),
            families=dict(f.installed),
            failed_families=dict(sorted(f.failed.items())),
            models=rows,
            totals={
                "models": len(rows),
                "policy_failures": sum(len(r["findings"]["policy_failures"]) for r in rows),
                "drifted_features": sum(len(r["findings"]["drifted"]) for r in rows),
                "models_with_failures": sum(1 for r in rows if r["findings"]["policy_failures"]),
            },
            note_count=len(f.notes),
        )


class Models(Section):
    name = "models"
    title = "Per model"
    template = "quality/models.html.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(
            weeks=rf.periods_json(f.weeks),
            small_sample=ctx.config.metrics.small_sample,
            min_group_size=ctx.config.metrics.min_group_size,
            models=f.models,
        )


class Notes(Section):
    name = "notes"
    title = "Notes"
    template = "quality/notes.html.j2"
    markdown = "quality/notes.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return dict(notes=f.notes, counts=rf.count_kinds(f.notes), kinds=NOTE_KINDS)


class QualityReport(ReportType):
    name = "quality"
    title = "Model quality"
    sections = (Summary, Models, Notes)
    inputs = ("prediction_logs", "entities")
    needs = (
        MetricNeed("performance.*", details=True),
        MetricNeed("drift.*", details=True),
        MetricNeed("fairness.*"),
        MetricNeed("explain.*"),
        MetricNeed("performance.*", by="week"),
        MetricNeed("drift.*", by="week"),
    )
