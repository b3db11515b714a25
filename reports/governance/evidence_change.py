"""Change-control and records evidence: promotions carry an approval given before them,
incidents were recovered, and report runs are dated and signed."""

from __future__ import annotations

from typing import Any

from mlreport.reports.governance.evidence import (
    Evidence,
    Fact,
    Inputs,
    as_tags,
    share_status,
    when,
)
from mlreport.reports.governance.settings import tag_matches

RECENT_RUNS = 5


def _approval_keys(inputs: Inputs, source: str | None) -> list[str]:
    if inputs.settings and inputs.settings.approval_tags:
        return [t.partition("=")[0] for t in inputs.settings.approval_tags]
    tag = inputs.registry.approval_tag(source) if inputs.registry and source else None
    return [tag] if tag else []


def _late(inputs: Inputs, p: dict[str, Any], keys: list[str]) -> bool:
    """Whether an approval tag of the version changed after it was promoted (approved after
    the fact)."""
    if not keys:
        return False
    key = "key" if not inputs.lacks("model_events", "key") else "CAST(detail AS JSON)->>'tag'"
    found = inputs.query(
        "SELECT count(*) AS n FROM model_events WHERE name = ? AND version = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR source = ?) "
        f"AND event = 'tag_changed' AND \"at\" > ? AND {key} IN (SELECT unnest(?::VARCHAR[]))",
        [inputs.model, p["version"], p["source"], p["source"], p["at"], keys],
    )
    return bool(found and found[0]["n"])


def _tags(inputs: Inputs, source: str | None, version: str) -> tuple[dict[str, Any], bool]:
    """The version's registry tags as last synced, and whether the registry has it."""
    found = inputs.query(
        "SELECT CAST(tags AS VARCHAR) AS tags FROM model_versions WHERE name = ? AND version = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR source = ?) ORDER BY source LIMIT 1",
        [inputs.model, version, source, source],
    )
    return (as_tags(found[0]["tags"]), True) if found else ({}, False)


def promotions(inputs: Inputs) -> list[dict[str, Any]]:
    """Each version that reached production in the window, first time only: production alias
    moves of the registry, and successful production deployments naming a model version."""
    found: dict[str, dict[str, Any]] = {}
    for m in inputs.moves():
        if not m.rollback:
            p = {"version": m.version, "at": m.at, "via": f"alias {m.alias}", "source": m.source}
            found.setdefault(m.version, p)
    w = inputs.window
    for d in inputs.query(
        "SELECT model_version, finished_at, deployment_id FROM deployments WHERE entity = ? "
        "AND environment = 'production' AND kind <> 'rollback' AND status = 'success' "
        "AND model_version IS NOT NULL AND finished_at >= ? AND finished_at < ? "
        "ORDER BY finished_at, deployment_id",
        [inputs.model, w.start, w.end],
    ):
        p = {
            "version": d["model_version"],
            "at": d["finished_at"],
            "via": f"deployment {d['deployment_id']}",
            "source": None,
        }
        if d["model_version"] not in found or p["at"] < found[d["model_version"]]["at"]:
            found[d["model_version"]] = p
    return sorted(found.values(), key=lambda p: (p["at"], p["version"]))


def approved_promotions(inputs: Inputs) -> Evidence:
    eid = "change.approved_promotions"
    promoted = promotions(inputs)
    if not promoted:
        if inputs.registry is None:
            return Evidence(
                eid,
                "missing",
                "Neither registry history (lifecycle metrics) nor production deployments of "
                "a model version are recorded for this run, so promotions cannot be checked.",
            )
        return Evidence(
            eid,
            "met",
            "No version was promoted to production in the window, so no approval was needed.",
            (Fact("Promotions to production", 0),),
        )
    rows, good = [], 0
    for p in promoted:
        tags, registered = _tags(inputs, p["source"], p["version"])
        configured = inputs.settings.approves(tags) if inputs.settings else None
        if configured is None:
            row = inputs.version_row(p["source"], p["version"]) if p["source"] else {}
            if row:
                configured = bool(row.get("approved"))
            else:
                keys = _approval_keys(inputs, None)
                configured = any(tag_matches(k, tags) for k in keys) if keys else False
        late = configured and _late(inputs, p, _approval_keys(inputs, p["source"]))
        ok = configured and not late
        good += ok
        rows.append(
            {
                "version": p["version"],
                "via": p["via"],
                "promoted_at": when(p["at"]),
                "approved": ok,
                "note": (
                    "approval tag set after the promotion"
                    if late
                    else None
                    if ok
                    else "no approval tag"
                    if registered
                    else "version not in the registry"
                ),
            }
        )
    total = len(rows)
    summary = (
        f"{good} of {total} versions promoted to production in the window carried an approval "
        "tag set before the promotion."
    )
    facts = (
        Fact("Promotions to production", total),
        Fact("Without approval", total - good, threshold="0"),
    )
    return Evidence(eid, share_status(good, total), summary, facts, tuple(rows))


