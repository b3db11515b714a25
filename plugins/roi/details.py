"""What the ``roi`` family publishes for reports beyond its values: each entity's settings
(``details.roi_settings``) and the monthly flows behind payback and NPV (``details.roi_months``),
so a report can show the ROI table's inputs and draw value against cost month by month without
reading the config's ROI keys itself or recomputing a flow. Documented in docs/metrics-roi.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from mlreport.metrics import Window
from mlreport.plugins.roi.settings import MONEY_KEYS, RoiSettings

UTC_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class MonthFlow:
    """One month of an entity's horizon (from ``roi_start`` to ``horizon``'s end)."""

    entity: str
    horizon: Window
    index: int
    start: datetime
    end: datetime
    value: float
    tco: float | None
    currency: str | None


def settings_frame(settings: dict[str, RoiSettings], currencies: dict[str, Any]) -> pl.DataFrame:
    """One row per entity with ROI settings: every key as configured (defaults filled in)
    and the currency its figures are in (null: none known, or a note says why)."""
    schema: dict[str, Any] = {"entity": pl.String}
    schema |= {k: pl.Float64 for k in MONEY_KEYS}
    schema |= {
        "roi_start": UTC_TS,
        "discount_rate": pl.Float64,
        "currency": pl.String,
        "configured_currency": pl.String,
    }
    rows = []
    for entity, s in sorted(settings.items()):
        cur = currencies.get(entity)
        row = {"entity": entity, **{k: float(getattr(s, k)) for k in MONEY_KEYS}}
        row |= {
            "roi_start": s.start,
            "discount_rate": s.discount_rate,
            "currency": cur if isinstance(cur, str) else None,
            "configured_currency": s.currency,
        }
        rows.append(row)
    return pl.DataFrame(rows, schema=schema, orient="row")


def months_frame(flows: list[MonthFlow], detail_windows: list[Window]) -> pl.DataFrame:
    """The months behind payback and NPV of each detail window: value, TCO (null: cloud cost
    in another currency) and their running sums from ``roi_start``."""
    wanted = set(detail_windows)
    rows = []
    running: dict[tuple[str, Window], tuple[float, float | None]] = {}
    for f in sorted(flows, key=lambda f: (f.entity, f.horizon.start, f.horizon.end, f.index)):
        if f.horizon not in wanted:
            continue
        cv, ct = running.get((f.entity, f.horizon), (0.0, 0.0))
        cv += f.value
        ct = None if ct is None or f.tco is None else ct + f.tco
        running[(f.entity, f.horizon)] = (cv, ct)
        rows.append(
            {
                "entity": f.entity,
                "window_start": f.horizon.start,
                "window_end": f.horizon.end,
                "month": f.index + 1,
                "month_start": f.start,
                "month_end": f.end,
                "currency": f.currency,
                "value": f.value,
                "tco": f.tco,
                "cumulative_value": cv,
                "cumulative_tco": ct,
            }
        )
    schema = {
        "entity": pl.String,
        "window_start": UTC_TS,
        "window_end": UTC_TS,
        "month": pl.Int64,
        "month_start": UTC_TS,
        "month_end": UTC_TS,
        "currency": pl.String,
        "value": pl.Float64,
        "tco": pl.Float64,
        "cumulative_value": pl.Float64,
        "cumulative_tco": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
