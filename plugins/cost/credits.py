"""``details.cost_credits``: the negative cost rows (credits, refunds, corrections) per window,
entity and currency, so a report can say that a total is net of them. A separate small scan,
run only when a report asks the family for details (docs/metrics-cost.md)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mlreport.metrics import Window
from mlreport.plugins.cost.sql import WINDOWS, _params
from mlreport.warehouse import Warehouse

CREDITS_SQL = f"""
    SELECT w.ws AS window_start, w.we AS window_end, r.entity, r.currency,
           count(*) AS rows, CAST(sum(r.effective_cost) AS DOUBLE) AS effective_cost
    FROM cost_rows r
    JOIN {WINDOWS} w ON r.charge_period_start >= w.ws AND r.charge_period_start < w.we
    WHERE r.effective_cost < 0
    GROUP BY ALL
    ORDER BY window_start, window_end, entity NULLS LAST, currency
"""


def credits(warehouse: Warehouse, windows: Sequence[Window]) -> pl.DataFrame:
    """Count and sum of ``effective_cost < 0`` rows per window, entity (null: no entity pays
    the row directly, i.e. unattributed or shared) and currency."""
    schema = {
        "window_start": pl.Datetime("us", "UTC"),
        "window_end": pl.Datetime("us", "UTC"),
        "entity": pl.String,
        "currency": pl.String,
        "rows": pl.Int64,
        "effective_cost": pl.Float64,
    }
    if not windows:
        return pl.DataFrame(schema=schema)
    frame = warehouse.query(CREDITS_SQL, _params(windows))
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
