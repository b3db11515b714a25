"""Rollback and delivery evidence: the previous production version is still there to go back
to, a rollback was done (and how long it took), and production deployments went through
staging and a progressive strategy."""

from __future__ import annotations

from typing import Any

from mlreport.reports.governance.evidence import Evidence, Fact, Inputs, share_status, when

PROGRESSIVE = ("canary", "blue_green")


def _previous_from_registry(inputs: Inputs) -> tuple[str, str, str, Any] | None:
    """(source, previous version, version that replaced it, when) of the last production
    alias move that left a version, or None."""
    if inputs.registry is None:
        return None
    before = [
        m
        for m in inputs.registry.moves
        if m.name == inputs.model and m.at < inputs.window.end and m.previous is not None
    ]
    if not before:
        return None
    last = before[-1]
    return last.source, last.previous, last.version, last.at


def _previous_from_deployments(inputs: Inputs) -> tuple[str | None, str, str, Any] | None:
    """The same from successful production deployments, when the registry history does not
    reach back to a move (a registry synced once only knows the current aliases)."""
    found = inputs.query(
        "SELECT model_version AS version, finished_at FROM deployments WHERE entity = ? "
        "AND environment = 'production' AND status = 'success' AND model_version IS NOT NULL "
        "AND finished_at < ? ORDER BY finished_at, deployment_id",
        [inputs.model, inputs.window.end],
    )
    if not found:
        return None
    current = found[-1]["version"]
    earlier = [d for d in found if d["version"] != current]
    if not earlier:
        return None
    first_current = next(
        d
        for d in found
        if d["version"] == current and d["finished_at"] > earlier[-1]["finished_at"]
    )
    return None, earlier[-1]["version"], current, first_current["finished_at"]


def _registered(inputs: Inputs, source: str | None, version: str) -> dict[str, Any] | None:
    cols = "status" + (
        "" if inputs.lacks("model_versions", "artifacts_present") else ", artifacts_present"
    )
    found = inputs.query(
        f"SELECT {cols} FROM model_versions WHERE name = ? AND version = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR source = ?) ORDER BY source LIMIT 1",
        [inputs.model, version, source, source],
    )
    return found[0] if found else None


def previous_version_loadable(inputs: Inputs) -> Evidence:
    eid = "rollback.previous_version_loadable"
    found = _previous_from_registry(inputs) or _previous_from_deployments(inputs)
    if found is None:
        return Evidence(
            eid,
            "missing",
            "No earlier production version is recorded for this model (neither a registry "
            "alias move nor a production deployment), so there is no version to roll back to.",
        )
    source, previous, replaced_by, at = found
    row = _registered(inputs, source, previous)
    no_column = inputs.lacks("model_versions", "artifacts_present")
    artifacts = None if row is None else row.get("artifacts_present")
    detail = {
        "version": previous,
        "replaced_by": replaced_by,
        "replaced_at": when(at),
        "registered": row is not None,
        "status": row.get("status") if row else None,
        "artifacts_present": artifacts,
    }
    if row is None:
        status, summary = (
            "missing",
            f"Version {previous}, production before {replaced_by}, is no longer "
            "registered, so a rollback would have nothing to go back to.",
        )
    elif artifacts is True:
        status, summary = (
            "met",
            f"Version {previous}, production before {replaced_by}, is still registered "
            "and its artifacts are present.",
        )
    elif artifacts is False:
        status, summary = (
            "missing",
            f"Version {previous} is registered but its artifacts are gone, so it cannot "
            "be loaded for a rollback.",
        )
    else:
        why = no_column or "its artifacts have not been checked"
        status, summary = (
            "partial",
            f"Version {previous}, production before {replaced_by}, is still registered, "
            f"but whether it can be loaded is not recorded ({why}).",
        )
    facts = (
        Fact("Previous production version", previous),
        Fact("Registered", "yes" if row else "no", threshold="yes"),
        Fact(
            "Artifacts present",
            {True: "yes", False: "no", None: "not checked"}[artifacts],
            threshold="yes",
        ),
    )
    return Evidence(eid, status, summary, facts, (detail,))


def _rollback_deployments(inputs: Inputs) -> list[dict[str, Any]]:
    w = inputs.window
    return inputs.query(
        "SELECT deployment_id, environment, version, model_version, started_at, finished_at, "
        "status FROM deployments WHERE entity = ? AND kind = 'rollback' AND finished_at >= ? "
        "AND finished_at < ? ORDER BY finished_at, deployment_id",
        [inputs.model, w.start, w.end],
    )


