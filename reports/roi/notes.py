"""The data-quality notes of the ``roi`` report: every figure that is missing or qualified,
with what would close the gap (a setting to add, a source to configure)."""

from __future__ import annotations

from typing import Any

from mlreport import report_facts as rf
from mlreport.reporting import ReportContext
from mlreport.reports.charts.money import amount
from mlreport.reports.charts.numbers import format_value
from mlreport.reports.roi.facts import ALL, IDLE, NOTE_KINDS, Facts, currencies, value_of

VALUE_KEYS = (
    "`value_per_prediction` (or `value_per_true_positive` and `cost_per_false_positive`, "
    "or `value_per_month`)"
)


def note(kind: str, entity: str | None, message: str) -> dict[str, Any]:
    return {"kind": kind, "entity": entity, "message": message}


def portfolio_notes(ctx: ReportContext, f: Facts) -> list[dict[str, Any]]:
    notes = _family_notes(f)
    notes += _currency_notes(f)
    notes += _credit_notes(f)
    notes += _unattributed_notes(f)
    if not ctx.entities:
        notes += _idle_note(f)
    for m in f.models:
        notes += _model_notes(f, m)
    if ctx.entities:
        notes.append(
            note(
                "scoped",
                None,
                "This report is limited to the entities asked for, so the bill-wide figures "
                "(unattributed and idle cost) are left out; run it without entities to see them.",
            )
        )
    rf.sort_notes(notes, NOTE_KINDS, "entity", "message")
    return notes


def _family_notes(f: Facts) -> list[dict[str, Any]]:
    out = [
        note(
            "family_missing",
            None,
            f"No plugin provides {fam}.* metrics; the {fam} parts of this report are empty.",
        )
        for fam, ok in f.installed.items()
        if not ok
    ]
    out += [
        note("family_failed", None, f"The {fam} metrics failed, so their parts are empty: {err}")
        for fam, err in f.failed.items()
    ]
    return out


def _currency_notes(f: Facts) -> list[dict[str, Any]]:
    seen = set(currencies(f, "cost.unattributed", ALL))
    for m in f.models:
        seen |= set(m["currencies"]) | set(m["allocated_currencies"])
    out = []
    if len(seen) > 1:
        out.append(
            note(
                "mixed_currencies",
                None,
                f"Costs are billed in {', '.join(sorted(seen))}: every amount is shown per "
                "currency; nothing is converted or added across currencies.",
            )
        )
    for m in f.models:
        if len(m["currencies"]) > 1:
            out.append(
                note(
                    "mixed_currencies",
                    m["entity"],
                    f"{m['entity']} is billed in {', '.join(m['currencies'])}: its cost is shown "
                    "once per currency; for one ROI set `currency` on its [[entities]] entry "
                    "(the other currencies are then left out of its TCO, with a note).",
                )
            )
    return out


def _credit_notes(f: Facts) -> list[dict[str, Any]]:
    out = []
    for r in f.credits:
        who = r["entity"] or "Rows no model pays directly (unattributed or shared)"
        out.append(
            note(
                "credits",
                r["entity"],
                f"{who}: {r['rows']} negative cost row{'s' if r['rows'] != 1 else ''} (credits, "
                f"refunds or corrections), {amount(r['effective_cost'], r['currency'])} in "
                "total, netted into the amounts shown.",
            )
        )
    return out


def _unattributed_notes(f: Facts) -> list[dict[str, Any]]:
    out = []
    for cur in currencies(f, "cost.unattributed", ALL):
        amt = value_of(f, "cost.unattributed", ALL, currency=cur)
        share = value_of(f, "cost.unattributed_share", ALL, currency=cur)
        if not amt or not amt["value"]:
            continue
        pct = format_value(share["value"] if share else None, "ratio")
        out.append(
            note(
                "unattributed",
                None,
                f"{amount(amt['value'], cur)} ({pct} of the {cur} bill) is attributed to no "
                "model: tag those resources with the source's `entity_tag` key or map their tag "
                "values in `[sources.entity_map]`.",
            )
        )
    return out


def _model_notes(f: Facts, m: dict[str, Any]) -> list[dict[str, Any]]:
    e = m["entity"]
    out = []
    if not m["currencies"] and not m["allocated_currencies"]:
        out.append(
            note(
                "no_cost",
                e,
                f"{e}: no cloud cost in the window: tag its resources with the `focus` source's "
                "`entity_tag` key (or map them in `[sources.entity_map]`) to see what it costs.",
            )
        )
    out += _basis_notes(m)
    priced = {p["currency"] for p in m["per_1k"] + m["allocated_per_1k"] if p["value"] is not None}
    for cur in sorted(set(m["currencies"]) | set(m["allocated_currencies"])):
        if cur not in priced:
            out.append(
                note(
                    "no_predictions",
                    e,
                    f"{e}: no cost per 1,000 predictions in {cur}: no predictions in the window; "
                    f'add a `predictions` source with `entity = "{e}"` or a Prometheus '
                    "`requests` query whose entity label names it.",
                )
            )
    s = m["settings"]
    if s is None:
        out.append(
            note(
                "no_value_settings",
                e,
                f"{e}: ROI not computed: set {VALUE_KEYS} on its [[entities]] entry, and "
                "`people_cost_per_month`, `tooling_cost_per_month` and `roi_start` for its "
                "total cost of ownership and payback (docs/metrics-roi.md).",
            )
        )
    else:
        if s["roi_start"] is None:
            out.append(
                note("roi", e, f"{e}: no payback month or NPV: set `roi_start` on its entry.")
            )
        elif s["discount_rate"] is None:
            out.append(note("roi", e, f"{e}: no NPV: set `discount_rate` (annual) on its entry."))
    for r in f.roi_notes:
        if r["entity"] == e:
            out.append(note("roi", e, f"{e}: {r['note']}"))
    if not m["usage"] and not any(m["efficiency"].values()):
        out.append(
            note(
                "no_usage",
                e,
                f"{e}: no utilisation or efficiency: configure an `opencost` source (efficiency, "
                "idle cost) or `prometheus` queries (CPU, GPU, memory) that name this entity.",
            )
        )
    elif not any(m["efficiency"].values()):
        out.append(
            note(
                "no_usage",
                e,
                f"{e}: no CPU or RAM efficiency: only OpenCost gives it; configure an `opencost` "
                "source whose allocation label names this entity.",
            )
        )
    return out


def _basis_notes(m: dict[str, Any]) -> list[dict[str, Any]]:
    """A model with a bill and an OpenCost allocation in one currency: say which ROI uses."""
    e, out = m["entity"], []
    allocated = {c["currency"]: c for c in m["allocated"]}
    for c in m["cost"]:
        a = allocated.get(c["currency"])
        if a is None:
            continue
        out.append(
            note(
                "two_bases",
                e,
                f"{e}: bill and allocation describe the same spend; ROI uses the bill. The bill "
                f"says {amount(c['total'], c['currency'])}, OpenCost allocated "
                f"{amount(a['total'], a['currency'])}: both are shown, apart, never added.",
            )
        )
    return out


def _idle_note(f: Facts) -> list[dict[str, Any]]:
    """Idle cost is bill-wide: say once why it is missing."""
    if currencies(f, "cost.idle", IDLE) or not f.models:
        return []
    return [
        note(
            "no_usage",
            None,
            "No idle cost: it comes from OpenCost's __idle__ allocation; configure an `opencost` "
            "source for the clusters the models run on.",
        )
    ]
