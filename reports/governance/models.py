"""One governance section per model: identity and declared settings, the evidence measured
for it, the compliance table per framework item and the open findings, assembled from what
the run stored (see :mod:`mlreport.reports.governance.evidence`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from mlreport import report_facts as rf
from mlreport.reporting import ReportContext
from mlreport.reports.governance.compliance import ComplianceMap, assess, load_for_config
from mlreport.reports.governance.evidence import Inputs, collect
from mlreport.reports.governance.settings import GovernanceSettings, all_settings
from mlreport.reports.models_registry import registry
from mlreport.signing import load_signer

PREFIXES = ("monitoring.", "performance.", "drift.", "fairness.")
DPIA_MAX_AGE = timedelta(days=365)  # a DPIA is reviewed at least yearly (docs say why)


def governance(ctx: ReportContext) -> dict[str, Any]:
    """Every model's governance facts, computed once per report context."""
    if "governance" not in ctx.cache:
        ctx.cache["governance"] = _collect(ctx)
    return ctx.cache["governance"]


def _collect(ctx: ReportContext) -> dict[str, Any]:
    cmap = load_for_config(ctx.config)
    declared = _declared(ctx)
    models = [
        _model(ctx, cmap, inputs, declared.get(name, {}))
        for name, inputs in model_inputs(ctx, declared).items()
    ]
    return {"map": cmap, "models": models}


def model_inputs(ctx: ReportContext, declared: dict | None = None) -> dict[str, Inputs]:
    """What each model's evidence reads, by model name: model entities and registered models
    (limited to the report's entities)."""
    settings = all_settings(ctx.config)
    reg = registry(ctx) if rf.installed("lifecycle") else None
    declared = _declared(ctx) if declared is None else declared
    names = sorted(set(declared) | set(reg.names if reg else []))
    if ctx.entities is not None:
        names = [n for n in names if n in ctx.entities]
    table = rf.metric_table(ctx, PREFIXES)
    policies = rf.policy_outcomes(ctx, table.frame)
    signer = load_signer(ctx.config)
    signing = {"signer": signer.name, "key_id": signer.key_id} if signer else {}
    signing["as_of"] = ctx.as_of
    return {
        name: Inputs(
            warehouse=ctx.warehouse,
            window=ctx.window,
            model=name,
            settings=settings.get(name),
            metrics={k: r for k, r in table.rows.items() if k[1] == name},
            policies={k: p for k, p in policies.items() if k[1] == name},
            registry=reg,
            signing=signing,
        )
        for name in names
    }


def _declared(ctx: ReportContext) -> dict[str, dict[str, Any]]:
    frame = ctx.warehouse.query(
        "SELECT name, owner, team, risk_tier, description, intended_use FROM entities "
        "WHERE kind = 'model' ORDER BY name, source"
    )
    found: dict[str, dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        found.setdefault(r["name"], r)
    return found


def _model(ctx, cmap: ComplianceMap, inputs: Inputs, entity: dict[str, Any]) -> dict[str, Any]:
    evidence = collect(inputs, list(cmap.evidence))
    assessed = assess(cmap, {i: e.status for i, e in evidence.items()})
    failures = [p for p in inputs.policies.values() if not p.passed]
    identity = {k: entity.get(k) for k in ("owner", "team", "risk_tier", "description")}
    identity["intended_use"] = entity.get("intended_use")
    findings = settings_findings(inputs.settings, identity, ctx.as_of.date())
    for e in evidence.values():
        if e.status != "met":
            findings.append(
                {
                    "kind": "evidence",
                    "ref": e.id,
                    "status": e.status,
                    "text": e.summary,
                    "action": cmap.evidence[e.id].closes,
                }
            )
    return {
        "name": inputs.model,
        "identity": identity,
        "settings": settings_json(inputs.settings),
        "evidence": [{**e.as_json(), "title": cmap.evidence[i].title} for i, e in evidence.items()],
        "compliance": [
            {
                "id": a.item.id,
                "framework": a.item.framework,
                "ref": a.item.ref,
                "title": a.item.title,
                "source": a.item.source,
                "status": a.status,
                "evidence": [
                    {"id": b.item.id, "status": b.status, "measured": b.measured}
                    for b in a.evidence
                ],
                "to_close": list(a.to_close),
            }
            for a in assessed
        ],
        "counts": {
            "evidence": _count(e.status for e in evidence.values()),
            "framework": _count(a.status for a in assessed),
        },
        "policy_failures": [
            {
                "metric": p.metric,
                "dimensions": p.dimensions,
                "value": p.value,
                "min": p.min,
                "max": p.max,
                "severity": p.severity,
            }
            for p in sorted(failures, key=lambda p: (p.metric, str(sorted(p.dimensions.items()))))
        ],
        "findings": findings,
    }


def _count(statuses) -> dict[str, int]:
    out = {"met": 0, "partial": 0, "missing": 0}
    for s in statuses:
        out[s] += 1
    return out


def settings_json(s: GovernanceSettings | None) -> dict[str, Any] | None:
    if s is None:
        return None
    out = s.model_dump(mode="json")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def settings_findings(
    s: GovernanceSettings | None, identity: dict[str, Any], today: date
) -> list[dict[str, Any]]:
    """Gaps in what the organisation declares about the model (not measurements)."""
    out: list[dict[str, Any]] = []

    def add(ref: str, text: str, action: str) -> None:
        out.append(
            {"kind": "declaration", "ref": ref, "status": "missing", "text": text, "action": action}
        )

    if not identity.get("intended_use"):
        add("intended_use", "The intended use is not declared.", "Set intended_use on the entity.")
    if not identity.get("risk_tier"):
        add("risk_tier", "The risk tier is not declared.", "Set risk_tier on the entity.")
    if s is None:
        add(
            "governance",
            "No governance settings are declared for this model.",
            "Add an [entities.governance] table (docs/governance-settings.md).",
        )
        return out
    if s.personal_data and not s.lawful_basis:
        add(
            "governance.lawful_basis",
            "The model uses personal data but no lawful basis is declared.",
            "Set governance.lawful_basis.",
        )
    if s.personal_data and not s.dpia_id:
        add(
            "governance.dpia_id",
            "The model uses personal data but no DPIA is referenced.",
            "Carry out a DPIA and set governance.dpia_id.",
        )
    if s.dpia_id and s.dpia_reviewed is None:
        add(
            "governance.dpia_reviewed",
            f"DPIA {s.dpia_id} has no review date.",
            "Set governance.dpia_reviewed to the date of the last review.",
        )
    elif s.dpia_reviewed is not None and today - s.dpia_reviewed > DPIA_MAX_AGE:
        add(
            "governance.dpia_reviewed",
            f"The DPIA was last reviewed on {s.dpia_reviewed.isoformat()}, more than a year ago.",
            "Review the DPIA and update governance.dpia_reviewed.",
        )
    if s.solely_automated and not s.human_review:
        add(
            "governance.human_review",
            "Decisions are solely automated (GDPR Art. 22) and no human review is declared.",
            "Describe who can review a decision and how in governance.human_review.",
        )
    if s.solely_automated is None and s.personal_data:
        add(
            "governance.solely_automated",
            "Whether decisions are solely automated (GDPR Art. 22) is not declared.",
            "Set governance.solely_automated to true or false.",
        )
    return out
