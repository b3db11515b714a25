"""One model's part of the ``roi`` report, from the stored values and published details:
cost by month and service category, cost per 1,000 predictions, utilisation, credits, value
against cost with the payback month, and the ROI table with its inputs."""

from __future__ import annotations

import json
from typing import Any

from mlreport.reports.charts.numbers import finite
from mlreport.reports.roi.facts import (
    ALLOCATION,
    AMOUNTS,
    BASIS_LABELS,
    EFFICIENCY,
    ROI,
    Facts,
    categories,
    currencies,
    month_label,
    monthly,
    value_of,
)
from mlreport.times import iso

SETTING_KEYS = (
    "value_per_prediction",
    "value_per_true_positive",
    "cost_per_false_positive",
    "value_per_month",
    "people_cost_per_month",
    "tooling_cost_per_month",
)


def model_facts(f: Facts, entity: str, info: dict[str, Any]) -> dict[str, Any]:
    cost_currencies = currencies(f, "cost.total", entity)
    allocated = currencies(f, "cost.total", entity, ALLOCATION)
    per_1k = currencies(f, "cost.per_1k_predictions", entity, ALLOCATION)
    settings = _settings(f.settings.get(entity))
    roi = _roi(f, entity)
    return {
        "entity": entity,
        "kind": info.get("kind"),
        "owner": info.get("owner"),
        "team": info.get("team"),
        "currencies": cost_currencies,
        "cost": [_cost(f, entity, c) for c in cost_currencies],
        "monthly_cost": [_monthly_cost(f, entity, c) for c in cost_currencies],
        "per_1k": [_per_1k(f, entity, c) for c in currencies(f, "cost.per_1k_predictions", entity)],
        # OpenCost/Kubecost allocation of the same spend: shown apart, never added to the bill
        "allocated_currencies": allocated,
        "allocated": [_cost(f, entity, c, ALLOCATION) for c in allocated],
        "allocated_monthly_cost": [_monthly_cost(f, entity, c, ALLOCATION) for c in allocated],
        "allocated_per_1k": [_per_1k(f, entity, c, ALLOCATION) for c in per_1k],
        "usage": _usage(f, entity),
        "efficiency": {k: value_of(f, f"cost.{k}", entity) for k in EFFICIENCY},
        "credits": [
            {"currency": r["currency"], "rows": r["rows"], "amount": finite(r["effective_cost"])}
            for r in f.credits
            if r["entity"] == entity
        ],
        "settings": settings,
        "roi": roi,
        "value_vs_cost": _value_vs_cost(f, entity, roi),
        "verdict": _verdict(entity, settings, roi, f),
    }


def _cost(f: Facts, entity: str, currency: str, basis: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"currency": currency}
    if basis:
        out["basis"] = BASIS_LABELS[basis]
    for k in AMOUNTS:
        v = value_of(f, f"cost.{k}", entity, currency=currency, basis=basis)
        out[k] = v["value"] if v else None
        if k == "total":
            out["rows"] = v["n"] if v else None
    return out


def _monthly_cost(f: Facts, entity: str, currency: str, basis: str | None = None) -> dict[str, Any]:
    cats = categories(f, entity, currency, basis)
    dims = {"currency": currency, "basis": basis}
    by_cat = {_name(c): monthly(f, "cost.total", entity, **dims, service_category=c) for c in cats}
    months = []
    for i, p in enumerate(monthly(f, "cost.total", entity, **dims)):
        split = {c: s[i]["value"] for c, s in by_cat.items() if s[i]["value"] is not None}
        total = p.pop("value")
        months.append({**p, "total": total, "by_category": split})
    out = {"currency": currency, "categories": list(by_cat), "months": months}
    return out | ({"basis": BASIS_LABELS[basis]} if basis else {})


def _name(category: str | None) -> str:
    """A service category as shown and as a JSON key (FOCUS requires one; a source may not)."""
    return "(none)" if category is None else category


def _per_1k(f: Facts, entity: str, currency: str, basis: str | None = None) -> dict[str, Any]:
    v = value_of(f, "cost.per_1k_predictions", entity, currency=currency, basis=basis)
    out = {
        "currency": currency,
        "value": v["value"] if v else None,
        "predictions": v["n"] if v else None,
        "months": monthly(f, "cost.per_1k_predictions", entity, currency=currency, basis=basis),
    }
    return out | ({"basis": BASIS_LABELS[basis]} if basis else {})


