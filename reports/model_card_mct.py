"""A card's facts as a Model Card Toolkit document (JSON Schema v0.0.2).

The schema allows no keys of its own at the top level and wants strings for values, so numbers
are written as their shortest round-trip text and a fact the warehouse lacks is left out
rather than written empty. ``performance_metrics`` holds the overall ``performance.*`` values
(no ``slice``) and one entry per group metric with ``slice`` = ``"feature=group"``.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "0.0.2"


def mct_document(card: dict[str, Any]) -> dict[str, Any]:
    """The Model Card Toolkit v0.0.2 object of one card."""
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": _details(card),
        "model_parameters": _parameters(card),
        "quantitative_analysis": {"performance_metrics": performance_metrics(card)},
        "considerations": _considerations(card),
    }


def _number(value: float | None) -> str:
    return "NaN" if value is None else repr(float(value))


def _details(card: dict[str, Any]) -> dict[str, Any]:
    d = card["details"]
    out: dict[str, Any] = {"name": card["name"]}
    if d["description"]:
        out["overview"] = d["description"]
    owners = [{"name": d["owner"]}] if d["owner"] else []
    if d["team"] and d["team"] != d["owner"]:
        owners.append({"name": d["team"]})
    if owners:
        out["owners"] = owners
    version = _version(d)
    if version:
        out["version"] = version
    return out


def _version(d: dict[str, Any]) -> dict[str, str] | None:
    """The version in production (the first alias), else the latest registered one."""
    name = d["production"][0]["version"] if d["production"] else d["latest_version"]
    if name is None:
        return None
    out = {"name": str(name)}
    dated = [v for v in d["versions"] if v["version"] == str(name) and v["created_at"]]
    if dated:
        out["date"] = dated[0]["created_at"][:10]
    return out


def _parameters(card: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if card["details"]["type"]:
        out["model_architecture"] = card["details"]["type"]
    data = []
    for d in card["training_data"]["datasets"]:
        parts = [f"Training data of version {d['version']} (run {d['run_id']})"]
        parts += [f"digest {d['digest']}"] if d["digest"] else []
        parts += [f"source {d['source']}"] if d["source"] else []
        data.append({"name": d["name"] or "(unnamed)", "description": "; ".join(parts) + "."})
    for r in card["training_data"]["reference"]:
        span = f" from {r['since']} to {r['until']}" if r["since"] else ""
        data.append(
            {"name": f"{r['log']} reference", "description": f"Reference {r['kind']}{span}."}
        )
    for e in card["evaluation_data"]:
        rows = f", {e['rows']} predictions" if e["rows"] is not None else ""
        entry: dict[str, Any] = {
            "name": e["log"],
            "description": f"Prediction log from {e['since']} to {e['until']}{rows}.",
        }
        if e["sensitive"]:
            entry["sensitive"] = {"sensitive_data": list(e["sensitive"])}
        data.append(entry)
    if data:
        out["data"] = data
    return out


def performance_metrics(card: dict[str, Any]) -> list[dict[str, str]]:
    out = [
        {"type": m["metric"].removeprefix("performance."), "value": _number(m["value"])}
        for m in card["metrics"]
    ]
    for s in card["quantitative"]:
        for m in s["values"]:
            out.append(
                {
                    "type": m["metric"].removeprefix("fairness."),
                    "value": _number(m["value"]),
                    "slice": f"{s['feature']}={s['group']}",
                }
            )
    return out


def _considerations(card: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if card["intended_use"]:
        out["use_cases"] = [{"description": card["intended_use"]}]
    if card["caveats"]:
        out["limitations"] = [{"description": c} for c in card["caveats"]]
    risks = []
    for r in card["ethical_considerations"]:
        risk = {"name": r["name"]}
        if r["mitigation"]:
            risk["mitigation_strategy"] = r["mitigation"]
        risks.append(risk)
    if risks:
        out["ethical_considerations"] = risks
    return out
