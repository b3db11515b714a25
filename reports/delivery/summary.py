"""The summary section: a scorecard row per entity and environment with a one-line headline,
portfolio totals and the band legend."""

from __future__ import annotations

from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.reporting import ReportContext, Section
from mlreport.reports.charts.numbers import finite, format_value, table_label
from mlreport.reports.delivery.facts import DORA_FOUR, Facts, MetricSpec, _policy, facts
from mlreport.reports.delivery.grading import levels_for, tone
from mlreport.reports.delivery.notes import quality_notes
from mlreport.times import iso


def metric_cell(f: Facts, spec: MetricSpec, entity: str, env: str | None) -> dict[str, Any]:
    row = f.rows.get((spec.metric, entity, env, spec.stat))
    levels = levels_for(f.tables, f.table, spec.metric, spec.stat)
    band = row["band"] if row else None
    band_tone, rank = tone(levels, band)
    n = row["n"] if row else None
    dims = {"environment": env, **({"stat": spec.stat} if spec.stat else {})}
    return {
        "metric": spec.metric,
        "stat": spec.stat,
        "value": finite(row["value"]) if row else None,
        "unit": (row["unit"] if row else None) or spec.unit,
        "n": n,
        "band": band,
        "band_table": row["band_table"] if row else None,
        "band_rank": rank,
        "tone": band_tone,
        "small_sample": n is not None and 0 < n < f.small,
        "policy": _policy(f, spec.metric, entity, dims) if env is not None else None,
    }


def headline(cells: dict[str, dict[str, Any]]) -> str:
    """One line a reader can act on: a policy breach, else the strongest and weakest metric."""
    labels = {s.key: s.label.lower() for s in DORA_FOUR}
    if all(c["value"] is None for c in cells.values()):
        return "No production deployments in this window."
    breaches = [(k, c) for k, c in cells.items() if c["policy"] and not c["policy"]["passed"]]
    if len(breaches) > 1:
        names = ", ".join(labels[k] for k, _ in breaches)
        return f"Breaches {len(breaches)} policies: {names}."
    if breaches:
        key, c = breaches[0]
        p = c["policy"]
        bound = (
            f"≤ {format_value(p['max'], c['unit'])}"
            if p["max"] is not None
            else f"≥ {format_value(p['min'], c['unit'])}"
        )
        return (
            f"Policy breach: {labels[key]} is {format_value(c['value'], c['unit'])} "
            f"(policy {bound})."
        )
    graded = [(k, c) for k, c in cells.items() if c["band_rank"] is not None]
    caveat = (
        " Small sample — read with care." if any(c["small_sample"] for c in cells.values()) else ""
    )
    if not graded:
        return "Not graded: no benchmark band applies to these values." + caveat
    best = min(graded, key=lambda kc: kc[1]["band_rank"])
    worst = max(graded, key=lambda kc: kc[1]["band_rank"])
    if best[1]["band_rank"] == worst[1]["band_rank"]:
        scope = "all four metrics" if len(graded) == 4 else "every graded metric"
        return f"{_cap(best[1]['band'])} on {scope}." + caveat
    k, c = worst
    return (
        f"Strongest: {labels[best[0]]} ({_cap(best[1]['band'])}). Weakest: {labels[k]} "
        f"({_cap(c['band'])}, {format_value(c['value'], c['unit'])})." + caveat
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def summary_rows(f: Facts) -> list[dict[str, Any]]:
    rows = []
    for entity in f.entities:
        info = f.info.get(entity, {})
        for env in f.environments.get(entity) or [None]:
            cells = {s.key: metric_cell(f, s, entity, env) for s in DORA_FOUR}
            rows.append(
                {
                    "entity": entity,
                    "environment": env,
                    "kind": info.get("kind"),
                    "owner": info.get("owner"),
                    "team": info.get("team"),
                    "metrics": cells,
                    "headline": headline(cells),
                }
            )
    return rows


def totals(f: Facts) -> dict[str, int]:
    """Portfolio counts for the summary strip: production deployments, changes, incidents."""
    prod = f.deployments.filter(
        pl.col("environment").is_in(f.ctx.config.metrics.production_environments)
    )
    return {
        "entities": len(f.entities),
        "deployments": prod.height,
        "failed_deployments": prod.filter(pl.col("status") != "success").height,
        "changes": f.changes.height if f.changes is not None else 0,
        "incidents": f.incidents.height,
        "open_incidents": f.incidents.filter(pl.col("resolved_at").is_null()).height,
    }


def columns() -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "metric": s.metric,
            "stat": s.stat,
            "label": s.label,
            "unit": s.unit,
            "noun": s.noun,
        }
        for s in DORA_FOUR
    ]


def legend_bands(f: Facts) -> list[dict[str, str]]:
    """The band names of the active table, best first, with their colour tones."""
    out: dict[str, str] = {}
    for s in DORA_FOUR:
        levels = levels_for(f.tables, f.table, s.metric, s.stat)
        for lv in levels:
            out.setdefault(lv.band, tone(levels, lv.band)[0])
    return [{"band": b, "tone": t} for b, t in out.items()]


class Summary(Section):
    name = "summary"
    title = "Summary"
    template = "delivery/summary.html.j2"
    markdown = "delivery/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return {
            "window": rf.window_json(ctx),
            "window_days": ctx.window.days,
            "as_of": iso(ctx.as_of),
            "band_table": f.table,
            "band_table_label": table_label(f.table),
            "small_sample": f.small,
            "bands": legend_bands(f),
            "columns": columns(),
            "rows": summary_rows(f),
            "note_count": len(quality_notes(f)),
            "totals": totals(f),
        }