def last_drill(inputs: Inputs) -> Evidence:
    eid = "rollback.last_drill"
    rows = []
    for d in _rollback_deployments(inputs):
        minutes = None
        if d["started_at"] is not None:
            minutes = round((d["finished_at"] - d["started_at"]).total_seconds() / 60, 2)
        rows.append(
            {
                "kind": "deployment",
                "at": when(d["finished_at"]),
                "environment": d["environment"],
                "to_version": d["model_version"] or d["version"],
                "status": d["status"],
                "minutes_to_restore": minutes,
            }
        )
    for m in inputs.moves():
        if m.rollback:
            rows.append(
                {
                    "kind": "registry alias",
                    "at": when(m.at),
                    "environment": m.alias,
                    "to_version": m.version,
                    "status": "success",
                    "minutes_to_restore": None,
                }
            )
    rows.sort(key=lambda r: (r["at"] or "", r["kind"]))
    if not rows:
        return Evidence(
            eid,
            "missing",
            "No rollback (real or drill) is recorded in the window, so the ability to roll back "
            "is untested.",
            (Fact("Rollbacks in the window", 0, threshold="at least 1"),),
        )
    last = rows[-1]
    timed = [r for r in rows if r["minutes_to_restore"] is not None]
    facts = [
        Fact("Rollbacks in the window", len(rows), threshold="at least 1"),
        Fact("Last rollback", last["at"]),
    ]
    if timed:
        facts.append(Fact("Last time to restore", timed[-1]["minutes_to_restore"], "minutes"))
        summary = (
            f"{len(rows)} rollback(s) in the window; the last timed one restored service in "
            f"{timed[-1]['minutes_to_restore']:g} minutes."
        )
        return Evidence(eid, "met", summary, tuple(facts), tuple(rows))
    summary = (
        f"{len(rows)} rollback(s) in the window, but none records when it started, so the time "
        "to restore is not known."
    )
    return Evidence(eid, "partial", summary, tuple(facts), tuple(rows))


def _production_deployments(inputs: Inputs, strategy: bool) -> list[dict[str, Any]]:
    w = inputs.window
    extra = ", strategy" if strategy else ""
    return inputs.query(
        "SELECT deployment_id, coalesce(model_version, version) AS version, finished_at, "
        f"status{extra} FROM deployments WHERE entity = ? AND environment = 'production' "
        "AND kind <> 'rollback' AND finished_at >= ? AND finished_at < ? "
        "ORDER BY finished_at, deployment_id",
        [inputs.model, w.start, w.end],
    )


def staged_before_production(inputs: Inputs) -> Evidence:
    eid = "delivery.staged_before_production"
    deployments = _production_deployments(inputs, strategy=False)
    if not deployments:
        return Evidence(
            eid,
            "missing",
            "No production deployment of this model is recorded in the window.",
            (Fact("Production deployments", 0),),
        )
    rows, staged = [], 0
    for d in deployments:
        found = inputs.query(
            "SELECT min(finished_at) AS at FROM deployments WHERE entity = ? "
            "AND environment = 'staging' AND status = 'success' "
            "AND coalesce(model_version, version) IS NOT DISTINCT FROM ? AND finished_at <= ?",
            [inputs.model, d["version"], d["finished_at"]],
        )
        at = found[0]["at"] if found else None
        ok = at is not None and d["version"] is not None
        staged += ok
        rows.append(
            {
                "deployment": d["deployment_id"],
                "version": d["version"],
                "production_at": when(d["finished_at"]),
                "staging_at": when(at),
                "staged": ok,
            }
        )
    total = len(rows)
    summary = (
        f"{staged} of {total} production deployments in the window went through staging first."
    )
    facts = (
        Fact("Production deployments", total),
        Fact("Share staged first", round(staged / total, 4), "ratio", threshold="100%"),
    )
    return Evidence(eid, share_status(staged, total), summary, facts, tuple(rows))


def progressive(inputs: Inputs) -> Evidence:
    eid = "delivery.progressive"
    lacking = inputs.lacks("deployments", "strategy")
    if lacking:
        return Evidence(
            eid,
            "missing",
            f"Deployment strategies are not recorded: {lacking}; upgrade mlreport and send "
            "the strategy field with deployment events.",
        )
    deployments = _production_deployments(inputs, strategy=True)
    if not deployments:
        return Evidence(
            eid,
            "missing",
            "No production deployment of this model is recorded in the window.",
            (Fact("Production deployments", 0),),
        )
    good = sum(d["strategy"] in PROGRESSIVE for d in deployments)
    unknown = sum(d["strategy"] is None for d in deployments)
    total = len(deployments)
    rows = tuple(
        {
            "deployment": d["deployment_id"],
            "version": d["version"],
            "at": when(d["finished_at"]),
            "strategy": d["strategy"] or "not recorded",
        }
        for d in deployments
    )
    summary = f"{good} of {total} production deployments in the window used canary or blue-green"
    summary += f"; {unknown} did not record a strategy." if unknown else "."
    facts = (
        Fact("Production deployments", total),
        Fact("Share canary or blue-green", round(good / total, 4), "ratio", threshold="100%"),
        Fact("Strategy not recorded", unknown),
    )
    return Evidence(eid, share_status(good, total), summary, facts, rows)


EVIDENCE = {
    "rollback.previous_version_loadable": previous_version_loadable,
    "rollback.last_drill": last_drill,
    "delivery.staged_before_production": staged_before_production,
    "delivery.progressive": progressive,
}
