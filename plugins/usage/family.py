"""The built-in ``usage`` family: ``usage.<metric>`` over the ``usage`` table, and the idle
cost and efficiency OpenCost data gives (docs/metrics-usage.md has every definition).

A usage row's ``kind`` (migration 012) says how it aggregates: ``counter`` rows are amounts
per step and are summed; ``gauge`` rows are levels and give mean, p95 (``quantile_cont``,
linear) and max; ``ratio`` rows (OpenCost's per-day efficiencies) are not aggregated at all:
efficiency over a window is recomputed from the hours and costs it is a ratio of.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window

GAUGE_STATS = ("mean", "p95", "max")
IDLE = "__idle__"
# costs rows an OpenCost source wrote carry these tags (connectors/opencost/rows.py)
COMPONENT = """json_extract_string(tags, '$."opencost.component"')"""
ALLOCATION = """json_extract_string(tags, '$."opencost.allocation"')"""


class UsageMetrics(MetricFamily):
    """Serving and resource usage per entity; idle cost and efficiency from OpenCost."""

    name = "usage"
    metrics = (
        MetricInfo(
            "usage.*",
            "per query",
            "A usage series (a Prometheus query or an OpenCost resource): the sum of a "
            "counter, or the mean, p95 and max of a gauge",
            GAUGE_STATS,
        ),
        MetricInfo(
            "cost.idle",
            "currency",
            "OpenCost's __idle__ allocation: cluster capacity paid for and not requested",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.idle_share",
            "ratio",
            "Idle cost over all OpenCost-allocated cost, per currency",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.cpu_efficiency",
            "ratio",
            "CPU core-hours used over core-hours requested (OpenCost)",
            higher_is_better=True,
        ),
        MetricInfo(
            "cost.ram_efficiency",
            "ratio",
            "RAM byte-hours used over byte-hours requested (OpenCost)",
            higher_is_better=True,
        ),
        MetricInfo(
            "cost.efficiency",
            "ratio",
            "CPU and RAM efficiency weighted by their cost (OpenCost's totalEfficiency)",
            higher_is_better=True,
        ),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        windows = _windows_frame(ctx.windows)
        rows = []
        con = ctx.warehouse.con
        con.register("_usage_windows", windows)
        try:
            rows += usage_rows(con, ctx.entities)
            rows += idle_rows(con)
            rows += efficiency_rows(con, ctx.entities)
        finally:
            con.unregister("_usage_windows")
        return rows


def _windows_frame(windows: list[Window]) -> pl.DataFrame:
    return pl.DataFrame(
        {"ws": [w.start for w in windows], "we": [w.end for w in windows]},
        schema={"ws": pl.Datetime("us", "UTC"), "we": pl.Datetime("us", "UTC")},
    )


def usage_rows(con, entities: list[str] | None) -> list[dict[str, Any]]:
    """``usage.<metric>`` per entity and window: counters summed, gauges described. Rows of no
    kind (written before migration 012, or by a source that does not say) count as gauges:
    a mean of amounts is still a fact, a sum of levels is not."""
    result = con.execute(
        """
        SELECT u.metric, u.entity, w.ws, w.we, coalesce(u.kind, 'gauge') AS kind,
               min(u.unit) AS unit, count(*) AS n, sum(u.value) AS total, avg(u.value) AS mean,
               quantile_cont(u.value, 0.95) AS p95, max(u.value) AS top
        FROM usage u JOIN _usage_windows w ON u.ts >= w.ws AND u.ts < w.we
        WHERE u.value IS NOT NULL AND coalesce(u.kind, 'gauge') IN ('counter', 'gauge')
          AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], u.entity))
        GROUP BY ALL ORDER BY ALL
        """,
        [entities, entities],
    ).fetchall()
    rows = []
    for metric, entity, ws, we, kind, unit, n, total, mean, p95, top in result:
        base = {
            "metric": f"usage.{metric}",
            "entity": entity,
            "window_start": ws,
            "window_end": we,
            "n": n,
        }
        if kind == "counter":
            rows.append({**base, "dimensions": {}, "value": total, "unit": unit or "count"})
            continue
        for stat, value in zip(GAUGE_STATS, (mean, p95, top), strict=True):
            rows.append(
                {**base, "dimensions": {"stat": stat}, "value": value, "unit": unit or "value"}
            )
    return rows


def idle_rows(con) -> list[dict[str, Any]]:
    """``cost.idle`` and ``cost.idle_share`` per window and currency (entity ``__idle__``)."""
    result = con.execute(
        f"""
        SELECT w.ws, w.we, c.currency,
               sum(c.effective_cost) FILTER (WHERE {ALLOCATION} = ?)::DOUBLE AS idle,
               count(*) FILTER (WHERE {ALLOCATION} = ?) AS n,
               sum(c.effective_cost)::DOUBLE AS total
        FROM costs c JOIN _usage_windows w
          ON c.charge_period_start >= w.ws AND c.charge_period_start < w.we
        WHERE {COMPONENT} IS NOT NULL
        GROUP BY ALL ORDER BY ALL
        """,
        [IDLE, IDLE],
    ).fetchall()
    rows = []
    for ws, we, currency, idle, n, total in result:
        if not n:
            continue
        base = {
            "entity": IDLE,
            "window_start": ws,
            "window_end": we,
            "n": n,
            "dimensions": {"currency": currency},
        }
        rows.append({**base, "metric": "cost.idle", "value": idle, "unit": currency})
        share = idle / total if total else None
        rows.append({**base, "metric": "cost.idle_share", "value": share, "unit": "ratio"})
    return rows


def efficiency_rows(con, entities: list[str] | None) -> list[dict[str, Any]]:
    """Efficiency over a window from its totals: used ÷ requested hours for CPU and RAM, and
    their cost-weighted mean (OpenCost's totalEfficiency formula applied to the window)."""
    hours = con.execute(
        """
        SELECT u.entity, w.ws, w.we,
          sum(value) FILTER (WHERE metric = 'cpu_core_usage_hours') AS cpu_used,
          sum(value) FILTER (WHERE metric = 'cpu_core_request_hours') AS cpu_req,
          sum(value) FILTER (WHERE metric = 'ram_byte_usage_hours') AS ram_used,
          sum(value) FILTER (WHERE metric = 'ram_byte_request_hours') AS ram_req,
          count(DISTINCT u.ts) AS n
        FROM usage u JOIN _usage_windows w ON u.ts >= w.ws AND u.ts < w.we
        WHERE u.metric IN ('cpu_core_usage_hours', 'cpu_core_request_hours',
                           'ram_byte_usage_hours', 'ram_byte_request_hours')
          AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], u.entity))
        GROUP BY ALL ORDER BY ALL
        """,
        [entities, entities],
    ).fetchall()
    costs = {
        (entity, ws, we): (cpu, ram)
        for entity, ws, we, cpu, ram in con.execute(
            f"""
            SELECT coalesce(c.entity, {ALLOCATION}), w.ws, w.we,
              sum(c.effective_cost) FILTER (WHERE {COMPONENT} = 'cpu')::DOUBLE,
              sum(c.effective_cost) FILTER (WHERE {COMPONENT} = 'ram')::DOUBLE
            FROM costs c JOIN _usage_windows w
              ON c.charge_period_start >= w.ws AND c.charge_period_start < w.we
            WHERE {COMPONENT} IN ('cpu', 'ram')
            GROUP BY ALL
            """
        ).fetchall()
    }
    rows = []
    for entity, ws, we, cpu_used, cpu_req, ram_used, ram_req, n in hours:
        base = {
            "entity": entity,
            "window_start": ws,
            "window_end": we,
            "n": n,
            "dimensions": {},
            "unit": "ratio",
        }
        cpu = cpu_used / cpu_req if cpu_req else None
        ram = ram_used / ram_req if ram_req else None
        rows.append({**base, "metric": "cost.cpu_efficiency", "value": cpu})
        rows.append({**base, "metric": "cost.ram_efficiency", "value": ram})
        cpu_cost, ram_cost = costs.get((entity, ws, we), (None, None))
        parts = [(e, c) for e, c in ((cpu, cpu_cost), (ram, ram_cost)) if e is not None and c]
        weight = sum(c for _, c in parts)
        total = sum(e * c for e, c in parts) / weight if weight else None
        rows.append({**base, "metric": "cost.efficiency", "value": total})
    return rows


@hookimpl
def register_metrics(register) -> None:
    register("usage", UsageMetrics)


__all__ = ["UsageMetrics", "register_metrics"]