def incident_recovery(inputs: Inputs) -> Evidence:
    eid = "change.incident_recovery"
    w = inputs.window
    found = inputs.query(
        "SELECT incident_id, severity, title, detected_at, resolved_at FROM incidents "
        "WHERE entity = ? AND detected_at >= ? AND detected_at < ? "
        "ORDER BY detected_at, incident_id",
        [inputs.model, w.start, w.end],
    )
    if not found:
        return Evidence(
            eid,
            "met",
            "No incident was recorded for this model in the window.",
            (Fact("Incidents", 0),),
        )
    rows = []
    for i in found:
        resolved = i["resolved_at"] is not None and i["resolved_at"] <= w.end
        hours = (
            round((i["resolved_at"] - i["detected_at"]).total_seconds() / 3600, 2)
            if resolved
            else None
        )
        rows.append(
            {
                "incident": i["incident_id"],
                "severity": i["severity"],
                "title": i["title"],
                "detected_at": when(i["detected_at"]),
                "resolved_at": when(i["resolved_at"]) if resolved else None,
                "hours_to_restore": hours,
            }
        )
    good = sum(r["resolved_at"] is not None for r in rows)
    total = len(rows)
    times = [r["hours_to_restore"] for r in rows if r["hours_to_restore"] is not None]
    facts = [Fact("Incidents", total), Fact("Still open at the window end", total - good, "", "0")]
    if times:
        facts.append(Fact("Longest time to restore", max(times), "hours"))
    summary = f"{good} of {total} incidents in the window were recovered"
    summary += f"; {total - good} still open." if good < total else "."
    return Evidence(eid, share_status(good, total), summary, tuple(facts), tuple(rows))


def signed_report_runs(inputs: Inputs) -> Evidence:
    eid = "records.signed_report_runs"
    configured = inputs.signing.get("signer")
    lacking = inputs.lacks("report_runs", "signature", "signer", "key_id")
    runs: list[dict[str, Any]] = []
    if not lacking:
        runs = inputs.query(
            "SELECT report, as_of, finished_at, signature, signer, key_id FROM report_runs "
            "WHERE as_of < ? ORDER BY as_of DESC, finished_at DESC NULLS LAST, run_id LIMIT ?",
            [inputs.signing.get("as_of", inputs.window.end), RECENT_RUNS],
        )
    rows = tuple(
        {
            "report": r["report"],
            "as_of": when(r["as_of"]),
            "signature": r["signature"] or "unsigned",
            "signer": r["signer"],
            "key_id": r["key_id"],
        }
        for r in runs
    )
    last_signed = bool(runs) and runs[0]["signature"] == "signed"
    facts = (
        Fact("Signer of this run", configured or "none configured", threshold="a signer"),
        Fact("Key id", inputs.signing.get("key_id")),
        Fact("Previous report run", "signed" if last_signed else "unsigned" if runs else "none"),
    )
    if configured and last_signed:
        status = "met"
        summary = f"This report run is signed by {configured}, and so was the previous run."
    elif configured:
        status = "partial"
        summary = f"This report run is signed by {configured}, but the previous report run was " + (
            "not signed." if runs else "not recorded."
        )
    elif last_signed:
        status = "partial"
        summary = (
            "The previous report run was signed, but this one is not: no signer is configured."
        )
    else:
        status = "missing"
        summary = "Report runs are not signed: no signing key is configured ([signing] key_file)."
    return Evidence(eid, status, summary, facts, rows)


EVIDENCE = {
    "change.approved_promotions": approved_promotions,
    "change.incident_recovery": incident_recovery,
    "records.signed_report_runs": signed_report_runs,
}
