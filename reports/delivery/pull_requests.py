"""The pull-request section: the ``delivery`` family's pull-request lead time and review time
per entity, next to the commit-based DORA numbers, when a ``github`` or ``gitlab`` source gave
pull requests."""

from __future__ import annotations

import json
from typing import Any

from mlreport import report_facts as rf
from mlreport.reporting import ReportContext, Section
from mlreport.reports.charts.numbers import finite

STATS = ("p50", "p90")


class PullRequests(Section):
    name = "pull_requests"
    title = "Pull requests"
    template = "delivery/pull_requests.html.j2"
    markdown = "delivery/pull_requests.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        if not rf.installed("delivery"):
            return {"rows": []}
        table = rf.metric_table(ctx, ("delivery.",))
        entities = sorted({r["entity"] for r in table.rows.values()})
        rows = []
        for entity in entities:
            lead = _by_environment(table.rows, entity)
            review = {
                s: _cell(table.rows, "delivery.review_time", entity, {"stat": s}) for s in STATS
            }
            unreviewed = _cell(table.rows, "delivery.unreviewed", entity, {})
            rows.append(
                {
                    "entity": entity,
                    "lead_time": lead,
                    "review_time": review,
                    "unreviewed": unreviewed,
                }
            )
        return {"rows": rows}


def _cell(rows: dict, metric: str, entity: str, dims: dict[str, Any]) -> dict[str, Any]:
    row = rows.get(rf.key_of(metric, entity, dims))
    return {
        "value": finite(row["value"]) if row else None,
        "n": row["n"] if row else None,
        "unit": row["unit"] if row else None,
    }


def _by_environment(rows: dict, entity: str) -> list[dict[str, Any]]:
    """One entry per production environment the entity's requests reached."""
    envs = sorted(
        {
            json.loads(r["dimensions"]).get("environment")
            for r in rows.values()
            if r["metric"] == "delivery.lead_time" and r["entity"] == entity
        }
        - {None}
    )
    return [
        {
            "environment": env,
            **{
                s: _cell(rows, "delivery.lead_time", entity, {"environment": env, "stat": s})
                for s in STATS
            },
        }
        for env in envs
    ]
