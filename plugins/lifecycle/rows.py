"""Metric rows per (model, window): two binary searches per fact, lead-time quantiles for
every cell in one DuckDB query."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlreport.metrics import MetricContext, Window
from mlreport.plugins.lifecycle.registry import Facts, facts
from mlreport.warehouse import Warehouse

STATS = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))
US_PER_HOUR = 3_600_000_000
SECONDS_PER_DAY = 86_400.0


def quantiles(wh: Warehouse, keys: list[int], values: list[float]) -> dict[int, list[float]]:
    """p50/p75/p90 per key by DuckDB ``quantile_cont`` (linear interpolation, as numpy), in
    one query for every (model, window) cell."""
    if not keys:
        return {}
    rows = wh.con.execute(
        "SELECT k, quantile_cont(x, ?::DOUBLE[]) FROM "
        "(SELECT unnest(?::BIGINT[]) AS k, unnest(?::DOUBLE[]) AS x) GROUP BY k",
        [[q for _, q in STATS], keys, values],
    ).fetchall()
    return {int(k): [float(v) for v in qs] for k, qs in rows}


def _span(times: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Indices ``[i, j)`` of the sorted ``times`` inside ``[lo, hi)``."""
    return int(np.searchsorted(times, lo, "left")), int(np.searchsorted(times, hi, "left"))


def _bounds(w: Window) -> tuple[int, int]:
    return round(w.start.timestamp() * 1_000_000), round(w.end.timestamp() * 1_000_000)


def cell_rows(f: Facts, name: str, w: Window, leads: list[float]) -> list[dict[str, Any]]:
    """Every row of one (model, window) except lead time, whose samples go to ``leads``."""
    part = f.part(name)
    lo, hi = _bounds(w)

    def row(metric: str, value: float | None, unit: str, n: int) -> dict[str, Any]:
        return {
            "metric": metric,
            "entity": name,
            "window_start": w.start,
            "window_end": w.end,
            "dimensions": {},
            "value": value,
            "unit": unit,
            "n": n,
        }

    i, j = _span(part.created, lo, hi)
    out = [row("lifecycle.versions_created", float(j - i), "count", j - i)]
    i, j = _span(part.move_at, lo, hi)
    rolled = int(part.rollbacks[j] - part.rollbacks[i])
    out.append(row("lifecycle.promotions", float(j - i - rolled), "count", j - i - rolled))
    out.append(row("lifecycle.rollbacks", float(rolled), "count", rolled))
    days = (hi - int(part.move_at[j - 1])) / 86_400_000_000 if j else None
    out.append(row("lifecycle.days_since_promotion", days, "days", 1 if j else 0))
    i, j = _span(part.first_at, lo, hi)
    leads.extend(float(x) for x in part.first_lead[i:j] if not np.isnan(x))
    i, j = _span(part.run_start, lo, hi)
    ok = int(part.finished[j] - part.finished[i])
    rate = ok / (j - i) if j > i else None
    out.append(row("lifecycle.run_success_rate", rate, "ratio", j - i))
    prod = f.held_at(w.end, name)
    governed = sum(all(f.governed(s, name, v).values()) for s, v in prod)
    share = governed / len(prod) if prod else None
    out.append(row("lifecycle.governed_share", share, "ratio", len(prod)))
    return out


def lead_rows(name: str, w: Window, qs: list[float] | None, n: int) -> list[dict[str, Any]]:
    return [
        {
            "metric": "lifecycle.model_lead_time",
            "entity": name,
            "window_start": w.start,
            "window_end": w.end,
            "dimensions": {"stat": stat},
            "value": qs[k] if qs else None,
            "unit": "hours",
            "n": n,
        }
        for k, (stat, _) in enumerate(STATS)
    ]


def compute_rows(ctx: MetricContext) -> list[dict[str, Any]]:
    """All rows for every (model, window); lead-time quantiles in one DuckDB query."""
    f = facts(ctx)
    names = [n for n in f.names if ctx.entities is None or n in ctx.entities]
    rows: list[dict[str, Any]] = []
    cells: list[tuple[str, Window, int]] = []
    keys: list[int] = []
    values: list[float] = []
    for name in names:
        for w in ctx.windows:
            leads: list[float] = []
            rows.extend(cell_rows(f, name, w, leads))
            keys.extend([len(cells)] * len(leads))
            values.extend(leads)
            cells.append((name, w, len(leads)))
    qs = quantiles(ctx.warehouse, keys, values)
    for k, (name, w, n) in enumerate(cells):
        rows.extend(lead_rows(name, w, qs.get(k), n))
    return rows
