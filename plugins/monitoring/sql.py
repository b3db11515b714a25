"""The ``monitoring`` family's scans: aggregate SQL in DuckDB's dialect, run through the log's
scan connection (DuckDB, or Spark via ``scan_connection``), returning small results.

- ``day_groups``: one scan of the whole log: rows, labelled rows, label-lag rows and the
  earliest time per (UTC day, segment); the segment places a row between window boundaries.
- ``lag_order_statistics``: when a label time is mapped, the two order statistics around each
  quantile of the label lag (in whole microseconds, ``quantile_disc``), so Python interpolates
  them exactly as numpy's default ("linear") method does and every engine gives equal numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from mlreport.engines import EngineError
from mlreport.metrics import Window
from mlreport.plugins.monitoring.days import DayGroup
from mlreport.sql import quote_identifier

LABEL_TS = "label_ts"  # the view column of ``columns.label_timestamp`` (docs/sources-predictions)
QUANTILES = {"p50": 0.5, "p95": 0.95}
US_PER_HOUR = 3_600_000_000
# A label counts when it is there: NULL means not arrived, and so does NaN (as in performance).
LABELLED = "label IS NOT NULL AND NOT isnan(label)"
LAGGED = f"{LABEL_TS} IS NOT NULL AND {LABELLED}"


class MonitoringError(ValueError):
    """A scan failed; the message names the log and what was being computed."""


def segment_sql(cuts: Sequence[datetime]) -> tuple[str, list[Any]]:
    """SQL giving ``#{b in cuts : b <= ts}`` by a binary search of nested CASEs."""
    params: list[Any] = []

    def search(lo: int, hi: int) -> str:
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2
        params.append(cuts[mid])
        below, above = search(lo, mid), search(mid + 1, hi)
        return f"CASE WHEN ts < ? THEN {below} ELSE {above} END"

    return search(0, len(cuts)), params


def day_groups_sql(view: str, cuts: Sequence[datetime], lagged: bool) -> tuple[str, list[Any]]:
    segment, params = segment_sql(cuts)
    lag = f"count(*) FILTER (WHERE {LAGGED})" if lagged else "CAST(0 AS BIGINT)"
    sql = (
        f"SELECT CAST(ts AS DATE) AS day, {segment} AS seg, count(*) AS n, "
        f"count(*) FILTER (WHERE {LABELLED}) AS labelled, {lag} AS lagged, min(ts) AS first "
        f"FROM {quote_identifier(view)} WHERE ts IS NOT NULL GROUP BY 1, 2"
    )
    return sql, params


def day_groups(con: Any, view: str, cuts: Sequence[datetime], lagged: bool, name: str):
    """Every (day, segment) group of the log's timed rows (rows without a time are in no
    window and in no group)."""
    sql, params = day_groups_sql(view, cuts, lagged)
    rows = _fetch(con, f"the days with logs of {name}", sql, params)
    return [DayGroup(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5]) for r in rows]


# -- label lag -----------------------------------------------------------------------------


def numpy_positions(n: int, q: float) -> tuple[int, int, float]:
    """numpy's default ("linear") quantile: the 0-based order statistics below and above the
    virtual index ``(n - 1)·q`` and the weight between them, as ``numpy.quantile`` has them."""
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    lo = math.floor(virtual)
    return lo, lo + 1, virtual - lo


def lerp(a: float, b: float, t: float) -> float:
    """numpy's ``_lerp``: ``a + (b - a)·t``, from the far end when ``t >= 0.5``."""
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def lag_relation(views: Sequence[str], span: Window) -> tuple[str, list[Any]]:
    """Label-lag rows (whole microseconds) in ``span`` of one or more views of one entity."""
    parts = [
        f"SELECT ts, date_diff('microsecond', ts, {LABEL_TS}) AS lag "
        f"FROM {quote_identifier(v)} WHERE ts >= ? AND ts < ? AND {LAGGED}"
        for v in views
    ]
    return " UNION ALL ".join(parts), [span.start, span.end] * len(views)


def lag_stats(
    con: Any, views: Sequence[str], wanted: Sequence[tuple[Window, int]], name: str
) -> list[dict[str, float]]:
    """p50, p95 and max of the label lag in hours for each (window, rows with a lag); one
    scan for all windows. Each window needs its row count up front (from the day scan)."""
    aggs: list[str] = []
    params: list[Any] = []
    plans = []
    for window, n in wanted:
        inside = "CASE WHEN ts >= ? AND ts < ? THEN lag END"
        positions = {s: numpy_positions(n, q) for s, q in QUANTILES.items()}
        ranks = sorted({k for lo, hi, _ in positions.values() for k in (lo, hi)})
        fractions = ", ".join(repr((k + 0.5) / n) for k in ranks)  # picks index k exactly
        aggs += [f"quantile_disc({inside}, [{fractions}])", f"max({inside})"]
        params += [window.start, window.end, window.start, window.end]
        plans.append((positions, ranks))
    if not aggs:
        return []
    span = Window(min(w.start for w, _ in wanted), max(w.end for w, _ in wanted))
    relation, rel_params = lag_relation(views, span)
    sql = f"SELECT {', '.join(aggs)} FROM ({relation})"  # the SELECT's parameters come first
    row = _fetch(con, f"the label lag of {name}", sql, params + rel_params)[0]
    out = []
    for i, (positions, ranks) in enumerate(plans):
        at = dict(zip(ranks, (int(v) / US_PER_HOUR for v in row[2 * i]), strict=True))
        stats = {s: lerp(at[lo], at[hi], t) for s, (lo, hi, t) in positions.items()}
        stats["max"] = int(row[2 * i + 1]) / US_PER_HOUR
        out.append(stats)
    return out


def _fetch(con: Any, what: str, sql: str, params: list[Any]) -> list[tuple]:
    try:
        return con.execute(sql, params).fetchall()
    except (duckdb.Error, EngineError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MonitoringError(f"monitoring: cannot compute {what}: {first}") from exc