def _usage(f: Facts, entity: str) -> list[dict[str, Any]]:
    out = []
    for (metric, ent, dims), row in sorted(f.rows.items(), key=lambda kv: kv[0]):
        if ent == entity and metric.startswith("usage."):
            out.append(
                {
                    "metric": metric,
                    "stat": json.loads(dims).get("stat"),
                    "value": finite(row["value"]),
                    "unit": row["unit"],
                    "n": row["n"],
                }
            )
    return out


def _settings(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {k: row[k] for k in SETTING_KEYS}
    out |= {
        "roi_start": iso(row["roi_start"])[:10] if row["roi_start"] else None,
        "discount_rate": row["discount_rate"],
        "currency": row["currency"],
        "configured_currency": row["configured_currency"],
    }
    return out


def _roi(f: Facts, entity: str) -> dict[str, Any] | None:
    """The ROI table of the report window in the currency the family used (one at most)."""
    found = [
        (m, json.loads(d).get("currency"), r)
        for (m, e, d), r in f.rows.items()
        if e == entity and m.startswith("roi.")
    ]
    if not found:
        return None
    out: dict[str, Any] = {"currency": found[0][1]}
    for k in ROI:
        hit = [r for m, _, r in found if m == f"roi.{k}"]
        out[k] = finite(hit[0]["value"]) if hit else None
        out[f"has_{k}"] = bool(hit)
        if k in ("value", "payback_months"):
            out["predictions" if k == "value" else "months"] = hit[0]["n"] if hit else None
    return out


def _value_vs_cost(f: Facts, entity: str, roi: dict[str, Any] | None) -> dict[str, Any] | None:
    """Running value and cost by month from ``roi_start`` (``details.roi_months``); without a
    start, the window's own months (no payback then)."""
    flows = sorted(f.flows.get(entity, []), key=lambda r: r["month"])
    if flows:
        months = [
            {
                "month": r["month"],
                "start": iso(r["month_start"]),
                "end": iso(r["month_end"]),
                "label": month_label(r["month_start"]),
                "value": finite(r["value"]),
                "tco": finite(r["tco"]),
                "cumulative_value": finite(r["cumulative_value"]),
                "cumulative_tco": finite(r["cumulative_tco"]),
            }
            for r in flows
        ]
        payback = roi.get("payback_months") if roi else None
        return {
            "currency": flows[0]["currency"],
            "since": "roi_start",
            "months": months,
            "payback_month": payback,
            "payback_label": months[int(payback) - 1]["label"] if payback else None,
        }
    cur = roi["currency"] if roi else None
    dims = {"currency": cur} if cur else {}
    values = monthly(f, "roi.value", entity, **dims)
    costs = monthly(f, "roi.tco", entity, **dims)
    if not any(p["value"] is not None for p in values + costs):
        return None
    months, cv, ct = [], 0.0, 0.0
    for i, (v, c) in enumerate(zip(values, costs, strict=True)):
        cv = cv + v["value"] if cv is not None and v["value"] is not None else None
        ct = ct + c["value"] if ct is not None and c["value"] is not None else None
        months.append(
            {
                "month": i + 1,
                "start": v["start"],
                "end": v["end"],
                "label": v["label"],
                "value": v["value"],
                "tco": c["value"],
                "cumulative_value": cv,
                "cumulative_tco": ct,
            }
        )
    return {
        "currency": cur,
        "since": "window",
        "months": months,
        "payback_month": None,
        "payback_label": None,
    }


def _verdict(entity: str, settings, roi, f: Facts) -> dict[str, Any]:
    """In plain words: does the model pay back, and if ROI is missing, why."""
    if roi is None:
        if settings is None:
            return {"status": "not_computed", "text": "ROI not computed: no value settings"}
        return {"status": "not_computed", "text": "ROI not computed: see the notes"}
    if roi["has_payback_months"]:
        k = roi["payback_months"]
        if k is not None:
            return {"status": "pays_back", "text": f"pays back in month {int(k)} from roi_start"}
        return {
            "status": "does_not_pay_back",
            "text": f"does not pay back within {roi['months']} months from roi_start",
        }
    if roi["net"] is None:
        return {"status": "not_computed", "text": "net not computed: see the notes"}
    sign = "positive" if roi["net"] >= 0 else "negative"
    return {
        "status": "net_positive" if roi["net"] >= 0 else "net_negative",
        "text": f"net {sign} in this window (no payback: roi_start not set or after the window)",
    }
