"""The ``governance`` report: for a risk committee, per model, what is measured against what
the EU AI Act, NIST AI RMF and ISO/IEC 42001 ask for; portfolio summary first, then a section
per model, who signs the run, and the fingerprints of the inputs it read.

Everything comes from the stored run and the warehouse (docs/governance-report.md).
"""

from __future__ import annotations

from typing import Any

from mlreport import hookimpl
from mlreport import report_facts as rf
from mlreport.attestation import signature_info
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports.governance.models import governance
from mlreport.reports.governance.settings import register_entity_settings
from mlreport.signing import load_signer
from mlreport.times import iso

__all__ = ["GovernanceReport", "register_entity_settings", "register_reports"]

NAME = "governance"


class Summary(Section):
    name = "summary"
    title = "Portfolio summary"
    template = "governance/summary.html.j2"
    markdown = "governance/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        found = governance(ctx)
        rows = [
            {
                "name": m["name"],
                "risk_tier": m["identity"]["risk_tier"],
                "framework": m["counts"]["framework"],
                "evidence": m["counts"]["evidence"],
                "findings": len(m["findings"]),
                "policy_failures": len(m["policy_failures"]),
            }
            for m in found["models"]
        ]
        tiers: dict[str, int] = {}
        for r in rows:
            tier = r["risk_tier"] or "not declared"
            tiers[tier] = tiers.get(tier, 0) + 1
        return {
            "window": rf.window_json(ctx),
            "models": rows,
            "risk_tiers": dict(sorted(tiers.items())),
            "open_findings": sum(r["findings"] for r in rows),
            "policy_failures": sum(r["policy_failures"] for r in rows),
            "frameworks": sorted({f.framework for f in found["map"].framework.values()}),
        }


class Models(Section):
    name = "models"
    title = "Models"
    template = "governance/models.html.j2"
    markdown = "governance/models.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        return {"models": governance(ctx)["models"]}


class Signature(Section):
    name = "signature"
    title = "Who signed this report"
    template = "governance/signature.html.j2"
    markdown = "governance/signature.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        return {
            "this_run": signature_info(load_signer(ctx.config), NAME, ctx.as_of),
            "previous": previous_signed(ctx),
        }


def previous_signed(ctx: ReportContext) -> dict[str, Any] | None:
    """The last signed governance run with an earlier as-of: a run of the same as-of is left
    out so that re-running a report gives the same bytes."""
    if "signature" not in ctx.warehouse.columns("report_runs"):
        return None
    found = ctx.warehouse.query(
        "SELECT as_of, finished_at, signer, key_id FROM report_runs WHERE report = ? "
        "AND signature = 'signed' AND as_of < ? ORDER BY as_of DESC, finished_at DESC LIMIT 1",
        [NAME, ctx.as_of],
    ).to_dicts()
    if not found:
        return None
    r = found[0]
    return {
        "as_of": iso(r["as_of"]),
        "signed_at": iso(r["finished_at"]),
        "signer": r["signer"],
        "key_id": r["key_id"],
    }


class Appendix(Section):
    name = "inputs"
    title = "Appendix: input fingerprints"
    template = "governance/inputs.html.j2"
    markdown = "governance/inputs.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        """The manifest's fingerprints of the tables the report reads (the same call)."""
        have = set(ctx.warehouse.tables())
        return {
            "tables": [
                {"table": t, **ctx.warehouse.fingerprint(t)}
                if t in have
                else {"table": t, "rows": None, "hash": None}
                for t in GovernanceReport.inputs
            ]
        }


class GovernanceReport(ReportType):
    name = NAME
    title = "Governance report"
    sections = (Summary, Models, Signature, Appendix)
    inputs = (
        "entities",
        "registered_models",
        "model_versions",
        "model_events",
        "runs",
        "run_metrics",
        "run_inputs",
        "logged_models",
        "deployments",
        "incidents",
        "prediction_logs",
    )
    needs = (
        MetricNeed("monitoring.*"),
        MetricNeed("performance.*"),
        MetricNeed("drift.*"),
        MetricNeed("fairness.*"),
        MetricNeed("lifecycle.*", details=True),
    )


@hookimpl
def register_reports(register):
    register(NAME, GovernanceReport)
