"""The scans behind the ``cost`` family: sums of cost rows and counts of predictions per window.

Both return small frames (sufficient statistics): cost sums per window, source, entity,
allocation, currency and service category; prediction counts per window and entity. Window
bounds travel as parameters. A cost row is in a window when its ``charge_period_start`` is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from mlreport.metrics import Window
from mlreport.prediction_logs import prediction_logs
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse

WINDOWS = (
    "(SELECT unnest(?::INTEGER[]) AS i, unnest(?::TIMESTAMPTZ[]) AS ws, "
    "unnest(?::TIMESTAMPTZ[]) AS we)"
)


def _params(windows: Sequence[Window]) -> list:
    return [list(range(len(windows))), [w.start for w in windows], [w.end for w in windows]]


def check_files(warehouse: Warehouse) -> None:
    """Refuse to compute over export files that changed since their sync: the views read the
    files in place, and a file rewritten since (by a re-delivery, or by hand) would be
    counted unchecked. Compares sizes only (no read); the next sync re-fingerprints."""
    rows = warehouse.con.execute("SELECT export, files FROM cost_exports ORDER BY 1").fetchall()
    for export, files in rows:
        for f in json.loads(files):
            path = Path(f["path"])
            size = path.stat().st_size if path.exists() else None
            if size != f["bytes"]:
                now = "is gone" if size is None else f"has {size} bytes, not {f['bytes']}"
                raise ValueError(
                    f"source {export!r}: {path} {now} since the last sync; run "
                    f"`mlreport sync {export}` first"
                )


def cost_sums(warehouse: Warehouse, windows: Sequence[Window]) -> pl.DataFrame:
    """Exact (DECIMAL) sums of effective, billed and list cost and row counts per window
    index ``i``, entity, allocation (``direct``, ``shared`` or null), currency and service
    category, with the shared rows' ``shared_split`` (``none`` for sources that are not
    FOCUS exports)."""
    span = [min(w.start for w in windows), max(w.end for w in windows)]
    # Few group keys make the scan cheap: a row is direct when it has an entity, shared when
    # `shared_source` (its source, kept for shared rows only) is set, else unattributed.
    sql = f"""
        SELECT w.i, r.entity, r.shared_source, r.currency, r.service_category,
               sum(r.effective_cost) AS effective, sum(r.billed_cost) AS billed,
               sum(r.list_cost) AS list, count(*) AS n
        FROM (SELECT entity, CASE WHEN allocation = 'shared' THEN source END AS shared_source,
                     currency, service_category, effective_cost, billed_cost, list_cost,
                     charge_period_start
              FROM cost_rows WHERE charge_period_start >= ? AND charge_period_start < ?) r
        JOIN {WINDOWS} w ON r.charge_period_start >= w.ws AND r.charge_period_start < w.we
        GROUP BY ALL
    """
    frame = warehouse.query(sql, span + _params(windows))
    splits = warehouse.query("SELECT export AS shared_source, shared_split FROM cost_exports")
    frame = frame.join(splits, on="shared_source", how="left").with_columns(
        pl.col("shared_split").fill_null("none"),
        pl.when(pl.col("entity").is_not_null())
        .then(pl.lit("direct"))
        .when(pl.col("shared_source").is_not_null())
        .then(pl.lit("shared"))
        .alias("allocation"),
    )
    return frame


def prediction_counts(warehouse: Warehouse, windows: Sequence[Window]) -> pl.DataFrame:
    """Predictions per window index ``i`` and entity: rows of the entity's prediction logs;
    for an entity without a log, the sum of its ``requests`` usage rows."""
    frames = []
    logged: set[str] = set()
    for log in prediction_logs(warehouse):
        logged.add(log.entity)
        sql = (
            f"SELECT w.i, count(*) AS predictions FROM {quote_identifier(log.view)} p "
            f"JOIN {WINDOWS} w ON p.ts >= w.ws AND p.ts < w.we GROUP BY w.i"
        )
        part = warehouse.query(sql, _params(windows))
        frames.append(part.with_columns(pl.lit(log.entity).alias("entity")))
    usage = warehouse.query(
        f"SELECT w.i, u.entity, sum(u.value) AS predictions FROM usage u "
        f"JOIN {WINDOWS} w ON u.ts >= w.ws AND u.ts < w.we "
        "WHERE u.metric = 'requests' AND u.value IS NOT NULL GROUP BY ALL",
        _params(windows),
    )
    frames.append(usage.filter(~pl.col("entity").is_in(sorted(logged))))
    schema = {"i": pl.Int64, "entity": pl.String, "predictions": pl.Float64}
    frames = [f.select([pl.col(c).cast(t) for c, t in schema.items()]) for f in frames]
    out = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return out.group_by(["i", "entity"]).agg(pl.col("predictions").sum())
